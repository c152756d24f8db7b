// The experiment plan: which candidates each reference model trains on, and its seed.
//
// The keep matrix [M, N] is balanced per example (lira-method.md section 1): every
// candidate is IN for exactly M/2 models, chosen by an independent random M/2-subset per
// candidate. Column n depends only on (seed, n, M), so growing N leaves the first
// columns unchanged. Each model m gets its own seed derived from (seed, m).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lira {

class Plan {
 public:
  // Throws ConfigError if models is odd or < 2, or candidates < 1.
  Plan(int64_t models, int64_t candidates, uint64_t seed);

  int64_t models() const { return models_; }
  int64_t candidates() const { return candidates_; }
  uint64_t seed() const { return seed_; }

  // keep[m, n] = 1 if candidate n is in model m's training set.
  std::span<const uint8_t> keep() const { return keep_; }
  std::span<const uint8_t> keep_row(int64_t model) const;
  uint64_t model_seed(int64_t model) const;

 private:
  int64_t models_, candidates_;
  uint64_t seed_;
  std::vector<uint8_t> keep_;
};

}  // namespace lira
