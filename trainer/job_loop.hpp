// The one job loop: trains a Task's model for one job and evaluates it (task.hpp).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>

#include "common/config.hpp"
#include "gang_sync.hpp"
#include "orchestrator/messages.hpp"
#include "task.hpp"

namespace lira {

struct LoopOptions {
  const TrainingConfig* training = nullptr;
  torch::Device device = torch::kCPU;
  int threads = 1;
  GangSync* gang = nullptr;  // set when training in a gang of more than one rank
  const std::function<void()>* progress = nullptr;  // called at every optimizer step, if set
};

// Seeds torch with job.seed, builds the task's model for the job's IN candidates,
// broadcasts the leader's initial weights over a gang, trains training.epochs epochs
// (schedule, accumulation, clipping, EMA, NaN guard) and, on the leader, evaluates.
// Throws TrainError for a keep row of the wrong length or a loss that is not finite.
ModelResult run_job(const LoopOptions& options, Task& task, const JobAssignment& job);

}  // namespace lira
