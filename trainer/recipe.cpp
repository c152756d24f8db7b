// Implements the two recipes (recipe.hpp).
#include "recipe.hpp"

#include <cmath>

#include "common/errors.hpp"
#include "common/schedule.hpp"

namespace lira {
namespace {

// Exponential moving average of parameters and floating-point buffers, debiased as
// objax's ExponentialMovingAverage(debias=True) in the official LiRA code.
class WeightAverage {
 public:
  WeightAverage(std::vector<torch::Tensor> live, double decay) : live_(std::move(live)), decay_(decay) {
    torch::NoGradGuard no_grad;
    for (auto& t : live_) shadow_.push_back(torch::zeros_like(t));
  }
  void update() {
    torch::NoGradGuard no_grad;
    ++updates_;
    for (size_t i = 0; i < live_.size(); ++i) shadow_[i].mul_(decay_).add_(live_[i].detach(), 1.0 - decay_);
  }
  // Replaces the live values by the debiased averages.
  void apply() {
    if (updates_ == 0) return;
    torch::NoGradGuard no_grad;
    const double debias = 1.0 - std::pow(decay_, static_cast<double>(updates_));
    for (size_t i = 0; i < live_.size(); ++i) live_[i].copy_(shadow_[i] / debias);
  }

 private:
  std::vector<torch::Tensor> live_, shadow_;
  double decay_;
  int64_t updates_ = 0;
};

class GenericRecipe final : public Recipe {
 public:
  GenericRecipe(const TrainingConfig& t, Task& task) : t_(t), optimizer_(make_optimizer(t, task.parameters())) {
    if (t.ema > 0) {
      std::vector<torch::Tensor> state;
      for (auto& [name, p] : task.parameters()) state.push_back(p);
      for (auto& b : task.buffers())
        if (b.is_floating_point()) state.push_back(b);
      ema_ = std::make_unique<WeightAverage>(state, t.ema);
    }
  }
  void begin_epoch(int64_t) override {}
  void before_step(int64_t step, int64_t total, double progress) override {
    // The official schedule counts examples, as tensorflow/privacy's train.py.
    const double lr = t_.schedule == "official" && progress >= 0 ? learning_rate_at(t_, progress)
                                                                 : learning_rate(t_, step, total);
    for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
  }
  void zero_grad() override { optimizer_->zero_grad(); }
  void step() override { optimizer_->step(); }
  void after_step(int64_t, int64_t) override {
    if (ema_) ema_->update();
  }
  void finish() override {
    if (ema_) ema_->apply();
  }
  torch::optim::Optimizer& optimizer() override { return *optimizer_; }

 private:
  const TrainingConfig& t_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<WeightAverage> ema_;
};

// airbench94 (legacy) as published: Nesterov SGD in two groups (BatchNorm biases at 64x
// the learning rate), weight decay converted per group, the LambdaLR warmup/decay factor
// stepped after every step, the whitening bias trained in the first 3 epochs only, and the
// lookahead: every 5 steps ema <- lerp(ema, net, 1 - decay), net <- ema, over every
// floating tensor of the state (BatchNorm statistics too), starting from the state before
// the whitening init; after the last step net <- ema.
class Airbench94Recipe final : public Recipe {
 public:
  Airbench94Recipe(const TrainingConfig& t, Task& task) {
    using H = Airbench94Hyp;
    const double wd = H::decay(t.batch_size);
    std::vector<torch::Tensor> norm_biases, others;
    for (auto& [name, p] : task.parameters()) {
      (name.find("norm") != std::string::npos ? norm_biases : others).push_back(p);
      if (name == "whiten.bias") whiten_bias_ = p;
      params_.push_back(p);
    }
    if (!whiten_bias_.defined()) throw Error("airbench94 recipe: the network has no whiten.bias");
    base_lr_ = {H::bias_lr(), H::lr()};
    std::vector<torch::optim::OptimizerParamGroup> groups;
    auto options = [&](double lr) {
      return std::make_unique<torch::optim::SGDOptions>(
          torch::optim::SGDOptions(lr).momentum(H::kMomentum).nesterov(true).weight_decay(wd / lr));
    };
    groups.emplace_back(norm_biases, options(base_lr_[0]));
    groups.emplace_back(others, options(base_lr_[1]));
    optimizer_ = std::make_unique<torch::optim::SGD>(groups, torch::optim::SGDOptions(H::lr()));
    for (auto& [name, s] : task.state()) state_.push_back(s);
    auto start = task.state_before_data_init();
    if (start.empty())
      for (auto& s : state_) start.push_back(s.detach().clone());
    if (start.size() != state_.size()) throw Error("airbench94 recipe: the state before whitening does not match");
    ema_ = std::move(start);
  }
  void begin_epoch(int64_t epoch) override {
    whiten_bias_.set_requires_grad(epoch < Airbench94Hyp::kWhitenBiasEpochs);
  }
  void before_step(int64_t step, int64_t total, double) override {
    const double f = airbench94_lr_factor(step, total);
    auto& groups = optimizer_->param_groups();
    for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(base_lr_[g] * f);
  }
  // set_to_none, as published: a frozen whitening bias then has no gradient, so SGD
  // leaves it (no momentum, no decay) -- a zeroed gradient would still move it.
  void zero_grad() override {
    for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  }
  void step() override { optimizer_->step(); }
  void after_step(int64_t done, int64_t total) override {
    if (done % Airbench94Hyp::kLookaheadEvery == 0) lookahead(airbench94_lookahead_decay(done, total));
    if (done == total) lookahead(1.0);
  }
  void finish() override {}
  torch::optim::Optimizer& optimizer() override { return *optimizer_; }

 private:
  void lookahead(double decay) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < state_.size(); ++i) {
      ema_[i].lerp_(state_[i], 1.0 - decay);
      state_[i].copy_(ema_[i]);
    }
  }
  std::vector<torch::Tensor> params_, state_, ema_;
  torch::Tensor whiten_bias_;
  std::vector<double> base_lr_;
  std::unique_ptr<torch::optim::SGD> optimizer_;
};

}  // namespace

std::unique_ptr<Recipe> make_recipe(const TrainingConfig& training, const ModelConfig& model, Task& task) {
  if (model.arch == "airbench94") return std::make_unique<Airbench94Recipe>(training, task);
  return std::make_unique<GenericRecipe>(training, task);
}

}  // namespace lira
