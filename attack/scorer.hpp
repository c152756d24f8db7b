// `lira score`: runs the requested attacks over a results file, streaming the candidates
// in blocks, and computes the metrics for each target, pooled over targets, and their mean.
//
// Targets (docs/scoring.md): --targets K: the last K finished models, scored against the
// other finished models (the reference code's ntest); --leave-one-out K: each of the last
// K finished models scored against all other finished models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attacks.hpp"
#include "metrics.hpp"
#include "storage/results_file.hpp"

namespace lira {

struct ScoreOptions {
  std::vector<std::string> attacks;  // empty: every attack the file has the signals for
  int64_t targets = 1;
  bool leave_one_out = false;
  Flavor flavor = Flavor::kPaper;
  std::vector<double> fpr = {1e-5, 1e-3, 1e-2};
  int64_t block_candidates = 0;  // 0: chosen from a memory budget
  RmiaOptions rmia;
  ShokriOptions shokri;
  uint64_t seed = 0;
  double min_k = 0.2;  // min-k, min-k-plus-plus: fraction of the lowest tokens
};

struct AttackReport {
  std::string name;
  std::vector<Metrics> per_target;
  Metrics pooled;  // all targets' (score, membership) pairs in one ROC
  Metrics mean;    // the mean of the per-target metrics
  int64_t undefined_scores = 0;  // (target, candidate) pairs without a score, left out
};

struct ScoreReport {
  std::string file;
  int64_t models = 0, models_done = 0, candidates = 0;
  std::vector<std::string> queries;
  std::vector<int64_t> targets, references;  // references: of the first target
  bool leave_one_out = false;
  std::string flavor;
  double mean_train_accuracy = 0, mean_test_accuracy = 0;  // over done models; NaN if not stored
  std::vector<AttackReport> attacks;
  std::vector<std::string> notes;  // things the reader should know (partial file, ...)
};

// The scores behind a report, for --scores-out, --roc and --plot.
struct ScoreResult {
  ScoreReport report;
  std::vector<ScoreMatrix> scores;                // one per attack, [targets, N]
  std::vector<std::vector<uint8_t>> membership;   // [targets][N]: keep rows of the targets
};

ScoreResult score_results(const ResultsReader& file, const ScoreOptions& options);

}  // namespace lira
