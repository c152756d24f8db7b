// The torch-free face of the trainer: what the rest of lira needs from libtorch, without
// including its (slow to compile) headers.
#pragma once

#include <memory>
#include <string>

#include "common/config.hpp"
#include "dataset.hpp"
#include "worker/gang.hpp"
#include "worker/job_runner.hpp"

namespace lira {

// A JobRunner that trains config.model with config.training on the IN candidates of each
// job and evaluates every candidate under every query. `threads` is the intra-op thread
// count (>= 1); on CUDA the runner uses GPU `device_index` modulo the GPUs visible. The
// dataset is shared by every job the runner runs (and copied to the device once).
// Throws ConfigError if training.device asks for CUDA that is not there, or if
// `workers_on_node` (> 0) exceeds the GPUs x parallel.ranks_per_gpu of a CUDA node.
//
// With a `gang` of k > 1 ranks (parallel.ranks_per_model), every rank of the gang runs
// the same job: identical initial weights (broadcast from the leader), each rank the k-th
// shard of every batch, gradients summed over the gang (all-reduce over flat buckets),
// optimizer steps in lockstep. Only the leader evaluates and returns signals; the other
// ranks return an empty result. The gang outlives the runner.
std::unique_ptr<JobRunner> make_torch_runner(const Config& config, std::shared_ptr<const Dataset> dataset,
                                             int threads, int device_index = 0, GangComm* gang = nullptr,
                                             int workers_on_node = 0);

struct TorchInfo {
  std::string version;       // "1.13.0"
  bool cuda_compiled = false;
  bool cuda_available = false;
  int gpus = 0;
  std::string parallel_info;  // one line: threads backend
  std::string nccl;           // NCCL version of the gang backend, "" when not built in
};
TorchInfo torch_info();

}  // namespace lira
