// Implements ResultsReader.
#include <cstring>
#include <limits>
#include <filesystem>

#include "results_file.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace lira {
namespace fs = std::filesystem;


ResultsReader::ResultsReader(const std::string& path, const std::string& external) : path_(path) {
  h5::silence_default_errors();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw StorageError("results file '" + path + "' does not exist");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw StorageError("'" + path + "' is not an HDF5 file");
  auto fapl = h5::file_access_without_locking();  // a run may be writing it right now
  const hid_t fid = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (fid < 0) throw StorageError("cannot open results file '" + path + "' (HDF5: " + h5::error_stack() + ")");
  file_ = h5::file_id(fid, "open " + path);
  if (!h5::link_exists(file_, "/keep"))
    throw StorageError("'" + path + "' has no /keep dataset: not a lira results file (docs/results-format.md)");
  auto ds = h5::dataset_id(H5Dopen2(file_, "/keep", H5P_DEFAULT), "open /keep in " + path);
  const auto dims = h5::dataset_dims(ds, "/keep");
  if (dims.size() != 2) throw StorageError("/keep in '" + path + "' must be 2-dimensional [models, candidates]");
  models_ = file_models_ = static_cast<int64_t>(dims[0]);
  candidates_ = static_cast<int64_t>(dims[1]);
  if (external.empty()) return;
  external_ = std::make_unique<ResultsReader>(external);
  const auto& e = *external_;
  auto refuse = [&](const std::string& what) {
    throw StorageError("external target '" + external + "' was not made for '" + path + "': " + what +
                       "; compute it again with `lira signals MODEL " + path + " --membership ...`");
  };
  if (e.models() != 1) refuse("it holds " + std::to_string(e.models()) + " models, not the one of `lira signals`");
  if (e.candidates() != candidates_)
    refuse("it has " + std::to_string(e.candidates()) + " candidates, the results file " + std::to_string(candidates_));
  if (e.queries() != queries()) refuse("its queries differ");
  const auto data = attribute("fingerprint_data"), edata = e.attribute("fingerprint_data");
  if (!data.empty() && data != edata) refuse("its candidates were read from other data files");
  models_ = file_models_ + 1;
}

ResultsReader::~ResultsReader() = default;

const std::string& ResultsReader::external_path() const {
  static const std::string none;
  return external_ ? external_->path() : none;
}

void ResultsReader::read_keep_part(int64_t m0, int64_t rows, int64_t n0, int64_t cols, uint8_t* out) const {
  if (rows == 0 || cols == 0) return;
  if (external_ && m0 + rows > file_models_) {  // the last row is the external target's
    read_keep_part(m0, rows - 1, n0, cols, out);
    external_->read_keep_part(0, 1, n0, cols, out + (rows - 1) * cols);
    return;
  }
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
  // A keep value is a membership: 0 or 1. Anything else is damage (or another tool's
  // encoding) that scoring must not guess about.
  for (int64_t i = 0; i < rows * cols; ++i)
    if (out[i] > 1)
      throw StorageError("/keep in '" + path_ + "' holds " + std::to_string(int(out[i])) + " at model " +
                         std::to_string(m0 + i / cols) + ", candidate " + std::to_string(n0 + i % cols) +
                         "; a keep value must be 0 (OUT) or 1 (IN): the file is damaged or was not written as "
                         "docs/results-format.md says");
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
  if (!h5::link_exists(file_, "/models/done")) return std::vector<uint8_t>(static_cast<size_t>(models_), 1);
  std::vector<uint8_t> done(static_cast<size_t>(models_), 1);  // the external target is done
  auto ds = h5::dataset_id(H5Dopen2(file_, "/models/done", H5P_DEFAULT), "open /models/done");
  h5::check(H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, done.data()), "read /models/done");
  return done;
}

std::vector<std::string> ResultsReader::checksummed_signals() const {
  std::vector<std::string> out;
  const std::string prefix = checksum_column("");
  for (const auto& n : h5::link_names(file_, "/models"))
    if (n.rfind(prefix, 0) == 0 && has_signal(n.substr(prefix.size()))) out.push_back(n.substr(prefix.size()));
  return out;
}

std::vector<uint64_t> ResultsReader::checksums(const std::string& signal) const {
  const std::string p = "/models/" + checksum_column(signal);
  if (!h5::link_exists(file_, p)) return {};
  std::vector<uint64_t> v(static_cast<size_t>(file_models_), 0);
  auto ds = h5::dataset_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
  if (h5::dataset_dims(ds, p) != std::vector<hsize_t>{static_cast<hsize_t>(file_models_)})
    throw StorageError(p + " in '" + path_ + "' must have shape [" + std::to_string(file_models_) + "]: the file is "
                       "damaged");
  h5::check(H5Dread(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "read " + p + " in " + path_);
  return v;
}

std::vector<double> ResultsReader::model_values(const std::string& name) const {
  const std::string p = "/models/" + name;
  if (!h5::link_exists(file_, p)) return {};
  std::vector<double> v(static_cast<size_t>(models_), std::numeric_limits<double>::quiet_NaN());
  auto ds = h5::dataset_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
  h5::check(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "read " + p);
  if (external_) {
    const auto e = external_->model_values(name);
    if (!e.empty()) v.back() = e.front();
  }
  return v;
}

std::vector<int64_t> ResultsReader::labels() const {
  if (!h5::link_exists(file_, "/labels")) return {};
  std::vector<int64_t> v(static_cast<size_t>(candidates_));
  auto ds = h5::dataset_id(H5Dopen2(file_, "/labels", H5P_DEFAULT), "open /labels");
  h5::check(H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "read /labels");
  return v;
}

std::vector<int64_t> ResultsReader::candidate_index() const {
  if (!h5::link_exists(file_, "/candidate_index")) return {};
  std::vector<int64_t> v(static_cast<size_t>(candidates_));
  auto ds = h5::dataset_id(H5Dopen2(file_, "/candidate_index", H5P_DEFAULT), "open /candidate_index");
  h5::check(H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "read /candidate_index");
  return v;
}

std::vector<uint8_t> ResultsReader::canaries() const {
  const auto v = candidate_index();
  std::vector<uint8_t> mask(v.size());
  bool any = false;
  for (size_t i = 0; i < v.size(); ++i) any |= (mask[i] = v[i] < 0) != 0;
  return any ? mask : std::vector<uint8_t>{};
}

std::vector<std::string> ResultsReader::queries() const {
  std::vector<std::string> out;
  if (H5Aexists(file_, "queries") > 0) {
    out = h5::read_string_attr(file_, "queries");
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
  const auto v = h5::read_string_attr(file_, "config");
  return v.empty() ? "" : v.front();
}

std::string ResultsReader::attribute(const char* name) const {
  if (!h5::attr_exists(file_, name)) return "";
  const auto v = h5::read_string_attr(file_, name);
  return v.empty() ? "" : v.front();
}

std::vector<std::string> ResultsReader::model_errors() const {
  if (!h5::link_exists(file_, "/models/error")) return {};
  auto ds = h5::dataset_id(H5Dopen2(file_, "/models/error", H5P_DEFAULT), "open /models/error");
  auto type = h5::type_id(H5Dget_type(ds), "type of /models/error");
  const size_t len = H5Tget_size(type);
  std::vector<char> buf(static_cast<size_t>(models_) * len);
  h5::check(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "read /models/error");
  std::vector<std::string> out;
  for (int64_t m = 0; m < models_; ++m) {
    std::string v(buf.data() + m * len, len);
    v.resize(std::strlen(v.c_str()));
    out.push_back(std::move(v));
  }
  return out;
}

bool ResultsReader::has_signal(const std::string& name) const {
  return h5::link_exists(file_, "/signals/" + name) && (!external_ || external_->has_signal(name));
}

std::vector<int64_t> ResultsReader::stored_signal_dims(const std::string& name) const {
  const std::string p = "/signals/" + name;
  if (!has_signal(name)) throw StorageError("'" + path_ + "' has no " + p);
  auto ds = h5::dataset_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
  const auto d = h5::dataset_dims(ds, p);
  return {d.begin(), d.end()};
}

std::vector<int64_t> ResultsReader::signal_dims(const std::string& name) const {
  const std::string p = "/signals/" + name;
  if (!has_signal(name)) throw StorageError("'" + path_ + "' has no " + p);
  auto ds = h5::dataset_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
  const auto d = h5::dataset_dims(ds, p);
  if (d.size() < 2 || static_cast<int64_t>(d[0]) != file_models_ || static_cast<int64_t>(d[1]) != candidates_)
    throw StorageError(p + " in '" + path_ + "' must have shape [" + std::to_string(file_models_) + ", " +
                       std::to_string(candidates_) + ", ...] to match /keep");
  std::vector<int64_t> dims(d.begin(), d.end());
  if (external_) {
    auto e = external_->signal_dims(name);
    e[0] = dims[0];
    if (e != dims) throw StorageError(p + " of the external target '" + external_->path() + "' has another shape");
    dims[0] = models_;
  }
  return dims;
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

namespace {

// Elements [s0, s1) of a 1-d dataset (or of row `row` of a 2-d one) in `type`.
void read_range(hid_t file, const std::string& p, int64_t row, int64_t s0, int64_t s1, hid_t type, void* out,
                const std::string& path) {
  auto ds = h5::dataset_id(H5Dopen2(file, p.c_str(), H5P_DEFAULT), "open " + p);
  auto fspace = h5::space_id(H5Dget_space(ds), "space of " + p);
  const int rank = H5Sget_simple_extent_ndims(fspace);
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(fspace, dims.data(), nullptr);
  const hsize_t len = dims.empty() ? 0 : dims.back();
  if (s0 < 0 || s1 < s0 || static_cast<hsize_t>(s1) > len || (rank == 2 && (row < 0 || static_cast<hsize_t>(row) >= dims[0])))
    throw StorageError("read " + p + ": range [" + std::to_string(s0) + ", " + std::to_string(s1) + ") out of bounds in " + path);
  if (s1 == s0) return;
  std::vector<hsize_t> start, count;
  if (rank == 2) start = {static_cast<hsize_t>(row), static_cast<hsize_t>(s0)}, count = {1, static_cast<hsize_t>(s1 - s0)};
  else start = {static_cast<hsize_t>(s0)}, count = {static_cast<hsize_t>(s1 - s0)};
  h5::check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "select " + p);
  auto mspace = h5::make_space({static_cast<hsize_t>(s1 - s0)}, "memory space");
  h5::check(H5Dread(ds, type, mspace, fspace, H5P_DEFAULT, out), "read " + p + " in " + path);
}

int64_t length_of(hid_t file, const std::string& p) {
  auto ds = h5::dataset_id(H5Dopen2(file, p.c_str(), H5P_DEFAULT), "open " + p);
  auto fspace = h5::space_id(H5Dget_space(ds), "space of " + p);
  hsize_t dims[2] = {0, 0};
  const int rank = H5Sget_simple_extent_dims(fspace, dims, nullptr);
  return rank >= 1 ? static_cast<int64_t>(dims[rank - 1]) : 0;
}

}  // namespace

std::vector<int64_t> ResultsReader::offsets() const {
  if (!h5::link_exists(file_, "/offsets")) return {};
  std::vector<int64_t> v(static_cast<size_t>(length_of(file_, "/offsets")));
  read_range(file_, "/offsets", 0, 0, static_cast<int64_t>(v.size()), H5T_NATIVE_INT64, v.data(), path_);
  return v;
}

std::vector<int64_t> ResultsReader::zlib_bytes() const {
  if (!h5::link_exists(file_, "/records/zlib_bytes")) return {};
  std::vector<int64_t> v(static_cast<size_t>(candidates_));
  read_range(file_, "/records/zlib_bytes", 0, 0, candidates_, H5T_NATIVE_INT64, v.data(), path_);
  return v;
}

std::vector<int32_t> ResultsReader::tokens(int64_t s0, int64_t s1) const {
  std::vector<int32_t> v(static_cast<size_t>(std::max<int64_t>(s1 - s0, 0)));
  read_range(file_, "/tokens", 0, s0, s1, H5T_NATIVE_INT32, v.data(), path_);
  return v;
}

void ResultsReader::read_token_signal(const std::string& name, int64_t model, int64_t s0, int64_t s1,
                                      std::vector<float>& out) const {
  if (external_ && model == file_models_) return external_->read_token_signal(name, 0, s0, s1, out);
  out.resize(static_cast<size_t>(std::max<int64_t>(s1 - s0, 0)));
  read_range(file_, "/signals/" + name, model, s0, s1, H5T_NATIVE_FLOAT, out.data(), path_);
}

void ResultsReader::read_signal(const std::string& name, int64_t n0, int64_t n1, std::vector<float>& out) const {
  const auto dims = signal_dims(name);
  if (n0 < 0 || n1 > candidates_ || n0 > n1)
    throw StorageError("read_signal: candidates [" + std::to_string(n0) + ", " + std::to_string(n1) + ") out of range");
  const std::string p = "/signals/" + name;
  auto ds = h5::dataset_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
  auto fspace = h5::space_id(H5Dget_space(ds), "space of " + p);
  std::vector<hsize_t> start(dims.size(), 0), count(dims.begin(), dims.end());
  count[0] = static_cast<hsize_t>(file_models_);
  start[1] = static_cast<hsize_t>(n0);
  count[1] = static_cast<hsize_t>(n1 - n0);
  size_t total = 1;
  for (auto c : count) total *= c;
  out.resize(total);
  if (total == 0) return;
  h5::check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "select " + p);
  auto mspace = h5::make_space(count, "memory space");
  h5::check(H5Dread(ds, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, out.data()), "read " + p + " in " + path_);
  if (external_) {
    std::vector<float> row;
    external_->read_signal(name, n0, n1, row);
    out.insert(out.end(), row.begin(), row.end());
  }
}

void ResultsReader::prefetch(const std::string& name, int64_t n0, int64_t n1) const {
  if (n0 < 0 || n1 > candidates_ || n0 >= n1) return;
  const std::string p = name == "keep" ? "/keep" : "/signals/" + name;
  if (!h5::link_exists(file_, p)) return;
  auto ds = h5::dataset_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
  const haddr_t offset = H5Dget_offset(ds);  // HADDR_UNDEF unless contiguous and allocated
  if (offset == HADDR_UNDEF) return;
  auto type = h5::type_id(H5Dget_type(ds), "type of " + p);
  const auto dims = h5::dataset_dims(ds, p);
  if (dims.size() < 2) return;
  uint64_t per_candidate = H5Tget_size(type);
  for (size_t k = 2; k < dims.size(); ++k) per_candidate *= dims[k];
  if (!fd_) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    fd_ = std::shared_ptr<int>(new int(fd), [](int* f) {
      ::close(*f);
      delete f;
    });
  }
  const uint64_t row = per_candidate * dims[1];
  for (hsize_t m = 0; m < dims[0]; ++m)
    ::posix_fadvise(*fd_, static_cast<off_t>(offset + m * row + per_candidate * static_cast<uint64_t>(n0)),
                    static_cast<off_t>(per_candidate * static_cast<uint64_t>(n1 - n0)), POSIX_FADV_WILLNEED);
}

}  // namespace lira
