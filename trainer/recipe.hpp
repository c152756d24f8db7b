// A training recipe: what the one job loop (job_loop.cpp) delegates about optimization --
// the optimizer and its parameter groups, each model's learning rate at each step,
// clearing the gradients, and what follows a step (EMA, lookahead). Every recipe has a
// model axis: the loop trains K >= 1 models at once (a pack), each with its own step
// count, learning rate, optimizer state and averages, and a model that does not step
// (its training is over, or it stopped early) keeps all of them exactly.
// The recipes by name and what each fixes are in common/recipes.hpp (torch-free: the
// config checks and the data side read it too); their optimization is here:
//  - recipe_generic.cpp: the training.* keys (optimizer, schedule, EMA), for every network
//    (and the official LiRA recipe, which fixes those keys' values);
//  - recipe_airbench94.cpp: airbench94's published recipe, item by item.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "common/config.hpp"
#include "task.hpp"

namespace lira {

// Where one model of the K stands at a step.
struct LaneStep {
  bool active = false;   // it steps now
  int64_t step = 0;      // the steps it has taken (0-based index of this one)
  int64_t total = 0;     // its steps in all
  double progress = -1;  // the share of its run's training examples seen before this step; -1: count steps
  int64_t epoch = 0;     // its epoch
};

class Recipe {
 public:
  virtual ~Recipe() = default;
  // Before a step: each model's learning rate, and which models move.
  virtual void before_step(const std::vector<LaneStep>& lanes) = 0;
  virtual void zero_grad() = 0;
  // Moves the models that are active at this step.
  virtual void step() = 0;
  // After the step: the averages (EMA, lookahead) of the models that stepped.
  virtual void after_step() = 0;
  // After the last step: the weights to evaluate (EMA) are put in place.
  virtual void finish() = 0;
  // Model `lane` left the pack (its loss was not finite): its optimizer state is cleared.
  virtual void reset(int64_t lane) = 0;
};

// The config's recipe (training.recipe; common/recipes.hpp) for the task's K models,
// which must be built. Each recipe is one file (recipe_<name>.cpp), made of the K-wide
// parts in recipe_parts.hpp and registered in recipe.cpp.
std::unique_ptr<Recipe> make_recipe(const TrainingConfig& training, const ModelConfig& model, Task& task);
std::unique_ptr<Recipe> make_generic_recipe(const TrainingConfig& training, Task& task);
std::unique_ptr<Recipe> make_airbench94_recipe(const TrainingConfig& training, Task& task);

// airbench94's published hyperparameters and their conversions to PyTorch's SGD.
struct Airbench94Hyp {
  static constexpr double kLr = 11.5, kMomentum = 0.85, kWeightDecay = 0.0153, kBiasScaler = 64.0;
  static constexpr int64_t kWhitenBiasEpochs = 3, kLookaheadEvery = 5;
  // lr / (1024 (1 + 1 / (1 - momentum))): the "kilostep scale" of the published code.
  static double lr() { return kLr / kilostep_scale(); }
  static double bias_lr() { return lr() * kBiasScaler; }
  // The weight decay wd (0.0153 batch / kilostep scale), passed to SGD as wd / lr per group.
  static double decay(int64_t batch_size) { return kWeightDecay * static_cast<double>(batch_size) / kilostep_scale(); }
  static double kilostep_scale() { return 1024.0 * (1.0 + 1.0 / (1.0 - kMomentum)); }
};

}  // namespace lira
