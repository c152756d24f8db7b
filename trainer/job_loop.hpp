// The one job loop: trains a Task's K >= 1 models at once -- one job, or a pack of K
// jobs (parallel.models_per_job) -- and evaluates them (task.hpp).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "common/config.hpp"
#include "gang_sync.hpp"
#include "orchestrator/messages.hpp"
#include "task.hpp"

namespace lira {

// Sees the training of one model (K = 1) from outside, for the step-equivalence tool
// (tests/tools/recipe_steps).
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

// Trains the jobs' models at once (K = jobs.size(); the task refuses a K its models
// cannot take) and evaluates them; one message per job, in order: its ModelResult, or a
// JobFailure for a model whose training loss stopped being finite (it left the pack; the
// others were not disturbed). Each model is built from its own seed and draws its batches
// and augmentations as it would alone; the K step together, each on its own batches with
// its own learning rate, epochs and optimizer state (the recipe: optimizer, schedule, EMA
// or lookahead; accumulation, per-model gradient clipping, NaN guard), and a model whose
// run is over sits out while the others finish. In a gang the leader's initial weights
// (all K models') are broadcast, every rank trains its shard of each model's batch, and
// only the leader evaluates. With early stopping, each model's
// validation loss is taken after each of its epochs; a model stops after
// `early_stopping` epochs without a new best, and its best epoch's weights are restored
// before the recipe's finish. Under DP-SGD (options.dp enabled; K = 1) each step trains
// on a Poisson-sampled batch with clipped per-example gradients and Gaussian noise, and
// the result carries the epsilon the model spent.
// Throws TrainError for a keep row of the wrong length, ConfigError for what the config
// cannot train.
std::vector<WorkerMessage> run_jobs(const LoopOptions& options, Task& task, const std::vector<JobAssignment>& jobs);

// One job (K = 1): its result, or TrainError when its training loss stopped being finite.
ModelResult run_job(const LoopOptions& options, Task& task, const JobAssignment& job);

}  // namespace lira
