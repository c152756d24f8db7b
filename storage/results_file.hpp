// The results file: one HDF5 file per experiment, written by the coordinator only.
//
// Layout (docs/results-format.md): /keep uint8 [M,N], /labels int64 [N],
// /candidate_index int64 [N], /signals/<name> float32 [M, ...], /models/{done, seed,
// attempts, worker, train_accuracy, test_accuracy, train_seconds} [M], and root
// attributes format_version, lira_version, config (resolved YAML), queries.
//
// Crash behaviour: every dataset is created, at its final shape, when the file is
// created; a finished model's rows are written and flushed before its done flag is set
// and flushed again. So after a kill at any instant, each model marked done has all of
// its data, and unfinished models read as NaN with done = 0.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/results_layout.hpp"
#include "h5.hpp"
#include "orchestrator/messages.hpp"

namespace lira {

inline constexpr int kResultsFormatVersion = 1;

struct RunMetadata {
  std::string config_yaml;   // the resolved config
  std::string lira_version;  // "0.1.0 (abc123)"
};

class ResultsWriter {
 public:
  enum class Mode { kCreateNew, kOverwrite };
  // Creates the file with every dataset at its final shape. kCreateNew refuses an
  // existing file (StorageError saying what to do). Creates missing parent directories.
  ResultsWriter(const std::string& path, const ResultsLayout& layout, const RunMetadata& meta,
                std::span<const uint8_t> keep, std::span<const int64_t> labels,
                std::span<const int64_t> candidate_index, std::span<const uint64_t> model_seeds, Mode mode);
  ~ResultsWriter();
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  // Stores one model's signals and scalars durably, then marks it done. Throws
  // StorageError if the arrays do not match the layout.
  void write_model(const ModelResult& result, int32_t worker);
  // Records a model that failed for good (attempts, no done flag).
  void record_failure(int64_t model, int32_t attempts);

  const std::string& path() const { return path_; }
  void close();

 private:
  void write_scalar(const char* dataset, int64_t model, hid_t mem_type, const void* value);
  void flush();

  std::string path_;
  ResultsLayout layout_;
  h5::Id file_;
};

// Read access for scoring and inspection. Accepts the full layout written by
// ResultsWriter and the minimal one (/keep and /signals/<name>) that any tool can write.
class ResultsReader {
 public:
  explicit ResultsReader(const std::string& path);

  const std::string& path() const { return path_; }
  int64_t models() const { return models_; }
  int64_t candidates() const { return candidates_; }
  std::vector<uint8_t> keep() const;  // [M, N]: M x N bytes, use the two below for big files
  // Candidates [n0, n1) of every model: out = [M, n1 - n0], 1 = member.
  void read_keep(int64_t n0, int64_t n1, std::vector<uint8_t>& out) const;
  // One model's row: out = [N].
  void read_keep_row(int64_t model, std::vector<uint8_t>& out) const;
  // /models/done, or all ones when the file has no /models/done (minimal layout).
  std::vector<uint8_t> done() const;
  std::vector<double> model_values(const std::string& name) const;  // /models/<name>, empty if absent
  std::vector<int64_t> labels() const;                              // empty if absent
  std::vector<std::string> queries() const;  // attribute, or q0..q{A-1}
  std::string config_yaml() const;           // empty if absent
  bool has_signal(const std::string& name) const;
  // Dimensions of /signals/<name>: [M, N, ...]. Throws if absent or not [M, N, ...].
  std::vector<int64_t> signal_dims(const std::string& name) const;
  // Candidates [n0, n1) of every model: out = [M, n1 - n0, rest...] as float32.
  void read_signal(const std::string& name, int64_t n0, int64_t n1, std::vector<float>& out) const;
  // Storage chunk length along the candidate axis (1 if not chunked): read in multiples.
  int64_t signal_chunk_candidates(const std::string& name) const;

 private:
  // The [m0, m0 + rows) x [n0, n0 + cols) part of /keep into out (0/1 bytes).
  void read_keep_part(int64_t m0, int64_t rows, int64_t n0, int64_t cols, uint8_t* out) const;
  std::string path_;
  h5::Id file_;
  int64_t models_ = 0, candidates_ = 0;
};

}  // namespace lira
