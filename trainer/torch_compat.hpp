// The libtorch-version-dependent bits, in one place. lira builds against Debian's
// libtorch 1.13 (CPU) and against libtorch 2.x with CUDA from a PyTorch installation;
// any API that differs between them goes through this header.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <string>

namespace lira::compat {

inline std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

// Whether this libtorch was built with CUDA (not whether a GPU is present).
inline bool cuda_compiled() { return at::hasCUDA(); }

}  // namespace lira::compat
