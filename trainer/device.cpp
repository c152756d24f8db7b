// Implements the device choice, the BLAS check and torch_info (device.hpp, trainer.hpp).
#include "device.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <string>

#include "common/errors.hpp"
#include "torch_compat.hpp"
#include "trainer.hpp"

namespace lira {

torch::Device resolve_device(const Config& config, int device_index, int workers_on_node) {
  const std::string& wanted = config.training.device;
  const bool have_gpu = torch::cuda::is_available();
  if (wanted == "cuda" && !have_gpu)
    throw ConfigError(std::string("training.device is cuda, but ") +
                      (compat::cuda_compiled() ? "no GPU is visible to this process"
                                               : "this libtorch was built without CUDA (see lira --version); "
                                                 "build against a CUDA libtorch or use training.device: cpu"));
  if (wanted == "cpu" || !have_gpu) return torch::kCPU;
  const int count = static_cast<int>(torch::cuda::device_count());
  const int64_t per_gpu = config.parallel.ranks_per_gpu;
  if (workers_on_node > count * per_gpu)
    throw ConfigError(std::to_string(workers_on_node) + " worker ranks on this node, but " + std::to_string(count) +
                      " GPU(s) x parallel.ranks_per_gpu " + std::to_string(per_gpu) + " = " +
                      std::to_string(count * per_gpu) + " slots: start fewer ranks per node or raise "
                      "parallel.ranks_per_gpu");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device_index % count));
}

DeviceChoice choose_device(const Config& config, int device_index, int workers_on_node) {
  const auto d = resolve_device(config, device_index, workers_on_node);
  return {d.is_cuda(), d.is_cuda() ? static_cast<int>(d.index()) : -1, d.str()};
}

// Debian's libtorch does its CPU matrix products through libblas.so.3, which is the
// unoptimised reference BLAS unless an optimised one is installed: profiling the
// quickstart found 97% of its time in the reference sgemm_, 19x slower than OpenBLAS
// (docs/performance.md). Says so once, with the fix.
void warn_if_reference_blas() {
  static bool checked = false;
  if (checked) return;
  checked = true;
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (!sgemm || dladdr(sgemm, &info) == 0 || !info.dli_fname) return;
  std::error_code ec;
  const auto real = std::filesystem::canonical(info.dli_fname, ec).string();
  if (!ec && real.find("/blas/libblas.so") != std::string::npos)
    spdlog::warn("CPU training uses the reference BLAS ({}), ~10x slower than an optimised one: install "
                 "libopenblas0-openmp (scripts/install-deps.sh does)",
                 real);
}

TorchInfo torch_info() {
  TorchInfo info;
  info.version = compat::torch_version();
  info.cuda_compiled = compat::cuda_compiled();
  info.cuda_available = info.cuda_compiled && torch::cuda::is_available();
  info.gpus = info.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  std::string p = at::get_parallel_info();
  for (auto& ch : p)
    if (ch == '\n') ch = ';';
  info.parallel_info = p;
  return info;
}

}  // namespace lira
