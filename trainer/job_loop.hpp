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

// Sees the training from outside, for the step-equivalence tool (tests/tools/recipe_steps).
struct LoopObserver {
  virtual ~LoopObserver() = default;
  virtual void built(Task& task) = 0;  // model built, before the first step
  // After step `step` (0-based): the step's summed loss over `items` loss terms.
  virtual void stepped(Task& task, int64_t step, double loss_sum, double items) = 0;
  virtual void finished(Task& task) = 0;  // after the last step and the final weights
};

struct LoopOptions {
  const TrainingConfig* training = nullptr;
  const ModelConfig* model = nullptr;  // picks the recipe (recipe.hpp)
  torch::Device device = torch::kCPU;
  int threads = 1;
  GangSync* gang = nullptr;  // set when training in a gang of more than one rank
  const std::function<void()>* progress = nullptr;  // called at every optimizer step, if set
  LoopObserver* observer = nullptr;
  const DpConfig* dp = nullptr;  // DP-SGD when set and enabled (dp_sgd.hpp)
  // Early stopping (defense.early_stopping > 0): patience in epochs on the task's
  // validation loss; 0 = off.
  int64_t early_stopping = 0;
};

// Seeds torch with job.seed, builds the task's model for the job's IN candidates,
// broadcasts the leader's initial weights over a gang, trains training.epochs epochs
// (the recipe: optimizer, schedule, EMA or lookahead; accumulation, clipping, NaN guard)
// and, on the leader, evaluates. With early stopping, the task's validation loss is taken
// after every epoch; training ends after `early_stopping` epochs without a new best, and
// the best epoch's weights are restored before the recipe's finish. Under DP-SGD (options.dp enabled) each step trains on a
// Poisson-sampled batch with clipped per-example gradients and Gaussian noise, and the
// result carries the epsilon the model spent.
// Throws TrainError for a keep row of the wrong length or a loss that is not finite.
ModelResult run_job(const LoopOptions& options, Task& task, const JobAssignment& job);

}  // namespace lira
