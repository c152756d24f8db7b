// The experiment plan: which candidates each reference model trains on, and its seed.
//
// The keep matrix [M, N] is balanced per example (docs/scoring.md, "The keep matrix"): every
// candidate is IN for exactly M/2 models, chosen by an independent random M/2-subset per
// candidate. Column n depends only on (seed, n, M), so growing N leaves the first
// columns unchanged. Each model m gets its own seed derived from (seed, m).
//
// Population (data.population = P): the last P candidates are IN for no model. They are
// data no model was trained on, with every model's signals: RMIA's population z, and
// left out of every attack's evaluation (docs/scoring.md).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lira {

class Plan {
 public:
  // Throws ConfigError if models is odd or < 2, candidates < 1, or population leaves
  // no candidate to train on.
  Plan(int64_t models, int64_t candidates, uint64_t seed, int64_t population = 0);

  int64_t models() const { return models_; }
  int64_t population() const { return population_; }
  int64_t candidates() const { return candidates_; }
  uint64_t seed() const { return seed_; }

  // keep[m, n] = 1 if candidate n is in model m's training set.
  std::span<const uint8_t> keep() const { return keep_; }
  std::span<const uint8_t> keep_row(int64_t model) const;
  uint64_t model_seed(int64_t model) const;

 private:
  int64_t models_, candidates_, population_;
  uint64_t seed_;
  std::vector<uint8_t> keep_;
};

}  // namespace lira
