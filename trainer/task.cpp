// Implements unique_parameters and the Task defaults (task.hpp).
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

std::vector<double> Task::validation_losses() {
  throw ConfigError(std::string("defense.early_stopping: not implemented for the ") + name() + " task");
}

}  // namespace lira
