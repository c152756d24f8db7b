// A training recipe: what the one job loop (job_loop.cpp) delegates about optimization --
// the optimizer and its parameter groups, the learning rate of each step, clearing the
// gradients, and what follows a step (EMA, lookahead) or starts an epoch (freezing).
//  - the generic recipe: the training.* keys (optimizer, schedule, EMA), for every arch;
//  - airbench94's published recipe, item by item (docs/training.md has the table).
#pragma once

#include <torch/torch.h>

#include <memory>

#include "common/config.hpp"
#include "task.hpp"

namespace lira {

class Recipe {
 public:
  virtual ~Recipe() = default;
  virtual void begin_epoch(int64_t epoch) = 0;
  // Before step `step` (0-based) of `total`; `progress` is the share of the run's
  // training examples seen before this step.
  virtual void before_step(int64_t step, int64_t total, double progress) = 0;
  virtual void zero_grad() = 0;
  virtual void step() = 0;
  // After `done` steps of `total`.
  virtual void after_step(int64_t done, int64_t total) = 0;
  // After the last step: the weights to evaluate (EMA) are put in place.
  virtual void finish() = 0;
  virtual torch::optim::Optimizer& optimizer() = 0;
};

// The recipe for this architecture: airbench94's for model.arch airbench94, else the
// generic one. The task's model must be built.
std::unique_ptr<Recipe> make_recipe(const TrainingConfig& training, const ModelConfig& model, Task& task);

// airbench94's published hyperparameters and their conversions to PyTorch's SGD.
struct Airbench94Hyp {
  static constexpr double kLr = 11.5, kMomentum = 0.85, kWeightDecay = 0.0153, kBiasScaler = 64.0;
  static constexpr double kLabelSmoothing = 0.2;
  static constexpr int64_t kWhitenBiasEpochs = 3, kLookaheadEvery = 5;
  // lr / (1024 (1 + 1 / (1 - momentum))): the "kilostep scale" of the published code.
  static double lr() { return kLr / kilostep_scale(); }
  static double bias_lr() { return lr() * kBiasScaler; }
  // The weight decay wd (0.0153 batch / kilostep scale), passed to SGD as wd / lr per group.
  static double decay(int64_t batch_size) { return kWeightDecay * static_cast<double>(batch_size) / kilostep_scale(); }
  static double kilostep_scale() { return 1024.0 * (1.0 + 1.0 / (1.0 - kMomentum)); }
};

}  // namespace lira
