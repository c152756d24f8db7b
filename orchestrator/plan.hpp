// The experiment plan: which candidates each reference model trains on, and its seed.
//
// The keep matrix [M, N] is balanced per example (docs/scoring.md, "The keep matrix"):
// every candidate is IN for exactly M/2 models. Two schemes (experiment.keep_scheme):
//   - subsets: each candidate's M/2 models are an independent uniform random M/2-subset
//     of the M models. Column n depends only on (seed, n, M): growing N leaves the first
//     columns unchanged, but every column changes with M.
//   - pairs: models 2j and 2j+1 are complements: pair j splits the trainable candidates
//     into two random halves (sizes differing by at most one). Row m depends only on
//     (seed, m / 2, N), so every even prefix of models is balanced per example and an
//     experiment can grow from M to M' > M models without retraining the first M.
// Each model m gets its own seed derived from (seed, m), whatever M.
//
// The plan never holds the matrix: it generates it in blocks (bounded memory) for the
// results file, which is where the coordinator reads each job's row from.
//
// Population (data.population = P): the last P candidates are IN for no model. They are
// data no model was trained on, with every model's signals: RMIA's population z, and
// left out of every attack's evaluation (docs/scoring.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/keep_blocks.hpp"

namespace lira {

enum class KeepScheme { kSubsets, kPairs };
KeepScheme keep_scheme_from(const std::string& name);  // "subsets" | "pairs"; throws ConfigError
const char* keep_scheme_name(KeepScheme scheme);

class Plan {
 public:
  // Throws ConfigError if models is odd or < 2, candidates < 1, or population leaves
  // no candidate to train on.
  Plan(int64_t models, int64_t candidates, uint64_t seed, int64_t population = 0,
       KeepScheme scheme = KeepScheme::kSubsets);

  int64_t models() const { return models_; }
  int64_t population() const { return population_; }
  int64_t candidates() const { return candidates_; }
  uint64_t seed() const { return seed_; }
  KeepScheme scheme() const { return scheme_; }

  // The whole matrix in blocks of at most ~block_bytes (and at least one row or column):
  // column blocks for subsets, pairs of rows for pairs. Together they cover [M, N] once.
  void generate(const KeepBlockSink& sink, size_t block_bytes = size_t{16} << 20) const;
  KeepBlocks blocks() const {
    return [this](const KeepBlockSink& sink) { generate(sink); };
  }
  // keep[m, n] = 1 if candidate n is in model m's training set: [M * N] bytes (tests,
  // small experiments; a run reads rows from the results file instead).
  std::vector<uint8_t> keep() const;
  // One model's row [N]. O(N) for pairs; O(N * M) for subsets (use generate or the file).
  void keep_row(int64_t model, std::vector<uint8_t>& out) const;
  std::vector<uint8_t> keep_row(int64_t model) const {
    std::vector<uint8_t> row;
    keep_row(model, row);
    return row;
  }
  // The number of IN candidates of every model [M], in bounded memory.
  std::vector<int64_t> in_counts() const;
  uint64_t model_seed(int64_t model) const;

 private:
  void subsets_columns(int64_t n0, int64_t n1, uint8_t* out) const;  // [M, n1 - n0]
  void pair_row(int64_t pair, uint8_t* first, uint8_t* second) const;  // rows 2j, 2j + 1

  int64_t models_, candidates_, population_;
  uint64_t seed_;
  KeepScheme scheme_;
};

}  // namespace lira
