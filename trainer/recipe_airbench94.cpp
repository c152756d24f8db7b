// airbench94's published recipe (training.recipe airbench94; docs/training.md has the
// table), K models at once.
#include <algorithm>

#include "common/errors.hpp"
#include "common/schedule.hpp"
#include "recipe.hpp"
#include "recipe_parts.hpp"

namespace lira {
using namespace recipe_parts;
namespace {

// airbench94 (legacy) as published: Nesterov SGD in two groups (BatchNorm biases at 64x
// the learning rate), weight decay converted per group, the LambdaLR warmup/decay factor
// stepped after every step, the whitening bias trained in the first 3 epochs only, and the
// lookahead: every 5 steps ema <- lerp(ema, net, 1 - decay), net <- ema, over every
// floating tensor of the state (BatchNorm statistics too), starting from the state before
// the whitening init; after the last step net <- ema.
class Airbench94Recipe final : public Recipe {
 public:
  Airbench94Recipe(const TrainingConfig& t, Task& task)
      : k_(task.width()), stacked_(task.stacked()), optimizer_(options(), params(t, task), k_, stacked_) {
    for (auto& [name, s] : task.state()) state_.push_back(s);
    auto start = task.state_before_data_init();
    if (start.empty())
      for (auto& s : state_) start.push_back(s.detach().clone());
    if (start.size() != state_.size()) throw Error("airbench94 recipe: the state before whitening does not match");
    ema_ = std::move(start);
  }
  void before_step(const std::vector<LaneStep>& lanes) override {
    lanes_ = lanes;
    std::vector<bool> active, whiten;
    for (size_t k = 0; k < lanes.size(); ++k) {
      const auto& l = lanes[k];
      active.push_back(l.active);
      whiten.push_back(l.active && l.epoch < Airbench94Hyp::kWhitenBiasEpochs);
      factor_[k] = l.active ? airbench94_lr_factor(l.step, l.total) : 0.0;
    }
    moving_ = Moving(active, stacked_, device_);
    whiten_ = Moving(whiten, stacked_, device_);
  }
  // set_to_none, as published: a frozen whitening bias then has no momentum or decay.
  void zero_grad() override { optimizer_.zero_grad(true); }
  void step() override { optimizer_.step(factor_, moving_, whiten_); }
  void after_step() override {
    // After step `done` of `total`: every 5 steps, and at the end.
    std::vector<double> decay(static_cast<size_t>(k_), 1.0);
    std::vector<bool> due(static_cast<size_t>(k_)), last(static_cast<size_t>(k_));
    for (size_t k = 0; k < lanes_.size(); ++k) {
      const int64_t done = lanes_[k].step + 1, total = lanes_[k].total;
      due[k] = lanes_[k].active && done % Airbench94Hyp::kLookaheadEvery == 0;
      if (due[k]) decay[k] = airbench94_lookahead_decay(done, total);
      last[k] = lanes_[k].active && done == total;
    }
    lookahead(decay, due);
    lookahead(std::vector<double>(static_cast<size_t>(k_), 1.0), last);
  }
  void finish() override {}
  void reset(int64_t lane) override { optimizer_.reset(lane); }

 private:
  static Optimizer::Options options() {
    Optimizer::Options o;
    o.momentum = Airbench94Hyp::kMomentum, o.nesterov = true;
    return o;
  }
  std::vector<Param> params(const TrainingConfig& t, Task& task) {
    using H = Airbench94Hyp;
    std::vector<Param> out;
    bool whiten = false;
    for (auto& [name, p] : task.parameters()) {
      Param q;
      q.value = p;
      q.lr_scale = name.find("norm") != std::string::npos ? H::bias_lr() : H::lr();
      q.decay = H::decay(t.batch_size) / q.lr_scale;
      q.whiten_bias = name == "whiten.bias";
      whiten = whiten || q.whiten_bias;
      device_ = p.device();
      out.push_back(q);
    }
    if (!whiten) throw Error("airbench94 recipe: the network has no whiten.bias");
    return out;
  }
  // For the models in `due`: ema <- lerp(ema, state, 1 - decay), state <- ema.
  void lookahead(const std::vector<double>& decay, const std::vector<bool>& due) {
    const Moving m(due, stacked_, device_);
    if (!m.any) return;
    torch::NoGradGuard no_grad;
    // Every model due with one decay (one model, or a pack in step): plain numbers.
    const bool same = std::all_of(decay.begin(), decay.end(), [&](double d) { return d == decay[0]; });
    if (!stacked_ || (m.all && same)) {
      for (size_t i = 0; i < state_.size(); ++i) {
        ema_[i].lerp_(state_[i], 1.0 - decay[0]);
        state_[i].copy_(ema_[i]);
      }
      return;
    }
    std::vector<double> weight;
    for (const double d : decay) weight.push_back(1.0 - d);
    const auto w = torch::tensor(weight, torch::kFloat64).to(device_);
    for (size_t i = 0; i < state_.size(); ++i) {
      const auto moved = ema_[i].lerp(state_[i], per_model(w.to(state_[i].scalar_type()), state_[i].dim()));
      ema_[i] = m.all ? moved : torch::where(per_model(m.on, state_[i].dim()), moved, ema_[i]);
      state_[i].copy_(m.all ? ema_[i] : torch::where(per_model(m.on, state_[i].dim()), ema_[i], state_[i]));
    }
  }

  int64_t k_;
  bool stacked_;
  torch::Device device_ = torch::kCPU;
  Optimizer optimizer_;
  std::vector<torch::Tensor> state_, ema_;
  std::vector<double> factor_ = std::vector<double>(static_cast<size_t>(k_), 0.0);
  std::vector<LaneStep> lanes_;
  Moving moving_, whiten_;
};

}  // namespace

std::unique_ptr<Recipe> make_airbench94_recipe(const TrainingConfig& training, Task& task) {
  return std::make_unique<Airbench94Recipe>(training, task);
}

}  // namespace lira
