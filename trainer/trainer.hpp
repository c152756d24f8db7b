// The torch-free face of the trainer: what the rest of lira needs from libtorch, without
// including its (slow to compile) headers.
#pragma once

#include <memory>
#include <string>

#include "common/config.hpp"
#include "dataset.hpp"
#include "worker/job_runner.hpp"

namespace lira {

// A JobRunner that trains config.model with config.training on the IN candidates of each
// job and evaluates every candidate under every query. `threads` is the intra-op thread
// count (>= 1); on CUDA the runner uses GPU `device_index` modulo the GPUs visible. The
// dataset is shared by every job the runner runs (and copied to the device once).
// Throws ConfigError if training.device asks for CUDA that is not there.
std::unique_ptr<JobRunner> make_torch_runner(const Config& config, std::shared_ptr<const Dataset> dataset,
                                             int threads, int device_index = 0);

struct TorchInfo {
  std::string version;       // "1.13.0"
  bool cuda_compiled = false;
  bool cuda_available = false;
  int gpus = 0;
  std::string parallel_info;  // one line: threads backend
};
TorchInfo torch_info();

}  // namespace lira
