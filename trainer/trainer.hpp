// The torch-free face of the trainer: what the rest of lira needs from libtorch, without
// including its (slow to compile) headers.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/config.hpp"
#include "data/dataset.hpp"
#include "common/gang_comm.hpp"
#include "worker/job_runner.hpp"

namespace lira {

// Everything a trainer needs besides the job: one struct, so adding a field does not
// change every signature between app/, the trainer module and the tasks.
struct TrainerContext {
  Config config;
  std::shared_ptr<const Dataset> dataset;  // shared by every job the runner runs
  int threads = 1;                         // intra-op threads (>= 1)
  int device_index = 0;                    // this worker's index on its node: GPU index % GPUs visible
  int workers_on_node = 0;                 // > 0: checked against GPUs x parallel.ranks_per_gpu
  // A data-parallel gang of more than one rank (parallel.ranks_per_model), or null. `gang`
  // carries host-memory collectives (MPI); `tensor_gang` the gradients and weights: the
  // same gang, or an NCCL gang over it on CUDA (device memory). app/ builds both; the
  // trainer never sees MPI or NCCL. Both outlive the runner.
  GangComm* gang = nullptr;
  GangComm* tensor_gang = nullptr;
  // Called at every training step and evaluation batch, on the job's thread: the job
  // process's beats to its rank, which kills a job that stops beating (a hang). May be empty.
  std::function<void()> progress = nullptr;
};

// A JobRunner that trains config.model with config.training on the IN candidates of each
// job and evaluates every candidate under every query: a classifier task for image and
// table data, a language-model task for text (trainer/task.hpp), both through the one job
// loop (trainer/job_loop.cpp). Throws ConfigError if training.device asks for CUDA that
// is not there, or if workers_on_node exceeds the GPUs x parallel.ranks_per_gpu of a
// CUDA node.
//
// With a gang, every rank of the gang runs the same job: identical initial weights
// (broadcast from the leader), each rank a shard of every batch, gradients summed over
// the gang, optimizer steps in lockstep. Only the leader evaluates and returns signals;
// the other ranks return an empty result.
// `lira signals` (docs/privacy.md): the signals and accuracies of a TorchScript classifier
// trained elsewhere (model_path, loaded as model.arch torchscript without reinit) on the
// context's candidates under its queries, as a trained model's; `membership` [N] is its
// keep row. No training. Throws ConfigError for text data.
ModelResult external_signals(const TrainerContext& context, const std::string& model_path,
                             const std::vector<uint8_t>& membership);

std::unique_ptr<JobRunner> make_torch_runner(const TrainerContext& context);

// Where a worker's jobs run: the CPU, or CUDA device `index` of this process.
struct DeviceChoice {
  bool cuda = false;
  int index = -1;
  std::string name;  // "cpu", "cuda:1"
};
// The device make_torch_runner would use for this context (same checks, same errors).
DeviceChoice choose_device(const Config& config, int device_index, int workers_on_node);

struct TorchInfo {
  std::string version;       // "1.13.0"
  bool cuda_compiled = false;
  bool cuda_available = false;
  int gpus = 0;
  std::string parallel_info;  // one line: threads backend
};
TorchInfo torch_info();

}  // namespace lira
