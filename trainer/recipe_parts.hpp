// The K-wide pieces every recipe (recipe.hpp) is made of: the optimizer with a rate and
// a step count per model, the per-model weight average, and the mask of the models that
// move. The state is the task's: K models' tensors stacked on a leading model axis
// ([K, ...], a pack), or one model's own tensors (K = 1, not stacked). Every update is
// written once for both: when the models' rates differ they are tensors broadcast over
// the model axis; with a single model, or a pack whose models step in step, they are
// plain numbers and the arithmetic is torch's own optimizers', so one model trains
// bitwise as it did with torch::optim.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "task.hpp"

namespace lira {
namespace recipe_parts {

// [K] -> [K, 1, ...] to broadcast over a tensor of `dims` dimensions.
inline torch::Tensor per_model(const torch::Tensor& v, int64_t dims) {
  std::vector<int64_t> shape(static_cast<size_t>(std::max<int64_t>(dims, 1)), 1);
  shape[0] = v.size(0);
  return v.view(shape);
}

inline bool all_of(const std::vector<bool>& v) { return std::all_of(v.begin(), v.end(), [](bool b) { return b; }); }
inline bool any_of(const std::vector<bool>& v) { return std::any_of(v.begin(), v.end(), [](bool b) { return b; }); }

// Which of the K models a step moves, on the device for a stacked state.
struct Moving {
  Moving() = default;
  Moving(const std::vector<bool>& v, bool stacked, torch::Device device) : host(v), all(all_of(v)), any(any_of(v)) {
    if (stacked && !all && any)
      on = torch::tensor(std::vector<int64_t>(v.begin(), v.end()), torch::kInt64).to(device).gt(0);
  }
  std::vector<bool> host;  // [K]
  torch::Tensor on;        // [K] bool on the device, when some but not all move
  bool all = true, any = true;
};

// Weight decay on weights of two or more dimensions (not counting the model axis) only,
// unless training.decay_all: the generic recipe's rule.
inline double decay_of(const TrainingConfig& t, const torch::Tensor& p, bool stacked) {
  return t.decay_all || p.dim() - (stacked ? 1 : 0) >= 2 ? t.weight_decay : 0.0;
}

// One parameter and its optimizer settings: its learning rate is lr_scale x its model's
// rate of the step, its weight decay `decay` (as torch's per-group weight_decay).
struct Param {
  torch::Tensor value;
  double lr_scale = 1, decay = 0;
  bool whiten_bias = false;  // airbench94's: moves in a model's first epochs only
};

// Torch's SGD (momentum, Nesterov, no dampening), Adam and AdamW (betas 0.9/0.999, eps
// 1e-8) with a learning rate and a step count per model. A model that does not move at a
// step keeps its parameters and optimizer state exactly, as torch's optimizers skip a
// parameter without a gradient.
class Optimizer {
 public:
  struct Options {
    std::string kind = "sgd";  // sgd | adam | adamw
    double momentum = 0;
    bool nesterov = false;
  };
  Optimizer(Options o, std::vector<Param> params, int64_t k, bool stacked)
      : o_(std::move(o)),
        params_(std::move(params)),
        buf_(params_.size()),
        sq_(params_.size()),
        steps_(static_cast<size_t>(k), 0),
        stacked_(stacked) {}

  // rate[k]: model k's rate this step; moving: the models that move; whiten: those whose
  // whitening bias moves (airbench94).
  void step(const std::vector<double>& rate, const Moving& moving, const Moving& whiten) {
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < steps_.size(); ++k) steps_[k] += moving.host[k];
    const StepRates for_moving = rates_of(rate, moving);
    StepRates for_whiten;
    bool whiten_rates = false;
    for (size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i].value;
      const bool w = params_[i].whiten_bias;
      const Moving& m = w ? whiten : moving;
      if (!p.grad().defined() || !m.any) continue;
      if (w && !whiten_rates) for_whiten = rates_of(rate, whiten), whiten_rates = true;
      const StepRates& r = w ? for_whiten : for_moving;
      if (m.all) {
        update(i, r);
        continue;
      }
      const auto keep = per_model(m.on.logical_not(), p.dim());
      const auto old_p = p.clone();
      const auto old_buf = buf_[i].defined() ? buf_[i].clone() : torch::Tensor();
      const auto old_sq = sq_[i].defined() ? sq_[i].clone() : torch::Tensor();
      update(i, r);
      p.copy_(torch::where(keep, old_p, p));
      if (old_buf.defined()) buf_[i].copy_(torch::where(keep, old_buf, buf_[i]));
      if (old_sq.defined()) sq_[i].copy_(torch::where(keep, old_sq, sq_[i]));
    }
  }
  void zero_grad(bool to_none) {
    for (auto& p : params_) {
      if (to_none) {
        p.value.mutable_grad() = torch::Tensor();
      } else if (p.value.grad().defined()) {  // zeroed in place: a fresh gradient each step costs page faults
        p.value.mutable_grad().detach_();
        p.value.mutable_grad().zero_();
      }
    }
  }
  void reset(int64_t k) {
    torch::NoGradGuard no_grad;
    for (auto* v : {&buf_, &sq_})
      for (auto& t : *v)
        if (t.defined()) lane_of(t, k, stacked_).zero_();
    steps_[static_cast<size_t>(k)] = 0;
  }

 private:
  // A step's rates, made once per step: `uniform` when every moving model has the same
  // rate and step count -- then plain numbers, and the arithmetic is one model's alone
  // (torch's own) -- else [K] float64 tensors on the device, broadcast over the model axis.
  struct StepRates {
    bool uniform = true;
    double lr = 0, bc1 = 1, bc2 = 1;
    torch::Tensor lr_t, bc1_t, sqrt_bc2_t;
  };
  StepRates rates_of(const std::vector<double>& rate, const Moving& m) const {
    static constexpr double b1 = 0.9, b2 = 0.999;
    const auto correction = [](double beta, int64_t steps) {
      return 1.0 - std::pow(beta, static_cast<double>(std::max<int64_t>(steps, 1)));
    };
    StepRates r;
    size_t first = 0;
    while (first + 1 < rate.size() && !m.host[first]) ++first;
    for (size_t k = 0; k < rate.size(); ++k)
      if (m.host[k] && (rate[k] != rate[first] || steps_[k] != steps_[first])) r.uniform = false;
    r.uniform = r.uniform || !stacked_;
    if (r.uniform) {
      r.lr = rate[first], r.bc1 = correction(b1, steps_[first]), r.bc2 = correction(b2, steps_[first]);
      return r;
    }
    const auto device = params_.front().value.device();
    std::vector<double> bc1, sqrt_bc2;
    for (const auto s : steps_) bc1.push_back(correction(b1, s)), sqrt_bc2.push_back(std::sqrt(correction(b2, s)));
    r.lr_t = torch::tensor(rate, torch::kFloat64).to(device);
    if (o_.kind != "sgd") {
      r.bc1_t = torch::tensor(bc1, torch::kFloat64).to(device);
      r.sqrt_bc2_t = torch::tensor(sqrt_bc2, torch::kFloat64).to(device);
    }
    return r;
  }
  void update(size_t i, const StepRates& r) {
    auto& p = params_[i].value;
    const double wd = params_[i].decay, scale = params_[i].lr_scale, lr = r.lr * scale;
    const auto spread = [&](const torch::Tensor& v) { return per_model(v.to(p.scalar_type()), p.dim()); };
    const torch::Tensor lr_t = r.uniform ? torch::Tensor() : spread(r.lr_t * scale);
    torch::Tensor g = p.grad();
    if (o_.kind == "sgd") {
      if (wd != 0) g = g.add(p, wd);
      if (o_.momentum != 0) {
        if (!buf_[i].defined()) {
          buf_[i] = g.clone();
        } else {
          buf_[i].mul_(o_.momentum).add_(g);
        }
        g = o_.nesterov ? g.add(buf_[i], o_.momentum) : buf_[i];
      }
      if (r.uniform) {
        p.add_(g, -lr);
      } else {
        p.addcmul_(lr_t, g, -1.0);  // p -= lr x g, without a temporary
      }
      return;
    }
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    if (o_.kind == "adamw") {
      if (wd != 0 && r.uniform) p.mul_(1.0 - lr * wd);
      if (wd != 0 && !r.uniform) p.mul_(1.0 - lr_t * wd);
    } else if (wd != 0) {
      g = g.add(p, wd);
    }
    if (!buf_[i].defined()) buf_[i] = torch::zeros_like(p), sq_[i] = torch::zeros_like(p);
    buf_[i].mul_(b1).add_(g, 1.0 - b1);
    sq_[i].mul_(b2).addcmul_(g, g, 1.0 - b2);
    if (r.uniform) {  // torch's Adam, step for step
      const auto denom = (sq_[i].sqrt() / std::sqrt(r.bc2)).add_(eps);
      p.addcdiv_(buf_[i], denom, -lr / r.bc1);
      return;
    }
    const auto denom = (sq_[i].sqrt() / spread(r.sqrt_bc2_t)).add_(eps);
    p.sub_((lr_t / spread(r.bc1_t)) * buf_[i] / denom);
  }

  Options o_;
  std::vector<Param> params_;
  std::vector<torch::Tensor> buf_, sq_;  // momentum or first moment; second moment
  std::vector<int64_t> steps_;           // per model: the steps it took (Adam's bias correction)
  bool stacked_;
};

// The debiased exponential moving average of the weights and floating buffers, as objax's
// ExponentialMovingAverage(debias=True) in the official LiRA code, per model: only the
// models that stepped update theirs.
class WeightAverage {
 public:
  WeightAverage(std::vector<torch::Tensor> live, double decay, int64_t k, bool stacked)
      : live_(std::move(live)), decay_(decay), updates_(static_cast<size_t>(k), 0), stacked_(stacked) {
    torch::NoGradGuard no_grad;
    for (auto& t : live_) shadow_.push_back(torch::zeros_like(t));
  }
  void update(const Moving& stepped) {
    if (!stepped.any) return;
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < updates_.size(); ++k) updates_[k] += stepped.host[k];
    for (size_t i = 0; i < live_.size(); ++i) {
      if (stepped.all) {
        shadow_[i].mul_(decay_).add_(live_[i].detach(), 1.0 - decay_);
      } else {
        shadow_[i] = torch::where(per_model(stepped.on, live_[i].dim()),
                                  shadow_[i] * decay_ + live_[i].detach() * (1.0 - decay_), shadow_[i]);
      }
    }
  }
  // Replaces each model's live values by its debiased averages.
  void apply() {
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < updates_.size(); ++k) {
      if (updates_[k] == 0) continue;
      const double debias = 1.0 - std::pow(decay_, static_cast<double>(updates_[k]));
      const auto lane = static_cast<int64_t>(k);
      for (size_t i = 0; i < live_.size(); ++i)
        lane_of(live_[i], lane, stacked_).copy_(lane_of(shadow_[i], lane, stacked_) / debias);
    }
  }

 private:
  std::vector<torch::Tensor> live_, shadow_;
  double decay_;
  std::vector<int64_t> updates_;
  bool stacked_;
};

}  // namespace recipe_parts
}  // namespace lira
