// `lira score`: runs the requested attacks over a results file, streaming the candidates
// in blocks, and computes the metrics for each target model and their mean.
//
// Targets: the last K models that are done (with every model done, the last K models,
// as the reference code's ntest); references: every other done model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metrics.hpp"
#include "storage/results_file.hpp"

namespace lira {

struct ScoreOptions {
  std::vector<std::string> attacks;  // empty: every attack the file has the signals for
  int64_t targets = 1;
  std::vector<double> fpr = {0.001, 0.01};
  int64_t block_candidates = 0;  // 0: chosen from a memory budget
};

struct AttackReport {
  std::string name;
  std::vector<Metrics> per_target;
  Metrics mean;
  int64_t undefined_scores = 0;  // candidates without IN/OUT references, left out of the metrics
};

struct ScoreReport {
  std::string file;
  int64_t models = 0, models_done = 0, candidates = 0;
  std::vector<std::string> queries;
  std::vector<int64_t> targets, references;
  double mean_train_accuracy = 0, mean_test_accuracy = 0;  // over done models; NaN if not stored
  std::vector<AttackReport> attacks;
  std::vector<std::string> notes;  // things the reader should know (partial file, ...)
};

ScoreReport score_results(const ResultsReader& file, const ScoreOptions& options);

}  // namespace lira
