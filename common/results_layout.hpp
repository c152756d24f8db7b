// The shape of a results file, derived from the config: the contract between the trainer
// (which produces per-model arrays), the coordinator (which stores them) and the scorer.
// docs/results-format.md documents the on-disk form.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "config.hpp"

namespace lira {

// One per-model signal array, stored as /signals/<name> with shape [M, shape...].
struct SignalSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t elements() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

struct ResultsLayout {
  int64_t models = 0;      // M
  int64_t candidates = 0;  // N
  std::vector<std::string> queries;  // A names
  std::vector<SignalSpec> signals;
  // DP-SGD runs also store /models/dp_epsilon and /models/dp_noise_multiplier.
  bool dp = false;
};

// One named per-model signal array, e.g. "logit_confidence" with shape [N, A].
struct SignalArray {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major, product(shape) elements
  // RowChecksum of the values (common/row_checksum.hpp), set by whoever writes the row
  // into the file; 0 until then.
  uint64_t checksum = 0;
};

// One trained model's outcome: what a trainer returns, the coordinator stores and the
// scorer reads back. Travels from worker to coordinator as a message (orchestrator/messages.hpp).
struct ModelResult {
  int64_t model = -1;
  int32_t attempt = 0;
  double train_accuracy = 0;
  double test_accuracy = 0;
  double train_seconds = 0;
  // DP-SGD: the epsilon this model spent (at dp.delta, RDP accountant) and the noise
  // multiplier it trained with; NaN without DP.
  double dp_epsilon = std::numeric_limits<double>::quiet_NaN();
  double dp_noise_multiplier = std::numeric_limits<double>::quiet_NaN();
  // The models trained together in its pass (parallel.models_per_job): 1 alone, K in a
  // pack of K. The pack tests assert it, so a pack cannot quietly train its models alone.
  int32_t pack = 1;
  std::vector<SignalArray> signals;
  // The worker wrote the signals' rows into the results file itself (DirectRows below) and
  // made them durable; `signals` then carry names and shapes but no values.
  bool written = false;
};

// Where a worker writes a finished model's signal rows itself (parallel.result_writes:
// worker), so the coordinator handles O(1) bytes per model: the results file's path, a
// nonce the coordinator wrote for this run (`nonce` at byte `nonce_offset`: a worker that
// reads anything else there sees another file, and sends its rows instead), and for each
// signal the byte offset of row 0 and the bytes per row (little-endian float32, row m at
// offset + m x row_bytes). Empty `path`: send the rows.
struct RowTarget {
  std::string name;
  uint64_t offset = 0;
  uint64_t row_bytes = 0;
};
struct DirectRows {
  std::string path;
  uint64_t nonce_offset = 0;
  std::vector<uint8_t> nonce;
  std::vector<RowTarget> signals;
  bool enabled() const { return !path.empty(); }
};

// `classes` is the dataset's number of classes (the logits' last dimension); `tokens`, for
// text data, the candidate records' total token count S (the per-token signals' length).
inline ResultsLayout results_layout(const Config& c, int64_t classes, int64_t tokens = 0) {
  ResultsLayout l;
  l.models = c.experiment.models;
  l.candidates = c.data.candidates;
  l.queries = c.query_names();
  l.dp = c.dp.enabled();
  const int64_t a = static_cast<int64_t>(l.queries.size());
  l.signals = {{"logit_confidence", {l.candidates, a}}, {"loss", {l.candidates, a}}};
  if (c.signals.probabilities) {
    l.signals.push_back({"max_probability", {l.candidates, a}});
    l.signals.push_back({"entropy", {l.candidates, a}});
  }
  if (c.signals.logits) l.signals.push_back({"logits", {l.candidates, a, classes}});
  if (c.data.is_text()) {
    // Per token of every candidate record (ragged: /offsets), docs/language-models.md.
    l.signals.push_back({"token_logprob", {tokens}});
    l.signals.push_back({"token_mu", {tokens}});
    l.signals.push_back({"token_sigma", {tokens}});
  }
  return l;
}

}  // namespace lira
