// The results file: one HDF5 file per experiment. The coordinator creates it and owns its
// structure and every flag; signal rows come from the coordinator (stage_model) or are
// written by the workers themselves at the byte offsets direct_rows() hands out
// (worker/row_writer.hpp), never both for one row at a time.
//
// Layout (docs/results-format.md): /keep uint8 [M,N], /labels int64 [N],
// /candidate_index int64 [N], /signals/<name> float32 [M, ...], /models/{done, failed,
// seed, attempts, worker, train_accuracy, test_accuracy, train_seconds, finished_at,
// error} [M], and root attributes format_version, lira_version, config (resolved YAML),
// queries, fingerprint_config, fingerprint_data and keep_scheme.
//
// Crash behaviour and concurrent readers: every dataset is created contiguous, at its
// final size, with its space allocated at creation, so no later write changes the file's
// metadata -- only raw data. (Growing an experiment, which adds models, builds a new file
// and renames it over the old one: see ResultsWriter::grow.) A finished model's rows are written, flushed and fsync'd
// before its done flag is set, flushed and fsync'd. So after a kill (or a power loss) at
// any instant, each model marked done has all of its data; the file opens without repair;
// and readers (lira score, lira status, h5py) can open it while the run goes on (the
// writer takes no HDF5 file lock; runs exclude each other with a lock file, see
// orchestrator-level run_lock). Unwritten signal rows read as zeros: check /models/done.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/keep_blocks.hpp"
#include "common/results_layout.hpp"
#include "h5.hpp"

namespace lira {

inline constexpr int kResultsFormatVersion = 3;  // 3: /models/running, /models/crashes
inline constexpr size_t kErrorMessageBytes = 256;  // /models/error: fixed-length strings

// /models/checksum_<signal>: uint64 [M], each done model's RowChecksum of its row of that
// signal (common/row_checksum.hpp), 0 for none. Optional: files written before lira kept
// checksums have none, and their rows are not verified.
inline std::string checksum_column(const std::string& signal) { return "checksum_" + signal; }

struct RunMetadata {
  std::string config_yaml;         // the resolved config
  std::string lira_version;        // "0.1.0 (abc123)"
  std::string fingerprint_config;  // the config keys that determine the results (YAML)
  std::string fingerprint_data;    // the data files read: name, size, hash (one per line)
  std::string keep_scheme = "subsets";  // experiment.keep_scheme: "pairs" lets the file grow
};

// Resuming a file made for another experiment: what differs and how to start over.
class ResumeMismatch : public StorageError {
 public:
  explicit ResumeMismatch(const std::string& m) : StorageError(m) {}
};

// Text data: the candidate records' tokens, written once at creation as /tokens int32
// [S], /offsets int64 [N + 1] (record n is tokens [offsets[n], offsets[n + 1])) and
// /records/zlib_bytes int64 [N].
struct TextRecordsView {
  std::span<const int32_t> tokens;
  std::span<const int64_t> offsets;
  std::span<const int64_t> zlib_bytes;
};

class ResultsWriter {
 public:
  enum class Mode { kCreateNew, kOverwrite };
  // A new file with every dataset at its final size. kCreateNew refuses an existing file.
  // Creates missing parent directories.
  // The keep matrix comes in blocks (orchestrator/plan.hpp), so it is never held whole.
  static std::unique_ptr<ResultsWriter> create(const std::string& path, const ResultsLayout& layout,
                                               const RunMetadata& meta, const KeepBlocks& keep,
                                               std::span<const int64_t> labels,
                                               std::span<const int64_t> candidate_index,
                                               std::span<const uint64_t> model_seeds, Mode mode,
                                               const TextRecordsView* text = nullptr);
  // The same with the whole keep matrix [M * N] in memory (tests, small files).
  static std::unique_ptr<ResultsWriter> create(const std::string& path, const ResultsLayout& layout,
                                               const RunMetadata& meta, std::span<const uint8_t> keep,
                                               std::span<const int64_t> labels,
                                               std::span<const int64_t> candidate_index,
                                               std::span<const uint64_t> model_seeds, Mode mode,
                                               const TextRecordsView* text = nullptr);
  // The file of an interrupted run, to finish it. Throws ResumeMismatch when it was made
  // for another experiment (config, data, layout or format), naming what differs.
  static std::unique_ptr<ResultsWriter> resume(const std::string& path, const ResultsLayout& layout,
                                               const RunMetadata& meta);
  // The number of models M of an existing results file (the first dimension of /keep).
  static int64_t models_in(const std::string& path);
  // Grows the file of a keep_scheme "pairs" experiment from its M models to layout.models
  // (more): a new file is built beside it with the new keep rows and seeds, the first M
  // models' rows, columns and flags are copied, and it replaces the old one atomically
  // (a crash leaves one or the other). The first M keep rows and seeds must equal the
  // old file's (checked). Throws ResumeMismatch for anything else that differs, for
  // shrinking, and for files drawn with keep_scheme "subsets".
  static std::unique_ptr<ResultsWriter> grow(const std::string& path, const ResultsLayout& layout,
                                             const RunMetadata& meta, const KeepBlocks& keep,
                                             std::span<const int64_t> labels, std::span<const int64_t> candidate_index,
                                             std::span<const uint64_t> model_seeds, const TextRecordsView* text = nullptr);
  // What resume() (or, when the number of models differs, grow()) checks, without opening
  // the file for writing (lira validate): throws ResumeMismatch or StorageError as they
  // would; returns when a run could resume (or grow) it.
  static void check_resume(const std::string& path, const ResultsLayout& layout, const RunMetadata& meta);
  // Model m's keep row [N], read from the file (the coordinator holds no keep matrix).
  void read_keep_row(int64_t model, std::vector<uint8_t>& out);
  // Lets workers write signal rows themselves (parallel.result_writes: worker): writes a
  // fresh random nonce into /run_nonce (durable) and returns the file's absolute path, the
  // nonce's byte offset and each signal's row-0 offset and row bytes. Empty (workers send
  // their rows) for a file without /run_nonce (written by an earlier version).
  DirectRows direct_rows();
  ~ResultsWriter();
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  std::vector<uint8_t> done() const;
  // Stores one model's signals and scalars; the model becomes done at the next commit().
  // Throws StorageError if the arrays do not match the layout. A result its worker wrote
  // itself (result.written: the rows are in the file and durable) stores only the scalars.
  void stage_model(const ModelResult& result, int32_t worker);
  // Group commit: writes the staged models' per-model values and makes everything durable
  // (flush + fsync), then sets their done flags and makes those durable. Two fsyncs and a
  // few writes per run of neighbouring models, however many models are staged.
  void commit();
  size_t staged() const { return staged_.size(); }
  // Whether a commit() has anything to write (staged models or changed columns).
  bool uncommitted() const { return !staged_.empty() || !dirty_.empty(); }
  // stage_model + commit.
  void write_model(const ModelResult& result, int32_t worker);
  // Records a model that failed for good: attempts, the failed flag and the message.
  void record_failure(int64_t model, int32_t attempts, const std::string& message);
  // Crash accounting: a job handed to a worker (attempts + 1, running), durable at the
  // next commit; and one given up at a requested stop (no longer running, no crash).
  void record_dispatch(int64_t model);
  void record_abandoned(int64_t model);
  // On resume: the models still marked running were in flight when the last run ended
  // abnormally (a crash of the whole job); each gets crashes + 1 (committed). Returns them.
  std::vector<int64_t> account_crashes();
  int32_t crashes(int64_t model);
  int32_t attempts(int64_t model);
  // The temporary name a new file is built under before it is renamed into place.
  static std::string partial_path(const std::string& path);

  const std::string& path() const { return path_; }
  void close();

 private:
  // One /models/<name> column, mirrored in memory: the writer is the columns' only writer, so
  // the mirror equals the file, and a commit writes runs of neighbouring models from it.
  struct Column {
    std::string name;
    hid_t mem_type;
    size_t bytes;               // per element
    std::vector<uint8_t> data;  // M elements
    h5::Id dataset;
  };
  ResultsWriter(std::string path, ResultsLayout layout, h5::Id file);
  // A complete new file under partial_path(path), durable, not yet renamed into place.
  static std::unique_ptr<ResultsWriter> build(const std::string& path, const ResultsLayout& layout,
                                              const RunMetadata& meta, const KeepBlocks& keep,
                                              std::span<const int64_t> labels, std::span<const int64_t> candidate_index,
                                              std::span<const uint64_t> model_seeds, const TextRecordsView* text);
  // Renames the built file into place (replacing any file there) and makes it durable.
  void commit_into_place(const std::string& path);
  void open_datasets(bool load_columns);  // handles kept open for the whole run
  Column& column(const std::string& name);
  Column* find_column(const std::string& name);
  template <class T>
  void set(const char* name, int64_t model, T value);
  template <class T>
  T get(const char* name, int64_t model);
  void check_model(int64_t model, const char* what) const;
  // Writes elements [first, last] of a column from its mirror.
  void write_run(Column& c, int64_t first, int64_t last);
  // Writes the given models' elements (sorted), in runs of neighbours.
  void write_models(Column& c, const std::vector<int64_t>& models);
  void make_durable();  // H5Fflush, then fsync of the file

  std::string path_;
  ResultsLayout layout_;
  h5::Id file_;
  h5::Id keep_;                  // /keep, read row by row at dispatch
  std::vector<h5::Id> signals_;  // layout_.signals order
  std::vector<Column> columns_;  // /models/* but error
  h5::Id error_;                 // /models/error
  std::vector<int64_t> staged_;
  std::vector<int64_t> dirty_;  // models whose /models/* columns changed (dispatch, abandon)
};

class ResultsReader;

// `lira signals` (docs/privacy.md): writes the signals of one model trained elsewhere on
// the candidates of the results file `results`, with its membership row, as a results
// file of one model at `path` (built as <path>.partial, renamed into place). The results
// file itself is never modified.
struct ExternalTarget {
  std::string model_path, model_identity;  // the TorchScript file and file_identity() of it
  std::vector<uint8_t> membership;         // [N]
  ModelResult result;                      // its signals and accuracies
};
void write_external_target(const std::string& path, const ResultsReader& results, const ExternalTarget& target);

// Read access for scoring and inspection. Accepts the full layout written by
// ResultsWriter and the minimal one (/keep and /signals/<name>) that any tool can write.
class ResultsReader {
 public:
  // `external`: a file of `lira signals` (one model trained elsewhere, scored on this
  // file's candidates and queries), read as one more model after the file's M: row M of
  // /keep and of every signal, done. Throws StorageError when it was made for another
  // results file (other candidates, queries or data).
  explicit ResultsReader(const std::string& path, const std::string& external = "");
  ~ResultsReader();
  // 1 when an external target is appended (the last model), else 0.
  int64_t external_models() const { return external_ ? 1 : 0; }
  const std::string& external_path() const;

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
  // The row checksums of a signal ([models in the file]; 0: none), empty if the file has none.
  std::vector<uint64_t> checksums(const std::string& signal) const;
  std::vector<std::string> model_errors() const;                    // /models/error, empty if absent
  std::vector<int64_t> labels() const;                              // empty if absent
  // [N], 1 for an audit canary (/candidate_index -1, data.canaries); empty if none.
  std::vector<uint8_t> canaries() const;
  // /candidate_index: each candidate's index in the dataset's training split, -1 for a
  // canary; empty if absent (files of other tools).
  std::vector<int64_t> candidate_index() const;
  std::vector<std::string> queries() const;  // attribute, or q0..q{A-1}
  std::string config_yaml() const;           // empty if absent
  std::string attribute(const char* name) const;  // a string root attribute, empty if absent
  bool has_signal(const std::string& name) const;
  // The signals that have row checksums (/models/checksum_<name>), by name.
  std::vector<std::string> checksummed_signals() const;
  // Dimensions of /signals/<name> as stored, without shape checks ([M, N, ...], or [M, S]
  // for a per-token signal); throws if absent.
  std::vector<int64_t> stored_signal_dims(const std::string& name) const;
  // Dimensions of /signals/<name>: [M, N, ...]. Throws if absent or not [M, N, ...].
  std::vector<int64_t> signal_dims(const std::string& name) const;
  // Text results: /offsets [N + 1] (empty if absent), /records/zlib_bytes [N], /tokens [s0, s1).
  std::vector<int64_t> offsets() const;
  std::vector<int64_t> zlib_bytes() const;
  std::vector<int32_t> tokens(int64_t s0, int64_t s1) const;
  // Tokens [s0, s1) of one model's per-token signal /signals/<name> [M, S].
  void read_token_signal(const std::string& name, int64_t model, int64_t s0, int64_t s1, std::vector<float>& out) const;
  // Candidates [n0, n1) of every model: out = [M, n1 - n0, rest...] as float32.
  void read_signal(const std::string& name, int64_t n0, int64_t n1, std::vector<float>& out) const;
  // Storage chunk length along the candidate axis (1 if not chunked): read in multiples.
  int64_t signal_chunk_candidates(const std::string& name) const;
  // Asks the kernel to start reading candidates [n0, n1) of /signals/<name> (or /keep, for
  // name "keep") of every model in the background (posix_fadvise WILLNEED per model row):
  // M scattered segments then load in parallel instead of one synchronous read after
  // another. A no-op for chunked or compressed datasets and where fadvise is unsupported.
  void prefetch(const std::string& name, int64_t n0, int64_t n1) const;

 private:
  // The [m0, m0 + rows) x [n0, n0 + cols) part of /keep into out (0/1 bytes).
  void read_keep_part(int64_t m0, int64_t rows, int64_t n0, int64_t cols, uint8_t* out) const;
  std::string path_;
  h5::Id file_;
  int64_t models_ = 0, candidates_ = 0;
  int64_t file_models_ = 0;  // M of this file; models_ adds the external target
  std::unique_ptr<ResultsReader> external_;
  mutable std::shared_ptr<int> fd_;  // a plain descriptor of the file, for prefetch(); closed with the reader
};

}  // namespace lira
