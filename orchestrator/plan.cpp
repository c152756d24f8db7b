// Implements Plan: the balanced keep matrix, in blocks, and per-model seeds.
#include "plan.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "common/errors.hpp"
#include "common/rng.hpp"

namespace lira {

KeepScheme keep_scheme_from(const std::string& name) {
  if (name == "subsets") return KeepScheme::kSubsets;
  if (name == "pairs") return KeepScheme::kPairs;
  throw ConfigError("experiment.keep_scheme must be subsets or pairs; got '" + name + "'");
}

const char* keep_scheme_name(KeepScheme scheme) { return scheme == KeepScheme::kPairs ? "pairs" : "subsets"; }

Plan::Plan(int64_t models, int64_t candidates, uint64_t seed, int64_t population, KeepScheme scheme)
    : models_(models), candidates_(candidates), population_(population), seed_(seed), scheme_(scheme) {
  if (models < 2 || models % 2 != 0)
    throw ConfigError("experiment.models must be even and >= 2 (each candidate is IN for exactly models/2 "
                      "models); got " + std::to_string(models));
  if (candidates < 1) throw ConfigError("data.candidates must be >= 1; got " + std::to_string(candidates));
  if (population < 0 || population >= candidates)
    throw ConfigError("data.population must be in [0, data.candidates - 1] (the last P candidates are trained on by "
                      "no model); got " + std::to_string(population) + " of " + std::to_string(candidates));
}

void Plan::subsets_columns(int64_t n0, int64_t n1, uint8_t* out) const {
  const int64_t cols = n1 - n0, half = models_ / 2;
  std::fill(out, out + models_ * cols, uint8_t{0});
  std::vector<int64_t> order(static_cast<size_t>(models_));
  for (int64_t n = n0; n < std::min(n1, candidates_ - population_); ++n) {
    // Partial Fisher-Yates: the first `half` entries of a uniform random permutation
    // of the models form a uniform random half-subset.
    Xoshiro256 rng(derive_seed(seed_, static_cast<uint64_t>(SeedStream::kKeepMatrix), static_cast<uint64_t>(n)));
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = 0; i < half; ++i) {
      const int64_t j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(models_ - i)));
      std::swap(order[i], order[j]);
      out[order[i] * cols + (n - n0)] = 1;
    }
  }
}

void Plan::pair_row(int64_t pair, uint8_t* first, uint8_t* second) const {
  // A uniform random permutation of the trainable candidates; the first half goes to
  // model 2j, the rest to 2j + 1. An odd count gives the middle one to either by a coin.
  const int64_t trainable = candidates_ - population_;
  Xoshiro256 rng(derive_seed(seed_, static_cast<uint64_t>(SeedStream::kKeepPairs), static_cast<uint64_t>(pair)));
  std::vector<int64_t> order(static_cast<size_t>(trainable));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = trainable - 1; i > 0; --i)
    std::swap(order[i], order[static_cast<int64_t>(rng.below(static_cast<uint64_t>(i + 1)))]);
  const int64_t half = trainable / 2 + (trainable % 2 == 1 ? static_cast<int64_t>(rng.below(2)) : 0);
  std::fill(first, first + candidates_, uint8_t{0});
  std::fill(second, second + candidates_, uint8_t{0});
  for (int64_t i = 0; i < trainable; ++i) (i < half ? first : second)[order[i]] = 1;
}

void Plan::generate(const KeepBlockSink& sink, size_t block_bytes) const {
  if (scheme_ == KeepScheme::kPairs) {
    std::vector<uint8_t> rows(static_cast<size_t>(2 * candidates_));
    for (int64_t j = 0; j < models_ / 2; ++j) {
      pair_row(j, rows.data(), rows.data() + candidates_);
      sink(2 * j, 2, 0, candidates_, rows.data());
    }
    return;
  }
  const int64_t cols = std::clamp<int64_t>(static_cast<int64_t>(block_bytes) / models_, 1, candidates_);
  std::vector<uint8_t> block(static_cast<size_t>(models_ * cols));
  for (int64_t n0 = 0; n0 < candidates_; n0 += cols) {
    const int64_t n1 = std::min(candidates_, n0 + cols);
    subsets_columns(n0, n1, block.data());  // [M, n1 - n0]: the last block may be narrower
    sink(0, models_, n0, n1 - n0, block.data());
  }
}

std::vector<uint8_t> Plan::keep() const {
  std::vector<uint8_t> keep(static_cast<size_t>(models_ * candidates_));
  generate([&](int64_t m0, int64_t rows, int64_t n0, int64_t cols, const uint8_t* block) {
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(block + r * cols, cols, keep.data() + (m0 + r) * candidates_ + n0);
  });
  return keep;
}

void Plan::keep_row(int64_t model, std::vector<uint8_t>& out) const {
  if (model < 0 || model >= models_) throw Error("Plan::keep_row: model " + std::to_string(model) + " out of range");
  out.resize(static_cast<size_t>(candidates_));
  if (scheme_ == KeepScheme::kPairs) {
    std::vector<uint8_t> other(static_cast<size_t>(candidates_));
    if (model % 2 == 0) pair_row(model / 2, out.data(), other.data());
    else pair_row(model / 2, other.data(), out.data());
    return;
  }
  std::vector<uint8_t> block(static_cast<size_t>(models_));
  for (int64_t n = 0; n < candidates_; ++n) {
    subsets_columns(n, n + 1, block.data());
    out[n] = block[model];
  }
}

std::vector<int64_t> Plan::in_counts() const {
  std::vector<int64_t> counts(static_cast<size_t>(models_), 0);
  generate([&](int64_t m0, int64_t rows, int64_t, int64_t cols, const uint8_t* block) {
    for (int64_t r = 0; r < rows; ++r) counts[m0 + r] += std::count(block + r * cols, block + (r + 1) * cols, uint8_t{1});
  });
  return counts;
}

uint64_t Plan::model_seed(int64_t model) const {
  return derive_seed(seed_, static_cast<uint64_t>(SeedStream::kModel), static_cast<uint64_t>(model));
}

}  // namespace lira
