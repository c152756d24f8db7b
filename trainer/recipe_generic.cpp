// The generic recipe (training.recipe generic, and official, whose fixed values are in
// the config by then: common/recipes.cpp): the training.* keys -- optimizer, schedule,
// weight decay on weights, EMA -- for every network, K models at once.
#include "common/schedule.hpp"
#include "recipe.hpp"
#include "recipe_parts.hpp"

namespace lira {
using namespace recipe_parts;
namespace {

class GenericRecipe final : public Recipe {
 public:
  GenericRecipe(const TrainingConfig& t, Task& task)
      : t_(t), k_(task.width()), stacked_(task.stacked()), optimizer_(options(t), params(t, task), k_, stacked_) {
    if (t.ema > 0) {
      std::vector<torch::Tensor> state;
      for (auto& [name, p] : task.parameters()) state.push_back(p);
      for (auto& b : task.buffers())
        if (b.is_floating_point()) state.push_back(b);
      ema_ = std::make_unique<WeightAverage>(state, t.ema, k_, stacked_);
    }
  }
  void before_step(const std::vector<LaneStep>& lanes) override {
    std::vector<bool> active;
    for (size_t k = 0; k < lanes.size(); ++k) {
      const auto& l = lanes[k];
      active.push_back(l.active);
      // The official schedule counts examples, as tensorflow/privacy's train.py.
      rate_[k] = !l.active                                  ? 0.0
                 : t_.schedule == "official" && l.progress >= 0 ? learning_rate_at(t_, l.progress)
                                                                : learning_rate(t_, l.step, l.total);
    }
    moving_ = Moving(active, stacked_, device());
  }
  void zero_grad() override { optimizer_.zero_grad(false); }
  void step() override { optimizer_.step(rate_, moving_, moving_); }
  void after_step() override {
    if (ema_) ema_->update(moving_);
  }
  void finish() override {
    if (ema_) ema_->apply();
  }
  void reset(int64_t lane) override { optimizer_.reset(lane); }

 private:
  static Optimizer::Options options(const TrainingConfig& t) {
    Optimizer::Options o;
    o.kind = t.optimizer == "adam" || t.optimizer == "adamw" ? t.optimizer : "sgd";
    o.momentum = t.momentum, o.nesterov = t.nesterov;
    return o;
  }
  std::vector<Param> params(const TrainingConfig& t, Task& task) {
    std::vector<Param> out;
    for (auto& [name, p] : task.parameters()) {
      out.push_back({p, 1.0, decay_of(t, p, task.stacked()), false});
      device_ = p.device();
    }
    return out;
  }
  torch::Device device() const { return device_; }

  const TrainingConfig& t_;
  int64_t k_;
  bool stacked_;
  torch::Device device_ = torch::kCPU;
  Optimizer optimizer_;
  std::unique_ptr<WeightAverage> ema_;
  std::vector<double> rate_ = std::vector<double>(static_cast<size_t>(k_), 0.0);
  Moving moving_;
};

}  // namespace

std::unique_ptr<Recipe> make_generic_recipe(const TrainingConfig& training, Task& task) {
  return std::make_unique<GenericRecipe>(training, task);
}

}  // namespace lira
