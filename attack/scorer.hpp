// `lira score`: runs the requested attacks over a results file, streaming the candidates
// in blocks, and computes the metrics for each target, pooled over targets, and their mean.
//
// Targets (docs/scoring.md): --targets K: the last K finished models, scored against the
// other finished models (the reference code's ntest); --leave-one-out K: each of the last
// K finished models scored against all other finished models (K may be every model).
//
// Any file in any state scores: an attack the file cannot support (too few references,
// no population, a target without members) is listed in `skipped` with the reason, and
// the others still run.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attacks.hpp"
#include "bootstrap.hpp"
#include "metrics.hpp"
#include "storage/results_file.hpp"

namespace lira {

struct ScoreOptions {
  int64_t bootstrap = 1000;      // resamples for the intervals (IN and OUT resampled separately); 0: none
  double confidence = 0.95;      // of the bootstrap intervals (percentile)
  double decision_fpr = 1e-2;    // FPR of the per-example decisions whose variability is reported
  std::vector<std::string> attacks;  // empty: every attack the file has the signals for
  int64_t targets = 1;
  bool leave_one_out = false;
  Flavor flavor = Flavor::kPaper;
  std::vector<double> fpr = {1e-5, 1e-3, 1e-2};
  int64_t block_candidates = 0;  // 0: chosen from a memory budget
  int64_t block_bytes = 128ll << 20;  // that budget: signal (and token) bytes per streamed block
  RmiaOptions rmia;
  ShokriOptions shokri;
  uint64_t seed = 0;
  double min_k = 0.2;  // min-k, min-k-plus-plus: fraction of the lowest tokens
  // Fewer than the file has, to see how an attack grows with them (bench/reproduce_lira.sh):
  int64_t references = 0;            // the first R finished non-target models only (0: all); not with leave_one_out
  std::vector<std::string> queries;  // these queries only, by name (empty: all), e.g. {"identity"}
};

struct AttackReport {
  std::string name;
  std::vector<Metrics> per_target;
  Metrics pooled;  // all targets' (score, membership) pairs in one ROC
  Metrics mean;    // the mean of the per-target metrics
  Metrics se;      // their standard error over targets (sd / sqrt(T), ddof 1); NaN for one target
  BootstrapIntervals ci;  // of the pooled metrics
  int64_t undefined_scores = 0;  // (target, candidate) pairs without a score, left out
  // Non-empty when the fits behind the row used too few reference models per example to be
  // trusted: says how few, and what to read instead.
  std::string few_references;
  DecisionVariability decisions;  // across targets, at ScoreOptions::decision_fpr
};

struct SkippedAttack {
  std::string name, reason;  // reason: what the attack needs and what the file has
};

struct ScoreReport {
  std::string file;
  int64_t models = 0, models_done = 0, candidates = 0;
  std::vector<std::string> queries;
  std::vector<int64_t> targets, references;  // references: of the first target
  bool leave_one_out = false;
  std::string flavor;
  double mean_train_accuracy = 0, mean_test_accuracy = 0;  // over done models; NaN if not stored
  // DP-SGD runs: the epsilon each model spent (/models/dp_epsilon, NaN for models not
  // done), and the run's dp.delta; empty and NaN for runs without DP.
  std::vector<double> dp_epsilon;
  double dp_delta = std::numeric_limits<double>::quiet_NaN();
  std::vector<AttackReport> attacks;
  std::vector<SkippedAttack> skipped;
  std::vector<std::string> notes;  // things the reader should know (partial file, ...)
  // complete | running | interrupted, and a line saying what that means for the numbers.
  std::string state, state_detail;
  int64_t models_failed = 0;
  int64_t population = 0;  // candidates no model trained on (left out of the metrics)
  int64_t bootstrap = 0;
  double confidence = 0, decision_fpr = 0;
};

// The scores behind a report, for --scores-out, --roc and --plot.
struct ScoreResult {
  ScoreReport report;
  std::vector<ScoreMatrix> scores;                // one per scored attack, [targets, N]
  std::vector<std::vector<uint8_t>> membership;   // [targets][N]: keep rows of the targets
};

ScoreResult score_results(const ResultsReader& file, const ScoreOptions& options);

// A comma-separated list of query names as a user types it: names such as "mirror(0,1)"
// hold commas, so the list splits only at commas outside parentheses; spaces around a
// name are dropped, empty names skipped. Throws ScoreError for unbalanced parentheses.
std::vector<std::string> parse_query_names(const std::string& list);

}  // namespace lira
