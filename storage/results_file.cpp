// Implements ResultsWriter and ResultsReader over the HDF5 C API.
#include "results_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

namespace lira {
namespace fs = std::filesystem;
namespace {

// Chunks of a signal dataset are one model by a run of candidates: at most 256 KiB, and
// short enough that one chunk-column of every model (what the scorer reads per block)
// stays within 256 MiB however many models there are.
constexpr int64_t kChunkBytes = 256 * 1024;
constexpr int64_t kChunkColumnBytes = 256ll << 20;

h5::Id make_space(const std::vector<hsize_t>& dims, const std::string& what) {
  return h5::space_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), what);
}

void write_whole(hid_t loc, const char* name, hid_t file_type, hid_t mem_type, const std::vector<hsize_t>& dims,
                 const void* data, const std::string& file) {
  auto space = make_space(dims, "dataspace for " + std::string(name));
  auto ds = h5::dataset_id(H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                           "create dataset " + std::string(name) + " in " + file);
  if (data) h5::check(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + std::string(name) + " in " + file);
}

void write_string_attr(hid_t loc, const char* name, const std::string& value) {
  auto type = h5::type_id(H5Tcopy(H5T_C_S1), "string type");
  h5::check(H5Tset_size(type, H5T_VARIABLE), "string type");
  h5::check(H5Tset_cset(type, H5T_CSET_UTF8), "string type");
  auto space = h5::space_id(H5Screate(H5S_SCALAR), "scalar space");
  auto attr = h5::attr_id(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), std::string("attribute ") + name);
  const char* p = value.c_str();
  h5::check(H5Awrite(attr, type, &p), std::string("write attribute ") + name);
}

void write_string_array_attr(hid_t loc, const char* name, const std::vector<std::string>& values) {
  auto type = h5::type_id(H5Tcopy(H5T_C_S1), "string type");
  h5::check(H5Tset_size(type, H5T_VARIABLE), "string type");
  h5::check(H5Tset_cset(type, H5T_CSET_UTF8), "string type");
  auto space = make_space({values.size()}, "attribute space");
  auto attr = h5::attr_id(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), std::string("attribute ") + name);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  h5::check(H5Awrite(attr, type, ptrs.data()), std::string("write attribute ") + name);
}

void write_int_attr(hid_t loc, const char* name, int64_t value) {
  auto space = h5::space_id(H5Screate(H5S_SCALAR), "scalar space");
  auto attr = h5::attr_id(H5Acreate2(loc, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                          std::string("attribute ") + name);
  h5::check(H5Awrite(attr, H5T_NATIVE_INT64, &value), std::string("write attribute ") + name);
}

bool link_exists(hid_t loc, const std::string& path) {
  // Check each component so that a missing group is "absent", not an error.
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    const size_t next = path.find('/', pos + 1);
    prefix = path.substr(0, next);
    if (prefix.empty() || prefix == "/") {
      pos = next;
      continue;
    }
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    pos = next;
  }
  return true;
}

std::vector<hsize_t> dataset_dims(hid_t ds, const std::string& what) {
  auto space = h5::space_id(H5Dget_space(ds), what);
  const int rank = h5::check(H5Sget_simple_extent_ndims(space), what);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  h5::check(H5Sget_simple_extent_dims(space, dims.data(), nullptr), what);
  return dims;
}

// A string attribute (scalar or 1-d; variable- or fixed-length; ASCII or UTF-8), as
// written by lira or by h5py.
std::vector<std::string> read_string_attr(hid_t loc, const char* name) {
  const std::string what = std::string("attribute ") + name;
  auto attr = h5::attr_id(H5Aopen(loc, name, H5P_DEFAULT), "open " + what);
  auto ftype = h5::type_id(H5Aget_type(attr), "type of " + what);
  if (H5Tget_class(ftype) != H5T_STRING) throw StorageError(what + " is not a string");
  auto space = h5::space_id(H5Aget_space(attr), "space of " + what);
  const auto n = static_cast<size_t>(h5::check(H5Sget_simple_extent_npoints(space), "size of " + what));
  auto mtype = h5::type_id(H5Tget_native_type(ftype, H5T_DIR_ASCEND), "memory type of " + what);
  std::vector<std::string> out;
  if (H5Tis_variable_str(ftype) > 0) {
    std::vector<char*> ptrs(n, nullptr);
    h5::check(H5Aread(attr, mtype, ptrs.data()), "read " + what);
    for (auto* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, ptrs.data());
  } else {
    const size_t len = H5Tget_size(ftype);
    std::vector<char> buf(n * len);
    h5::check(H5Aread(attr, mtype, buf.data()), "read " + what);
    for (size_t i = 0; i < n; ++i) {
      std::string v(buf.data() + i * len, len);
      v.resize(std::strlen(v.c_str()));  // fixed-length strings are NUL-padded
      out.push_back(std::move(v));
    }
  }
  return out;
}

}  // namespace

// ============================================================================ writer

ResultsWriter::ResultsWriter(const std::string& path, const ResultsLayout& layout, const RunMetadata& meta,
                             std::span<const uint8_t> keep, std::span<const int64_t> labels,
                             std::span<const int64_t> candidate_index, std::span<const uint64_t> model_seeds,
                             Mode mode)
    : path_(path), layout_(layout) {
  h5::silence_default_errors();
  const auto M = static_cast<hsize_t>(layout.models);
  const auto N = static_cast<hsize_t>(layout.candidates);
  if (keep.size() != M * N || labels.size() != N || candidate_index.size() != N || model_seeds.size() != M)
    throw Error("ResultsWriter: keep/labels/index/seed sizes do not match the layout");

  std::error_code ec;
  if (mode == Mode::kCreateNew && fs::exists(path, ec))
    throw StorageError("results file '" + path +
                       "' already exists; choose another path with --out PATH, or pass --overwrite to replace it");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec) throw StorageError("cannot create directory '" + parent.string() + "' for the results file: " + ec.message());
  }
  const unsigned flags = mode == Mode::kCreateNew ? H5F_ACC_EXCL : H5F_ACC_TRUNC;
  const hid_t fid = H5Fcreate(path.c_str(), flags, H5P_DEFAULT, H5P_DEFAULT);
  if (fid < 0)
    throw StorageError("cannot create results file '" + path + "' (HDF5: " + h5::error_stack() +
                       "); check that the directory is writable, or choose another path with --out");
  file_ = h5::file_id(fid, "create " + path);

  write_int_attr(file_, "format_version", kResultsFormatVersion);
  write_string_attr(file_, "lira_version", meta.lira_version);
  write_string_attr(file_, "config", meta.config_yaml);
  write_string_array_attr(file_, "queries", layout.queries);

  write_whole(file_, "keep", H5T_STD_U8LE, H5T_NATIVE_UINT8, {M, N}, keep.data(), path);
  write_whole(file_, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, {N}, labels.data(), path);
  write_whole(file_, "candidate_index", H5T_STD_I64LE, H5T_NATIVE_INT64, {N}, candidate_index.data(), path);

  // Signals: chunked one model x a run of candidates, filled with NaN until written.
  auto signals = h5::group_id(H5Gcreate2(file_, "signals", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group /signals");
  for (const auto& spec : layout.signals) {
    std::vector<hsize_t> dims{M};
    for (auto d : spec.shape) dims.push_back(static_cast<hsize_t>(d));
    std::vector<hsize_t> chunk = dims;
    chunk[0] = 1;
    int64_t inner = 1;
    for (size_t i = 2; i < dims.size(); ++i) inner *= static_cast<int64_t>(dims[i]);
    if (dims.size() >= 2) {
      const int64_t row_bytes = 4 * std::max<int64_t>(1, inner);
      const int64_t per = std::max<int64_t>(
          1, std::min(kChunkBytes / row_bytes, kChunkColumnBytes / (row_bytes * static_cast<int64_t>(M))));
      chunk[1] = static_cast<hsize_t>(std::min<int64_t>(per, static_cast<int64_t>(dims[1])));
    }
    auto dcpl = h5::plist_id(H5Pcreate(H5P_DATASET_CREATE), "dataset creation list");
    h5::check(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), "set chunk");
    const float nan = std::numeric_limits<float>::quiet_NaN();
    h5::check(H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan), "set fill value");
    auto space = make_space(dims, "signal space");
    h5::dataset_id(H5Dcreate2(signals, spec.name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                   "create /signals/" + spec.name + " in " + path);
  }

  // Per-model bookkeeping, all at final shape now so later writes touch raw data only.
  auto models = h5::group_id(H5Gcreate2(file_, "models", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group /models");
  const std::vector<uint8_t> zeros_u8(M, 0);
  const std::vector<int32_t> zeros_i32(M, 0);
  const std::vector<int32_t> no_worker(M, -1);
  const std::vector<double> nans(M, std::numeric_limits<double>::quiet_NaN());
  write_whole(models, "done", H5T_STD_U8LE, H5T_NATIVE_UINT8, {M}, zeros_u8.data(), path);
  write_whole(models, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, {M}, model_seeds.data(), path);
  write_whole(models, "attempts", H5T_STD_I32LE, H5T_NATIVE_INT32, {M}, zeros_i32.data(), path);
  write_whole(models, "worker", H5T_STD_I32LE, H5T_NATIVE_INT32, {M}, no_worker.data(), path);
  for (const char* name : {"train_accuracy", "test_accuracy", "train_seconds"})
    write_whole(models, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {M}, nans.data(), path);
  flush();
}

ResultsWriter::~ResultsWriter() {
  // Close without throwing; the data of finished models was flushed already.
  file_.reset();
}

void ResultsWriter::flush() { h5::check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flush " + path_); }

void ResultsWriter::write_scalar(const char* dataset, int64_t model, hid_t mem_type, const void* value) {
  const std::string name = std::string("/models/") + dataset;
  auto ds = h5::dataset_id(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), "open " + name);
  auto fspace = h5::space_id(H5Dget_space(ds), "space of " + name);
  const hsize_t start = static_cast<hsize_t>(model), count = 1;
  h5::check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, nullptr, &count, nullptr), "select " + name);
  auto mspace = make_space({1}, "memory space");
  h5::check(H5Dwrite(ds, mem_type, mspace, fspace, H5P_DEFAULT, value), "write " + name + " in " + path_);
}

void ResultsWriter::write_model(const ModelResult& r, int32_t worker) {
  if (r.model < 0 || r.model >= layout_.models)
    throw StorageError("result for model " + std::to_string(r.model) + " outside [0, " +
                       std::to_string(layout_.models) + ")");
  // Check everything before writing anything.
  for (const auto& spec : layout_.signals) {
    auto it = std::find_if(r.signals.begin(), r.signals.end(), [&](const SignalArray& s) { return s.name == spec.name; });
    if (it == r.signals.end())
      throw StorageError("result of model " + std::to_string(r.model) + " lacks signal '" + spec.name + "'");
    if (it->shape != spec.shape || static_cast<int64_t>(it->values.size()) != spec.elements())
      throw StorageError("result of model " + std::to_string(r.model) + ": signal '" + spec.name +
                         "' has the wrong shape for this results file");
  }
  for (const auto& s : r.signals) {
    const std::string name = "/signals/" + s.name;
    auto ds = h5::dataset_id(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), "open " + name);
    auto fspace = h5::space_id(H5Dget_space(ds), "space of " + name);
    std::vector<hsize_t> start(s.shape.size() + 1, 0), count{1};
    start[0] = static_cast<hsize_t>(r.model);
    for (auto d : s.shape) count.push_back(static_cast<hsize_t>(d));
    h5::check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
              "select " + name);
    auto mspace = make_space(count, "memory space");
    h5::check(H5Dwrite(ds, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, s.values.data()),
              "write " + name + " of model " + std::to_string(r.model) + " in " + path_);
  }
  const int32_t attempts = r.attempt + 1;
  write_scalar("attempts", r.model, H5T_NATIVE_INT32, &attempts);
  write_scalar("worker", r.model, H5T_NATIVE_INT32, &worker);
  write_scalar("train_accuracy", r.model, H5T_NATIVE_DOUBLE, &r.train_accuracy);
  write_scalar("test_accuracy", r.model, H5T_NATIVE_DOUBLE, &r.test_accuracy);
  write_scalar("train_seconds", r.model, H5T_NATIVE_DOUBLE, &r.train_seconds);
  flush();  // the data is on disk (page cache) before the flag that vouches for it
  const uint8_t one = 1;
  write_scalar("done", r.model, H5T_NATIVE_UINT8, &one);
  flush();
}

void ResultsWriter::record_failure(int64_t model, int32_t attempts) {
  write_scalar("attempts", model, H5T_NATIVE_INT32, &attempts);
  flush();
}

void ResultsWriter::close() {
  if (!file_.valid()) return;
  flush();
  const hid_t id = file_.release();  // never close twice, even if H5Fclose fails
  h5::check(H5Fclose(id), "close " + path_);
}

// ============================================================================ reader

ResultsReader::ResultsReader(const std::string& path) : path_(path) {
  h5::silence_default_errors();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw StorageError("results file '" + path + "' does not exist");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw StorageError("'" + path + "' is not an HDF5 file");
  const hid_t fid = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (fid < 0) throw StorageError("cannot open results file '" + path + "' (HDF5: " + h5::error_stack() + ")");
  file_ = h5::file_id(fid, "open " + path);
  if (!link_exists(file_, "/keep"))
    throw StorageError("'" + path + "' has no /keep dataset: not a lira results file (docs/results-format.md)");
  auto ds = h5::dataset_id(H5Dopen2(file_, "/keep", H5P_DEFAULT), "open /keep in " + path);
  const auto dims = dataset_dims(ds, "/keep");
  if (dims.size() != 2) throw StorageError("/keep in '" + path + "' must be 2-dimensional [models, candidates]");
  models_ = static_cast<int64_t>(dims[0]);
  candidates_ = static_cast<int64_t>(dims[1]);
}

void ResultsReader::read_keep_part(int64_t m0, int64_t rows, int64_t n0, int64_t cols, uint8_t* out) const {
  if (rows == 0 || cols == 0) return;
  auto ds = h5::dataset_id(H5Dopen2(file_, "/keep", H5P_DEFAULT), "open /keep");
  auto fspace = h5::space_id(H5Dget_space(ds), "space of /keep");
  const hsize_t start[2] = {static_cast<hsize_t>(m0), static_cast<hsize_t>(n0)};
  const hsize_t count[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)};
  h5::check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr), "select /keep");
  auto mspace = h5::space_id(H5Screate_simple(2, count, nullptr), "memory space");
  auto ftype = h5::type_id(H5Dget_type(ds), "type of /keep");
  if (H5Tget_class(ftype) == H5T_ENUM) {
    // numpy bool arrays arrive from h5py as an 8-bit enum {FALSE = 0, TRUE = 1}; HDF5
    // does not convert enums to integers, so read the raw enum bytes.
    if (H5Tget_size(ftype) != 1) throw StorageError("/keep in '" + path_ + "' is an enum wider than one byte");
    auto mtype = h5::type_id(H5Tget_native_type(ftype, H5T_DIR_ASCEND), "memory type of /keep");
    h5::check(H5Dread(ds, mtype, mspace, fspace, H5P_DEFAULT, out), "read /keep in " + path_);
  } else {
    h5::check(H5Dread(ds, H5T_NATIVE_UINT8, mspace, fspace, H5P_DEFAULT, out), "read /keep in " + path_);
  }
  for (int64_t i = 0; i < rows * cols; ++i) out[i] = out[i] ? 1 : 0;
}

std::vector<uint8_t> ResultsReader::keep() const {
  std::vector<uint8_t> keep(static_cast<size_t>(models_ * candidates_));
  read_keep_part(0, models_, 0, candidates_, keep.data());
  return keep;
}

void ResultsReader::read_keep(int64_t n0, int64_t n1, std::vector<uint8_t>& out) const {
  if (n0 < 0 || n1 > candidates_ || n0 > n1) throw StorageError("read_keep: candidates out of range");
  out.resize(static_cast<size_t>(models_ * (n1 - n0)));
  read_keep_part(0, models_, n0, n1 - n0, out.data());
}

void ResultsReader::read_keep_row(int64_t model, std::vector<uint8_t>& out) const {
  if (model < 0 || model >= models_) throw StorageError("read_keep_row: model out of range");
  out.resize(static_cast<size_t>(candidates_));
  read_keep_part(model, 1, 0, candidates_, out.data());
}

std::vector<uint8_t> ResultsReader::done() const {
  if (!link_exists(file_, "/models/done")) return std::vector<uint8_t>(static_cast<size_t>(models_), 1);
  std::vector<uint8_t> done(static_cast<size_t>(models_));
  auto ds = h5::dataset_id(H5Dopen2(file_, "/models/done", H5P_DEFAULT), "open /models/done");
  h5::check(H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, done.data()), "read /models/done");
  return done;
}

std::vector<double> ResultsReader::model_values(const std::string& name) const {
  const std::string p = "/models/" + name;
  if (!link_exists(file_, p)) return {};
  std::vector<double> v(static_cast<size_t>(models_));
  auto ds = h5::dataset_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
  h5::check(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "read " + p);
  return v;
}

std::vector<int64_t> ResultsReader::labels() const {
  if (!link_exists(file_, "/labels")) return {};
  std::vector<int64_t> v(static_cast<size_t>(candidates_));
  auto ds = h5::dataset_id(H5Dopen2(file_, "/labels", H5P_DEFAULT), "open /labels");
  h5::check(H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "read /labels");
  return v;
}

std::vector<std::string> ResultsReader::queries() const {
  std::vector<std::string> out;
  if (H5Aexists(file_, "queries") > 0) {
    out = read_string_attr(file_, "queries");
    return out;
  }
  if (has_signal("logit_confidence")) {
    const auto dims = signal_dims("logit_confidence");
    const int64_t a = dims.size() >= 3 ? static_cast<int64_t>(dims[2]) : 1;
    for (int64_t i = 0; i < a; ++i) {
      std::string name = "q";
      name += std::to_string(i);
      out.push_back(std::move(name));
    }
  }
  return out;
}

std::string ResultsReader::config_yaml() const {
  if (H5Aexists(file_, "config") <= 0) return "";
  const auto v = read_string_attr(file_, "config");
  return v.empty() ? "" : v.front();
}

bool ResultsReader::has_signal(const std::string& name) const { return link_exists(file_, "/signals/" + name); }

std::vector<int64_t> ResultsReader::signal_dims(const std::string& name) const {
  const std::string p = "/signals/" + name;
  if (!has_signal(name)) throw StorageError("'" + path_ + "' has no " + p);
  auto ds = h5::dataset_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
  const auto d = dataset_dims(ds, p);
  if (d.size() < 2 || static_cast<int64_t>(d[0]) != models_ || static_cast<int64_t>(d[1]) != candidates_)
    throw StorageError(p + " in '" + path_ + "' must have shape [" + std::to_string(models_) + ", " +
                       std::to_string(candidates_) + ", ...] to match /keep");
  return std::vector<int64_t>(d.begin(), d.end());
}

int64_t ResultsReader::signal_chunk_candidates(const std::string& name) const {
  const std::string p = "/signals/" + name;
  auto ds = h5::dataset_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
  auto dcpl = h5::plist_id(H5Dget_create_plist(ds), "creation list of " + p);
  if (H5Pget_layout(dcpl) != H5D_CHUNKED) return 1;
  hsize_t chunk[H5S_MAX_RANK];
  const int rank = h5::check(H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk), "chunk of " + p);
  return rank >= 2 ? static_cast<int64_t>(chunk[1]) : 1;
}

void ResultsReader::read_signal(const std::string& name, int64_t n0, int64_t n1, std::vector<float>& out) const {
  const auto dims = signal_dims(name);
  if (n0 < 0 || n1 > candidates_ || n0 > n1)
    throw StorageError("read_signal: candidates [" + std::to_string(n0) + ", " + std::to_string(n1) + ") out of range");
  const std::string p = "/signals/" + name;
  auto ds = h5::dataset_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
  auto fspace = h5::space_id(H5Dget_space(ds), "space of " + p);
  std::vector<hsize_t> start(dims.size(), 0), count(dims.begin(), dims.end());
  start[1] = static_cast<hsize_t>(n0);
  count[1] = static_cast<hsize_t>(n1 - n0);
  size_t total = 1;
  for (auto c : count) total *= c;
  out.resize(total);
  if (total == 0) return;
  h5::check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "select " + p);
  auto mspace = make_space(count, "memory space");
  h5::check(H5Dread(ds, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, out.data()), "read " + p + " in " + path_);
}

}  // namespace lira
