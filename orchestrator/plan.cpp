// Implements Plan: the balanced keep matrix and per-model seeds.
#include "plan.hpp"

#include <numeric>
#include <string>

#include "common/errors.hpp"
#include "common/rng.hpp"

namespace lira {

Plan::Plan(int64_t models, int64_t candidates, uint64_t seed, int64_t population)
    : models_(models), candidates_(candidates), population_(population), seed_(seed) {
  if (models < 2 || models % 2 != 0)
    throw ConfigError("experiment.models must be even and >= 2 (each candidate is IN for exactly models/2 "
                      "models); got " + std::to_string(models));
  if (candidates < 1) throw ConfigError("data.candidates must be >= 1; got " + std::to_string(candidates));
  if (population < 0 || population >= candidates)
    throw ConfigError("data.population must be in [0, data.candidates - 1] (the last P candidates are trained on by "
                      "no model); got " + std::to_string(population) + " of " + std::to_string(candidates));
  keep_.assign(static_cast<size_t>(models) * static_cast<size_t>(candidates), 0);
  const int64_t half = models / 2;
  std::vector<int64_t> order(static_cast<size_t>(models));
  for (int64_t n = 0; n < candidates - population; ++n) {
    // Partial Fisher-Yates: the first `half` entries of a uniform random permutation
    // of the models form a uniform random half-subset.
    Xoshiro256 rng(derive_seed(seed, static_cast<uint64_t>(SeedStream::kKeepMatrix), static_cast<uint64_t>(n)));
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = 0; i < half; ++i) {
      const int64_t j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(models - i)));
      std::swap(order[i], order[j]);
      keep_[static_cast<size_t>(order[i]) * candidates + n] = 1;
    }
  }
}

std::span<const uint8_t> Plan::keep_row(int64_t model) const {
  if (model < 0 || model >= models_) throw Error("Plan::keep_row: model " + std::to_string(model) + " out of range");
  return std::span<const uint8_t>(keep_).subspan(static_cast<size_t>(model * candidates_),
                                                 static_cast<size_t>(candidates_));
}

uint64_t Plan::model_seed(int64_t model) const {
  return derive_seed(seed_, static_cast<uint64_t>(SeedStream::kModel), static_cast<uint64_t>(model));
}

}  // namespace lira
