// Implements ResultsWriter: create, resume, durable per-model writes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <sstream>

#include "results_file.hpp"

#include "common/row_checksum.hpp"

namespace lira {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// "- `training.epochs: 30` in the file, `training.epochs: 20` now" for each differing line
// of two YAML texts of the same keys ("section:" lines give the section names).
// "section.key" -> " value" for each line of a YAML text of sections of scalar keys.
std::vector<std::pair<std::string, std::string>> keyed(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> kv;
  std::string section;
  for (const auto& line : lines(text)) {
    if (!line.empty() && line[0] != ' ') {
      section = line.substr(0, line.find(':'));
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto first = line.find_first_not_of(' ');
    kv.emplace_back(section + "." + line.substr(first, colon - first), line.substr(colon + 1));
  }
  return kv;
}

// The fingerprint text without its experiment.models line: what must match for growth.
std::string without_models(const std::string& text) {
  std::string out;
  for (const auto& [key, value] : keyed(text))
    if (key != "experiment.models") out += key + ":" + value + "\n";
  return out;
}

std::string describe_config_difference(const std::string& before, const std::string& now) {
  const auto a = keyed(before), b = keyed(now);
  std::string out;
  for (const auto& [key, value] : b) {
    auto it = std::find_if(a.begin(), a.end(), [&](const auto& p) { return p.first == key; });
    const std::string old = it == a.end() ? " (absent)" : it->second;
    if (old != value) out += "\n  - " + key + ":" + old + " in the file, " + key + ":" + value + " now";
  }
  for (const auto& [key, value] : a)
    if (std::none_of(b.begin(), b.end(), [&](const auto& p) { return p.first == key; }))
      out += "\n  - " + key + ":" + value + " in the file, absent now";
  return out;
}

std::string describe_line_difference(const std::string& before, const std::string& now) {
  const auto a = lines(before), b = lines(now);
  std::string out;
  for (const auto& l : a)
    if (std::find(b.begin(), b.end(), l) == b.end()) out += "\n  - the file was made with: " + l;
  for (const auto& l : b)
    if (std::find(a.begin(), a.end(), l) == a.end()) out += "\n  - this run reads:          " + l;
  return out;
}


}  // namespace

ResultsWriter::ResultsWriter(std::string path, ResultsLayout layout, h5::Id file)
    : path_(std::move(path)), layout_(std::move(layout)), file_(std::move(file)) {}

std::unique_ptr<ResultsWriter> ResultsWriter::create(const std::string& path, const ResultsLayout& layout,
                                                     const RunMetadata& meta, std::span<const uint8_t> keep,
                                                     std::span<const int64_t> labels,
                                                     std::span<const int64_t> candidate_index,
                                                     std::span<const uint64_t> model_seeds, Mode mode,
                                                     const TextRecordsView* text) {
  if (keep.size() != static_cast<size_t>(layout.models * layout.candidates))
    throw Error("ResultsWriter: the keep matrix's size does not match the layout");
  const KeepBlocks whole = [&](const KeepBlockSink& sink) { sink(0, layout.models, 0, layout.candidates, keep.data()); };
  return create(path, layout, meta, whole, labels, candidate_index, model_seeds, mode, text);
}

std::unique_ptr<ResultsWriter> ResultsWriter::create(const std::string& path, const ResultsLayout& layout,
                                                     const RunMetadata& meta, const KeepBlocks& keep,
                                                     std::span<const int64_t> labels,
                                                     std::span<const int64_t> candidate_index,
                                                     std::span<const uint64_t> model_seeds, Mode mode,
                                                     const TextRecordsView* text) {
  std::error_code ec;
  if (mode == Mode::kCreateNew && fs::exists(path, ec))
    throw StorageError("results file '" + path +
                       "' already exists; choose another path with --out PATH, or pass --overwrite to replace it");
  auto w = build(path, layout, meta, keep, labels, candidate_index, model_seeds, text);
  if (mode == Mode::kCreateNew && fs::exists(path, ec))
    throw StorageError("results file '" + path + "' appeared while this run was creating it; choose another --out");
  w->commit_into_place(path);  // replacing the old file under --overwrite only now
  return w;
}

std::unique_ptr<ResultsWriter> ResultsWriter::build(const std::string& path, const ResultsLayout& layout,
                                                    const RunMetadata& meta, const KeepBlocks& keep,
                                                    std::span<const int64_t> labels,
                                                    std::span<const int64_t> candidate_index,
                                                    std::span<const uint64_t> model_seeds,
                                                    const TextRecordsView* text) {
  h5::silence_default_errors();
  const auto M = static_cast<hsize_t>(layout.models);
  const auto N = static_cast<hsize_t>(layout.candidates);
  if (labels.size() != N || candidate_index.size() != N || model_seeds.size() != M)
    throw Error("ResultsWriter: labels/index/seed sizes do not match the layout");

  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec) throw StorageError("cannot create directory '" + parent.string() + "' for the results file: " + ec.message());
  }
  // Built under a temporary name and renamed into place once complete and durable: a
  // crash before the rename leaves nothing at `path` (the next run removes the remains).
  const std::string partial = partial_path(path);
  auto file = h5::create_partial(path, "check that the directory is writable, or choose another path with --out");
  // A failure before the rename (a full disk, most likely) removes the temporary.
  h5::RemoveUnlessKept cleanup{partial};

  h5::write_int_attr(file, "format_version", kResultsFormatVersion);
  h5::write_string_attr(file, "lira_version", meta.lira_version);
  h5::write_string_attr(file, "config", meta.config_yaml);
  h5::write_string_attr(file, "fingerprint_config", meta.fingerprint_config);
  h5::write_string_attr(file, "fingerprint_data", meta.fingerprint_data);
  h5::write_string_attr(file, "keep_scheme", meta.keep_scheme);
  h5::write_string_array_attr(file, "queries", layout.queries);

  // /keep: allocated, then written block by block as the plan draws it.
  h5::write_dataset(file, "keep", H5T_STD_U8LE, H5T_NATIVE_UINT8, {M, N}, nullptr, path);
  {
    auto ds = h5::dataset_id(H5Dopen2(file, "keep", H5P_DEFAULT), "open /keep in " + partial);
    std::vector<int> rows_covered(M, 0);
    keep([&](int64_t m0, int64_t rows, int64_t n0, int64_t cols, const uint8_t* block) {
      if (m0 < 0 || rows < 0 || n0 < 0 || cols < 0 || static_cast<hsize_t>(m0 + rows) > M ||
          static_cast<hsize_t>(n0 + cols) > N)
        throw Error("ResultsWriter: a keep block outside the layout");
      h5::write_block(ds, H5T_NATIVE_UINT8, {static_cast<hsize_t>(m0), static_cast<hsize_t>(n0)},
                      {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)}, block, "/keep in " + partial);
    });
    ds.close_checked("/keep in " + partial);
  }
  // 16 bytes each run overwrites with a fresh nonce: how a worker that writes its own rows
  // knows it has the coordinator's file (direct_rows()).
  const std::vector<uint8_t> no_nonce(16, 0);
  h5::write_dataset(file, "run_nonce", H5T_STD_U8LE, H5T_NATIVE_UINT8, {16}, no_nonce.data(), path);
  h5::write_dataset(file, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, {N}, labels.data(), path);
  h5::write_dataset(file, "candidate_index", H5T_STD_I64LE, H5T_NATIVE_INT64, {N}, candidate_index.data(), path);
  if (text) {
    if (text->offsets.size() != N + 1 || text->zlib_bytes.size() != N ||
        static_cast<size_t>(text->offsets.back()) != text->tokens.size())
      throw Error("ResultsWriter: text records do not match the layout");
    h5::write_dataset(file, "tokens", H5T_STD_I32LE, H5T_NATIVE_INT32, {static_cast<hsize_t>(text->tokens.size())},
                      text->tokens.data(), path);
    h5::write_dataset(file, "offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {N + 1}, text->offsets.data(), path);
    auto records = h5::group_id(H5Gcreate2(file, "records", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group /records");
    h5::write_dataset(records, "zlib_bytes", H5T_STD_I64LE, H5T_NATIVE_INT64, {N}, text->zlib_bytes.data(), path);
  }

  // Signals: contiguous [M, ...], allocated and filled with NaN now, so that the rows of a
  // model not done read as NaN (HDF5 writes the fill value at allocation: the file's whole
  // size is written once, at disk speed, before the run starts).
  auto signals = h5::group_id(H5Gcreate2(file, "signals", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group /signals");
  for (const auto& spec : layout.signals) {
    std::vector<hsize_t> dims{M};
    for (auto d : spec.shape) dims.push_back(static_cast<hsize_t>(d));
    h5::write_nan_filled_dataset(signals, spec.name, dims, path);
  }

  auto models = h5::group_id(H5Gcreate2(file, "models", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group /models");
  const std::vector<uint8_t> zeros_u8(M, 0);
  const std::vector<int32_t> zeros_i32(M, 0), no_worker(M, -1);
  const std::vector<double> nans(M, std::numeric_limits<double>::quiet_NaN());
  h5::write_dataset(models, "done", H5T_STD_U8LE, H5T_NATIVE_UINT8, {M}, zeros_u8.data(), path);
  h5::write_dataset(models, "failed", H5T_STD_U8LE, H5T_NATIVE_UINT8, {M}, zeros_u8.data(), path);
  h5::write_dataset(models, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, {M}, model_seeds.data(), path);
  h5::write_dataset(models, "attempts", H5T_STD_I32LE, H5T_NATIVE_INT32, {M}, zeros_i32.data(), path);
  h5::write_dataset(models, "worker", H5T_STD_I32LE, H5T_NATIVE_INT32, {M}, no_worker.data(), path);
  h5::write_dataset(models, "running", H5T_STD_U8LE, H5T_NATIVE_UINT8, {M}, zeros_u8.data(), path);
  h5::write_dataset(models, "crashes", H5T_STD_I32LE, H5T_NATIVE_INT32, {M}, zeros_i32.data(), path);
  for (const char* name : {"train_accuracy", "test_accuracy", "train_seconds", "finished_at"})
    h5::write_dataset(models, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {M}, nans.data(), path);
  if (layout.dp)
    for (const char* name : {"dp_epsilon", "dp_noise_multiplier"})
      h5::write_dataset(models, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {M}, nans.data(), path);
  const std::vector<uint64_t> no_checksum(M, 0);
  for (const auto& spec : layout.signals)
    h5::write_dataset(models, checksum_column(spec.name), H5T_STD_U64LE, H5T_NATIVE_UINT64, {M}, no_checksum.data(),
                      path);
  auto error_type = h5::type_id(H5Tcopy(H5T_C_S1), "error string type");
  h5::check(H5Tset_size(error_type, kErrorMessageBytes), "error string type");
  const std::vector<char> empty(M * kErrorMessageBytes, '\0');
  h5::write_dataset(models, "error", error_type, error_type, {M}, empty.data(), path);

  std::unique_ptr<ResultsWriter> w(new ResultsWriter(partial, layout, std::move(file)));
  w->open_datasets(true);
  w->make_durable();
  cleanup.keep = true;  // whole now: a failed rename leaves it, and the next run removes it
  return w;
}

void ResultsWriter::commit_into_place(const std::string& path) {
  // The directory entry is made durable too; the open handle follows the file.
  h5::commit_partial(path);
  path_ = path;
}

std::string ResultsWriter::partial_path(const std::string& path) { return h5::partial_path(path); }

namespace {

int64_t models_of(hid_t file, const std::string& path) {
  if (!h5::link_exists(file, "/keep")) throw ResumeMismatch("'" + path + "' has no /keep; it is not a lira results file");
  auto ds = h5::dataset_id(H5Dopen2(file, "/keep", H5P_DEFAULT), "open /keep in " + path);
  const auto dims = h5::dataset_dims(ds, "/keep in " + path);
  if (dims.size() != 2) throw ResumeMismatch("/keep in '" + path + "' is not a matrix");
  return static_cast<int64_t>(dims[0]);
}

// A fingerprint written before training.recipe existed has no recipe line; such a file
// was trained with what `auto` means (airbench94's recipe for its network, the generic one
// otherwise: common/recipes.cpp), so that line is added before the comparison.
std::string with_recipe(const std::string& fingerprint) {
  if (fingerprint.find("\n  recipe: ") != std::string::npos) return fingerprint;
  const auto training = fingerprint.find("training:\n");
  if (training == std::string::npos) return fingerprint;
  const bool airbench94 = fingerprint.find("\n  arch: \"airbench94\"\n") != std::string::npos;
  std::string out = fingerprint;
  out.insert(training + 10, std::string("  recipe: \"") + (airbench94 ? "airbench94" : "generic") + "\"\n");
  return out;
}

// Whether the open file `file` at `path` can be resumed by a run with this layout and
// metadata -- or, with `growing`, grown to layout.models models; throws ResumeMismatch
// saying why not.
void check_resumable(hid_t file, const std::string& path, const ResultsLayout& layout, const RunMetadata& meta,
                     bool growing) {
  const std::string start_over =
      "\nTo start over instead: pass another --out PATH, or --overwrite to replace '" + path + "'.";
  if (!h5::attr_exists(file, "format_version") || !h5::attr_exists(file, "fingerprint_config"))
    throw ResumeMismatch("'" + path + "' was not written by a lira run of this version (no fingerprint); it cannot "
                         "be resumed." + start_over);
  const int64_t format = h5::read_int_attr(file, "format_version");
  if (format != kResultsFormatVersion)
    throw ResumeMismatch("'" + path + "' has results format " + std::to_string(format) + ", this lira writes " +
                         std::to_string(kResultsFormatVersion) + "; it cannot be resumed (lira score still reads it)." +
                         start_over);
  const int64_t file_models = models_of(file, path);
  const auto old_config = with_recipe(h5::read_string_attr(file, "fingerprint_config").front());
  const auto old_data = h5::read_string_attr(file, "fingerprint_data").front();
  const std::string scheme = h5::attr_exists(file, "keep_scheme") ? h5::read_string_attr(file, "keep_scheme").front()
                                                                 : std::string("subsets");
  std::string differences;
  const auto new_config = with_recipe(meta.fingerprint_config);
  const bool same_config =
      growing ? without_models(old_config) == without_models(new_config) : old_config == new_config;
  if (!same_config)
    differences += "\nthe configuration differs:" + describe_config_difference(old_config, new_config);
  if (old_data != meta.fingerprint_data)
    differences += "\nthe data differs:" + describe_line_difference(old_data, meta.fingerprint_data);
  if (!differences.empty())
    throw ResumeMismatch("'" + path + "' holds the results of another experiment, so this run will not add to it." +
                         differences + start_over);
  if (growing) {
    const std::string counts = "'" + path + "' has " + std::to_string(file_models) + " models, this run asks for " +
                               std::to_string(layout.models) + " (experiment.models)";
    if (layout.models < file_models)
      throw ResumeMismatch(counts + "; an experiment never shrinks. To score fewer models, score this file as it is; "
                           "to train a smaller experiment, pass another --out." + start_over);
    if (scheme != "pairs" || meta.keep_scheme != "pairs")
      throw ResumeMismatch(counts + ", but its keep matrix was drawn with experiment.keep_scheme: " + scheme +
                           ", where every candidate's IN models are drawn among all M, so more models would change the "
                           "rows of the trained ones. Only keep_scheme: pairs grows (start the experiment with it); "
                           "or set experiment.models: " + std::to_string(file_models) + " to resume it as it is." +
                           start_over);
  }
  // Same fingerprint means the same layout; check anyway, it costs nothing.
  for (const auto& spec : layout.signals) {
    const std::string name = "/signals/" + spec.name;
    if (!h5::link_exists(file, name))
      throw ResumeMismatch("'" + path + "' has no " + name + "; it cannot be resumed." + start_over);
    auto ds = h5::dataset_id(H5Dopen2(file, name.c_str(), H5P_DEFAULT), "open " + name);
    auto dims = h5::dataset_dims(ds, name);
    std::vector<hsize_t> want{static_cast<hsize_t>(file_models)};
    for (auto d : spec.shape) want.push_back(static_cast<hsize_t>(d));
    if (dims != want) throw ResumeMismatch(name + " in '" + path + "' has another shape." + start_over);
  }
}

void check_is_hdf5(const std::string& path) {
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw ResumeMismatch("'" + path + "' exists but is not an HDF5 file, so this run cannot resume it.\nTo start "
                         "over instead: pass another --out PATH, or --overwrite to replace '" + path + "'.");
}

}  // namespace

namespace {

h5::Id open_for_writing(const std::string& path, const char* what) {
  auto fapl = h5::file_access_for_writing();
  const hid_t fid = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  if (fid < 0)
    throw StorageError("cannot open '" + path + "' to " + what + " it (HDF5: " + h5::error_stack() +
                       "); check that it is writable");
  return h5::file_id(fid, "open " + path);
}

h5::Id open_read_only(const std::string& path) {
  // Read-only and without HDF5's file locking: a run may be writing the file now.
  auto fapl = h5::file_access_without_locking();
  const hid_t fid = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (fid < 0) throw StorageError("cannot open '" + path + "' (HDF5: " + h5::error_stack() + ")");
  return h5::file_id(fid, "open " + path);
}

}  // namespace

std::unique_ptr<ResultsWriter> ResultsWriter::resume(const std::string& path, const ResultsLayout& layout,
                                                     const RunMetadata& meta) {
  h5::silence_default_errors();
  check_is_hdf5(path);
  auto file = open_for_writing(path, "resume");
  const int64_t file_models = models_of(file, path);
  // Another count is checked as a growth, whose refusals say why; a growth that passes
  // is grow()'s to do (open_results in the coordinator calls it), not resume's.
  check_resumable(file, path, layout, meta, file_models != layout.models);
  if (file_models != layout.models)
    throw ResumeMismatch("'" + path + "' has " + std::to_string(file_models) + " models, this run " +
                         std::to_string(layout.models) + "; ResultsWriter::grow makes it larger, resume does not");
  std::unique_ptr<ResultsWriter> w(new ResultsWriter(path, layout, std::move(file)));
  w->open_datasets(true);
  return w;
}

int64_t ResultsWriter::models_in(const std::string& path) {
  h5::silence_default_errors();
  check_is_hdf5(path);
  return models_of(open_read_only(path), path);
}

void ResultsWriter::check_resume(const std::string& path, const ResultsLayout& layout, const RunMetadata& meta) {
  h5::silence_default_errors();
  check_is_hdf5(path);
  auto file = open_read_only(path);
  check_resumable(file, path, layout, meta, models_of(file, path) != layout.models);
}

std::unique_ptr<ResultsWriter> ResultsWriter::grow(const std::string& path, const ResultsLayout& layout,
                                                   const RunMetadata& meta, const KeepBlocks& keep,
                                                   std::span<const int64_t> labels,
                                                   std::span<const int64_t> candidate_index,
                                                   std::span<const uint64_t> model_seeds, const TextRecordsView* text) {
  h5::silence_default_errors();
  check_is_hdf5(path);
  // The old file stays untouched until the new one is complete and durable; the run lock
  // (orchestrator/run_lock.hpp) keeps other runs away meanwhile.
  auto old = open_read_only(path);
  check_resumable(old, path, layout, meta, true);
  const int64_t M0 = models_of(old, path), N = layout.candidates;
  auto w = build(path, layout, meta, keep, labels, candidate_index, model_seeds, text);
  h5::RemoveUnlessKept cleanup{partial_path(path)};
  const std::string growing = "growing '" + path + "'";

  // The first M0 keep rows and seeds must be the old file's: the scheme's promise, checked.
  {
    auto old_keep = h5::dataset_id(H5Dopen2(old, "/keep", H5P_DEFAULT), "open /keep in " + path);
    std::vector<uint8_t> a(static_cast<size_t>(N)), b;
    for (int64_t m = 0; m < M0; ++m) {
      h5::read_block(old_keep, H5T_NATIVE_UINT8, {static_cast<hsize_t>(m), 0}, {1, static_cast<hsize_t>(N)}, a.data(),
                     "/keep in " + path);
      w->read_keep_row(m, b);
      if (a != b)
        throw ResumeMismatch(growing + ": model " + std::to_string(m) + "'s keep row differs from the one this run "
                             "draws, so its results cannot be kept (a file written by another lira version?). Pass "
                             "another --out, or --overwrite to start over.");
    }
    std::vector<uint64_t> seeds(static_cast<size_t>(M0));
    auto old_seeds = h5::dataset_id(H5Dopen2(old, "/models/seed", H5P_DEFAULT), "open /models/seed in " + path);
    h5::read_block(old_seeds, H5T_NATIVE_UINT64, {0}, {static_cast<hsize_t>(M0)}, seeds.data(), "/models/seed");
    if (!std::equal(seeds.begin(), seeds.end(), model_seeds.begin()))
      throw ResumeMismatch(growing + ": the first models' seeds differ from this run's; pass another --out, or "
                           "--overwrite to start over.");
  }
  // Signals: the first M0 rows, in blocks of rows of at most ~64 MB.
  for (size_t i = 0; i < layout.signals.size(); ++i) {
    const auto& spec = layout.signals[i];
    const std::string name = "/signals/" + spec.name;
    auto src = h5::dataset_id(H5Dopen2(old, name.c_str(), H5P_DEFAULT), "open " + name + " in " + path);
    const int64_t per_row = spec.elements();
    const int64_t rows = std::max<int64_t>(1, (int64_t{64} << 20) / 4 / std::max<int64_t>(per_row, 1));
    std::vector<float> buffer;
    for (int64_t m0 = 0; m0 < M0; m0 += rows) {
      const int64_t r = std::min(rows, M0 - m0);
      buffer.resize(static_cast<size_t>(r * per_row));
      std::vector<hsize_t> start(spec.shape.size() + 1, 0), count{static_cast<hsize_t>(r)};
      start[0] = static_cast<hsize_t>(m0);
      for (auto d : spec.shape) count.push_back(static_cast<hsize_t>(d));
      h5::read_block(src, H5T_NATIVE_FLOAT, start, count, buffer.data(), name + " in " + path);
      h5::write_block(w->signals_[i], H5T_NATIVE_FLOAT, start, count, buffer.data(), name + " while " + growing);
    }
  }
  // /models/*: the first M0 entries of every column (and the error strings).
  for (auto& c : w->columns_) {
    const std::string name = std::string("/models/") + c.name;
    if (!h5::link_exists(old, name)) continue;  // checksums, from a file written before them: 0 (none)
    auto src = h5::dataset_id(H5Dopen2(old, name.c_str(), H5P_DEFAULT), "open " + name + " in " + path);
    h5::read_block(src, c.mem_type, {0}, {static_cast<hsize_t>(M0)}, c.data.data(), name + " in " + path);
    w->write_run(c, 0, M0 - 1);
  }
  {
    auto type = h5::type_id(H5Tcopy(H5T_C_S1), "error string type");
    h5::check(H5Tset_size(type, kErrorMessageBytes), "error string type");
    std::vector<char> errors(static_cast<size_t>(M0) * kErrorMessageBytes);
    auto src = h5::dataset_id(H5Dopen2(old, "/models/error", H5P_DEFAULT), "open /models/error in " + path);
    h5::read_block(src, type, {0}, {static_cast<hsize_t>(M0)}, errors.data(), "/models/error in " + path);
    h5::write_block(w->error_, type, {0}, {static_cast<hsize_t>(M0)}, errors.data(), "/models/error while " + growing);
  }
  old.reset();
  w->make_durable();
  cleanup.keep = true;
  w->commit_into_place(path);  // replaces the old file in one step
  return w;
}

DirectRows ResultsWriter::direct_rows() {
  if (!h5::link_exists(file_, "/run_nonce")) return {};
  auto nonce_ds = h5::dataset_id(H5Dopen2(file_, "/run_nonce", H5P_DEFAULT), "open /run_nonce in " + path_);
  DirectRows d;
  d.nonce.resize(16);
  std::random_device entropy;
  for (auto& b : d.nonce) b = static_cast<uint8_t>(entropy());
  h5::check(H5Dwrite(nonce_ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.nonce.data()),
            "write /run_nonce in " + path_);
  make_durable();
  const haddr_t nonce_at = H5Dget_offset(nonce_ds);
  if (nonce_at == HADDR_UNDEF) return {};
  d.nonce_offset = nonce_at;
  for (size_t i = 0; i < layout_.signals.size(); ++i) {
    const haddr_t at = H5Dget_offset(signals_[i]);  // contiguous and allocated at creation
    if (at == HADDR_UNDEF) return {};
    d.signals.push_back({layout_.signals[i].name, at,
                         static_cast<uint64_t>(layout_.signals[i].elements()) * sizeof(float)});
  }
  std::error_code ec;
  d.path = fs::absolute(path_, ec).string();
  if (ec) return {};
  return d;
}

void ResultsWriter::read_keep_row(int64_t model, std::vector<uint8_t>& out) {
  check_model(model, "keep row");
  out.resize(static_cast<size_t>(layout_.candidates));
  h5::read_block(keep_, H5T_NATIVE_UINT8, {static_cast<hsize_t>(model), 0},
                 {1, static_cast<hsize_t>(layout_.candidates)}, out.data(), "/keep in " + path_);
}

ResultsWriter::~ResultsWriter() {
  // Close without throwing; the data of committed models is durable already.
  signals_.clear();
  keep_.reset();
  columns_.clear();
  error_.reset();
  file_.reset();
}

std::vector<uint8_t> ResultsWriter::done() const {
  auto it = std::find_if(columns_.begin(), columns_.end(), [](const Column& c) { return c.name == "done"; });
  return it->data;
}

void ResultsWriter::open_datasets(bool load_columns) {
  keep_ = h5::dataset_id(H5Dopen2(file_, "/keep", H5P_DEFAULT), "open /keep in " + path_);
  for (const auto& spec : layout_.signals) {
    const std::string name = "/signals/" + spec.name;
    signals_.push_back(h5::dataset_id(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), "open " + name + " in " + path_));
  }
  const auto M = static_cast<size_t>(layout_.models);
  std::vector<std::pair<const char*, hid_t>> columns = {
      {"done", H5T_NATIVE_UINT8},          {"failed", H5T_NATIVE_UINT8},         {"attempts", H5T_NATIVE_INT32},
      {"worker", H5T_NATIVE_INT32},        {"train_accuracy", H5T_NATIVE_DOUBLE}, {"test_accuracy", H5T_NATIVE_DOUBLE},
      {"train_seconds", H5T_NATIVE_DOUBLE}, {"finished_at", H5T_NATIVE_DOUBLE}, {"running", H5T_NATIVE_UINT8},
      {"crashes", H5T_NATIVE_INT32}};
  if (layout_.dp) columns.insert(columns.end(), {{"dp_epsilon", H5T_NATIVE_DOUBLE}, {"dp_noise_multiplier", H5T_NATIVE_DOUBLE}});
  std::vector<std::pair<std::string, hid_t>> all(columns.begin(), columns.end());
  // Each signal's row checksums (common/row_checksum.hpp), where the file has them (files
  // from before checksums do not: their models are then written without).
  for (const auto& spec : layout_.signals)
    if (h5::link_exists(file_, "/models/" + checksum_column(spec.name)))
      all.emplace_back(checksum_column(spec.name), H5T_NATIVE_UINT64);
  for (const auto& [name, type] : all) {
    const std::string full = "/models/" + name;
    Column c{name, type, H5Tget_size(type), {}, h5::dataset_id(H5Dopen2(file_, full.c_str(), H5P_DEFAULT), "open " + full)};
    c.data.resize(M * c.bytes);
    if (load_columns && M > 0)
      h5::check(H5Dread(c.dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.data.data()), "read " + full + " in " + path_);
    columns_.push_back(std::move(c));
  }
  error_ = h5::dataset_id(H5Dopen2(file_, "/models/error", H5P_DEFAULT), "open /models/error in " + path_);
}

ResultsWriter::Column* ResultsWriter::find_column(const std::string& name) {
  for (auto& c : columns_)
    if (c.name == name) return &c;
  return nullptr;
}

ResultsWriter::Column& ResultsWriter::column(const std::string& name) {
  if (auto* c = find_column(name)) return *c;
  throw Error("ResultsWriter: no column " + name);
}

template <class T>
void ResultsWriter::set(const char* name, int64_t model, T value) {
  Column& c = column(name);
  if (c.bytes != sizeof(T)) throw Error(std::string("ResultsWriter: wrong element type for column ") + c.name);
  std::memcpy(c.data.data() + static_cast<size_t>(model) * sizeof(T), &value, sizeof(T));
}

void ResultsWriter::make_durable() { h5::make_durable(file_, path_); }

void ResultsWriter::write_run(Column& c, int64_t first, int64_t last) {
  auto fspace = h5::space_id(H5Dget_space(c.dataset), std::string("space of /models/") + c.name);
  const hsize_t start = static_cast<hsize_t>(first), count = static_cast<hsize_t>(last - first + 1);
  h5::check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, nullptr, &count, nullptr), "select /models/" + std::string(c.name));
  auto mspace = h5::make_space({count}, "memory space");
  h5::check(H5Dwrite(c.dataset, c.mem_type, mspace, fspace, H5P_DEFAULT, c.data.data() + start * c.bytes),
            "write /models/" + std::string(c.name) + " in " + path_);
}

void ResultsWriter::write_models(Column& c, const std::vector<int64_t>& models) {
  // Neighbours closer than this are written as one run (rewriting the mirror's values in
  // between, which equal the file's): one write instead of many.
  constexpr int64_t kMaxGap = 4096;
  for (size_t i = 0; i < models.size();) {
    size_t j = i;
    while (j + 1 < models.size() && models[j + 1] - models[j] <= kMaxGap) ++j;
    write_run(c, models[i], models[j]);
    i = j + 1;
  }
}

void ResultsWriter::write_model(const ModelResult& r, int32_t worker) {
  stage_model(r, worker);
  commit();
}

void ResultsWriter::commit() {
  if (staged_.empty() && dirty_.empty()) return;
  std::sort(staged_.begin(), staged_.end());
  staged_.erase(std::unique(staged_.begin(), staged_.end()), staged_.end());
  std::vector<int64_t> rows = dirty_;
  rows.insert(rows.end(), staged_.begin(), staged_.end());
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  for (auto& c : columns_)
    if (c.name != "done") write_models(c, rows);
  make_durable();  // the data is on disk before the flags that vouch for it
  dirty_.clear();
  if (staged_.empty()) return;
  for (int64_t m : staged_) set<uint8_t>("done", m, 1);
  write_models(column("done"), staged_);
  make_durable();
  staged_.clear();
}

template <class T>
T ResultsWriter::get(const char* name, int64_t model) {
  Column& c = column(name);
  T value;
  std::memcpy(&value, c.data.data() + static_cast<size_t>(model) * sizeof(T), sizeof(T));
  return value;
}

void ResultsWriter::check_model(int64_t model, const char* what) const {
  if (model < 0 || model >= layout_.models)
    throw StorageError(std::string(what) + " of model " + std::to_string(model) + " outside [0, " +
                       std::to_string(layout_.models) + ")");
}

void ResultsWriter::record_dispatch(int64_t model) {
  check_model(model, "dispatch");
  set<int32_t>("attempts", model, get<int32_t>("attempts", model) + 1);
  set<uint8_t>("running", model, 1);
  dirty_.push_back(model);
}

void ResultsWriter::record_abandoned(int64_t model) {
  check_model(model, "abandoning");
  set<uint8_t>("running", model, 0);
  dirty_.push_back(model);
}

std::vector<int64_t> ResultsWriter::account_crashes() {
  std::vector<int64_t> crashed;
  for (int64_t m = 0; m < layout_.models; ++m) {
    if (get<uint8_t>("running", m) == 0) continue;
    set<uint8_t>("running", m, 0);
    if (get<uint8_t>("done", m) == 0) {
      set<int32_t>("crashes", m, get<int32_t>("crashes", m) + 1);
      crashed.push_back(m);
    }
    dirty_.push_back(m);
  }
  commit();
  return crashed;
}

int32_t ResultsWriter::crashes(int64_t model) {
  check_model(model, "crash count");
  return get<int32_t>("crashes", model);
}

int32_t ResultsWriter::attempts(int64_t model) {
  check_model(model, "attempt count");
  return get<int32_t>("attempts", model);
}

void ResultsWriter::stage_model(const ModelResult& r, int32_t worker) {
  if (r.model < 0 || r.model >= layout_.models)
    throw StorageError("result for model " + std::to_string(r.model) + " outside [0, " +
                       std::to_string(layout_.models) + ")");
  // Check everything before writing anything.
  std::vector<const SignalArray*> arrays;
  for (const auto& spec : layout_.signals) {
    auto it = std::find_if(r.signals.begin(), r.signals.end(), [&](const SignalArray& s) { return s.name == spec.name; });
    if (it == r.signals.end())
      throw StorageError("result of model " + std::to_string(r.model) + " lacks signal '" + spec.name + "'");
    if (it->shape != spec.shape || static_cast<int64_t>(it->values.size()) != (r.written ? 0 : spec.elements()))
      throw StorageError("result of model " + std::to_string(r.model) + ": signal '" + spec.name +
                         "' has the wrong shape for this results file");
    arrays.push_back(&*it);
  }
  for (size_t i = 0; i < arrays.size() && !r.written; ++i) {
    const SignalArray& s = *arrays[i];
    const std::string& name = layout_.signals[i].name;
    auto fspace = h5::space_id(H5Dget_space(signals_[i]), "space of /signals/" + name);
    std::vector<hsize_t> start(s.shape.size() + 1, 0), count{1};
    start[0] = static_cast<hsize_t>(r.model);
    for (auto d : s.shape) count.push_back(static_cast<hsize_t>(d));
    h5::check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
              "select /signals/" + name);
    auto mspace = h5::make_space(count, "memory space");
    h5::check(H5Dwrite(signals_[i], H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, s.values.data()),
              "write /signals/" + name + " of model " + std::to_string(r.model) + " in " + path_);
  }
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  set<int32_t>("attempts", r.model, std::max(get<int32_t>("attempts", r.model), r.attempt + 1));
  set<uint8_t>("running", r.model, 0);
  set<int32_t>("worker", r.model, worker);
  set<double>("train_accuracy", r.model, r.train_accuracy);
  set<double>("test_accuracy", r.model, r.test_accuracy);
  set<double>("train_seconds", r.model, r.train_seconds);
  if (layout_.dp) {
    set<double>("dp_epsilon", r.model, r.dp_epsilon);
    set<double>("dp_noise_multiplier", r.model, r.dp_noise_multiplier);
  }
  set<double>("finished_at", r.model, now);
  set<uint8_t>("failed", r.model, 0);  // a retried model may have failed before
  for (size_t i = 0; i < arrays.size(); ++i)
    if (auto* c = find_column(checksum_column(layout_.signals[i].name))) {
      // Rows the coordinator wrote just now: their checksum here; rows a worker wrote: the
      // checksum it computed of the bytes it wrote.
      const uint64_t sum = r.written ? arrays[i]->checksum
                                     : RowChecksum::of(arrays[i]->values.data(), arrays[i]->values.size());
      std::memcpy(c->data.data() + static_cast<size_t>(r.model) * sizeof sum, &sum, sizeof sum);
    }
  staged_.push_back(r.model);
}

void ResultsWriter::record_failure(int64_t model, int32_t attempts, const std::string& message) {
  if (model < 0 || model >= layout_.models)
    throw StorageError("failure of model " + std::to_string(model) + " outside [0, " + std::to_string(layout_.models) + ")");
  char text[kErrorMessageBytes] = {};
  std::memcpy(text, message.data(), std::min(message.size(), kErrorMessageBytes - 1));
  auto type = h5::type_id(H5Tcopy(H5T_C_S1), "error string type");
  h5::check(H5Tset_size(type, kErrorMessageBytes), "error string type");
  auto fspace = h5::space_id(H5Dget_space(error_), "space of /models/error");
  const hsize_t start = static_cast<hsize_t>(model), count = 1;
  h5::check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, nullptr, &count, nullptr), "select /models/error");
  auto mspace = h5::make_space({1}, "memory space");
  h5::check(H5Dwrite(error_, type, mspace, fspace, H5P_DEFAULT, text), "write /models/error in " + path_);
  set<int32_t>("attempts", model, std::max(get<int32_t>("attempts", model), attempts));
  set<uint8_t>("failed", model, 1);
  set<uint8_t>("running", model, 0);
  for (const char* name : {"attempts", "failed", "running"}) write_run(column(name), model, model);
  make_durable();
}

void ResultsWriter::close() {
  if (!file_.valid()) return;
  commit();
  make_durable();
  // Closing the datasets checked: a deferred write error surfaces here, not silently.
  for (size_t i = 0; i < signals_.size(); ++i) signals_[i].close_checked("/signals/" + layout_.signals[i].name + " in " + path_);
  for (auto& c : columns_) c.dataset.close_checked(std::string("/models/") + c.name + " in " + path_);
  error_.close_checked("/models/error in " + path_);
  keep_.close_checked("/keep in " + path_);
  const hid_t id = file_.release();  // never close twice, even if H5Fclose fails
  h5::check(H5Fclose(id), "close " + path_);
}

}  // namespace lira
