// The libtorch-version-dependent bits, in one place. lira builds against Debian's
// libtorch 1.13 (CPU) and against libtorch 2.x with CUDA from a PyTorch installation;
// any API that differs between them goes through this header.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <array>
#include <optional>
#include <string>

namespace lira::compat {

inline std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

// Whether this libtorch was built with CUDA (not whether a GPU is present).
inline bool cuda_compiled() { return at::hasCUDA(); }

// bf16 autocast for CUDA ops on this thread, while the guard lives. libtorch 1.x has
// at::autocast::set_enabled / set_autocast_gpu_dtype; 2.x takes the device type.
class CudaAutocast {
 public:
  explicit CudaAutocast(bool on) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR >= 2
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
  }
  ~CudaAutocast() {
    if (!on_) return;
#if TORCH_VERSION_MAJOR >= 2
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  bool on_;
};

// A Conv2d's explicit zero padding (rows, columns), or nothing for padding "same"/"valid".
// The options hold a c10::variant in libtorch 1.x and a std::variant in 2.x: get_if is
// found by argument-dependent lookup in either namespace.
inline std::optional<std::array<int64_t, 2>> conv2d_explicit_padding(const torch::nn::detail::ConvNdOptions<2>& options) {
  const auto* p = get_if<torch::ExpandingArray<2>>(&options.padding());
  if (!p) return std::nullopt;
  return std::array<int64_t, 2>{(**p)[0], (**p)[1]};
}

}  // namespace lira::compat
