// Implements make_optimizer, unique_parameters and the Task defaults (task.hpp).
#include <unordered_set>

#include "common/errors.hpp"
#include "task.hpp"

namespace lira {

NamedTensors unique_parameters(const NamedTensors& named) {
  NamedTensors out;
  std::unordered_set<const void*> seen;
  for (const auto& [name, p] : named)
    if (seen.insert(p.unsafeGetTensorImpl()).second) out.emplace_back(name, p);
  return out;
}

void Task::refuse_dp() const {
  throw ConfigError(std::string("dp: DP-SGD is not implemented for the ") + name() + " task");
}

std::pair<torch::Tensor, torch::Tensor> Task::examples_at(const torch::Tensor&) { refuse_dp(); }

torch::Tensor Task::example_losses(const torch::Tensor&, const torch::Tensor&) { refuse_dp(); }

double Task::validation_loss() {
  throw ConfigError(std::string("defense.early_stopping: not implemented for the ") + name() + " task");
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainingConfig& t, const NamedTensors& named) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& [name, p] : named) (t.decay_all || p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto groups = [&](auto make_options) {
    std::vector<torch::optim::OptimizerParamGroup> g;
    if (!decay.empty()) g.emplace_back(decay, make_options(t.weight_decay));
    if (!no_decay.empty()) g.emplace_back(no_decay, make_options(0.0));
    return g;
  };
  if (t.optimizer == "adam")
    return std::make_unique<torch::optim::Adam>(groups([&](double wd) {
                                                  return std::make_unique<torch::optim::AdamOptions>(
                                                      torch::optim::AdamOptions(t.lr).weight_decay(wd));
                                                }),
                                                torch::optim::AdamOptions(t.lr));
  if (t.optimizer == "adamw")
    return std::make_unique<torch::optim::AdamW>(groups([&](double wd) {
                                                   return std::make_unique<torch::optim::AdamWOptions>(
                                                       torch::optim::AdamWOptions(t.lr).weight_decay(wd));
                                                 }),
                                                 torch::optim::AdamWOptions(t.lr));
  return std::make_unique<torch::optim::SGD>(groups([&](double wd) {
                                               return std::make_unique<torch::optim::SGDOptions>(
                                                   torch::optim::SGDOptions(t.lr)
                                                       .momentum(t.momentum)
                                                       .nesterov(t.nesterov)
                                                       .weight_decay(wd));
                                             }),
                                             torch::optim::SGDOptions(t.lr));
}

}  // namespace lira
