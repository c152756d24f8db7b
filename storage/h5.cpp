// Implements the HDF5 error plumbing of h5.hpp.
#include "h5.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

#include <cstdlib>
#include <cstring>
#include <limits>

#include "common/errors.hpp"

namespace lira::h5 {

void silence_default_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string error_stack() {
  std::vector<std::string> entries;
  auto walk = [](unsigned, const H5E_error2_t* err, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->push_back(std::string(err->func_name ? err->func_name : "?") + ": " +
                                                            (err->desc ? err->desc : "?"));
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &entries);
  H5Eclear2(H5E_DEFAULT);
  if (entries.empty()) return "no HDF5 error detail";
  // The cause a user can act on, when the stack holds one, instead of HDF5's whole stack.
  for (const auto& e : entries)
    if (e.find("No space left") != std::string::npos) return "no space left on the device (disk full)";
  // The outermost call says what failed, the innermost why; the middle is HDF5's plumbing.
  if (entries.size() <= 2) return entries.size() == 1 ? entries[0] : entries[0] + "; " + entries[1];
  return entries.front() + "; ...; " + entries.back();
}

void fail(const std::string& what) { throw StorageError(what + " (HDF5: " + error_stack() + ")"); }

std::vector<std::string> link_names(hid_t loc, const std::string& path) {
  std::vector<std::string> names;
  if (!link_exists(loc, path)) return names;
  // H5Gget_info and H5Lget_name_by_idx: the same calls in HDF5 1.10 and 1.14 (the link
  // iteration callbacks changed their types between them).
  H5G_info_t info{};
  check(H5Gget_info_by_name(loc, path.c_str(), &info, H5P_DEFAULT), "list " + path);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t n = H5Lget_name_by_idx(loc, path.c_str(), H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) fail("name of link " + std::to_string(i) + " in " + path);
    std::string name(static_cast<size_t>(n) + 1, '\0');
    H5Lget_name_by_idx(loc, path.c_str(), H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(n));
    names.push_back(std::move(name));
  }
  return names;
}

std::string library_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

Id make_space(const std::vector<hsize_t>& dims, const std::string& what) {
  return space_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), what);
}

void write_dataset(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, const std::vector<hsize_t>& dims,
                   const void* data, const std::string& file) {
  auto space = make_space(dims, "dataspace for " + name);
  auto dcpl = plist_id(H5Pcreate(H5P_DATASET_CREATE), "dataset creation list");
  check(H5Pset_layout(dcpl, H5D_CONTIGUOUS), "contiguous layout");
  check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "early allocation");
  check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "no fill");
  auto ds = dataset_id(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                       "create dataset " + name + " in " + file);
  if (data) check(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + name + " in " + file);
  ds.close_checked(name + " in " + file);
}

void write_nan_filled_dataset(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                              const std::string& file) {
  auto space = make_space(dims, "dataspace for " + name);
  auto dcpl = plist_id(H5Pcreate(H5P_DATASET_CREATE), "dataset creation list");
  check(H5Pset_layout(dcpl, H5D_CONTIGUOUS), "contiguous layout");
  check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "early allocation");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  check(H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan), "NaN fill value");
  check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC), "fill at allocation");
  auto ds = dataset_id(H5Dcreate2(loc, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                       "create dataset " + name + " in " + file);
  ds.close_checked(name + " in " + file);
}

namespace {
Id select_block(hid_t dataset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                const std::string& what) {
  auto space = space_id(H5Dget_space(dataset), "space of " + what);
  check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "select " + what);
  return space;
}
}  // namespace

void write_block(hid_t dataset, hid_t mem_type, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                 const void* data, const std::string& what) {
  auto fspace = select_block(dataset, start, count, what);
  auto mspace = make_space(count, "memory space for " + what);
  check(H5Dwrite(dataset, mem_type, mspace, fspace, H5P_DEFAULT, data), "write " + what);
}

void read_block(hid_t dataset, hid_t mem_type, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                void* data, const std::string& what) {
  auto fspace = select_block(dataset, start, count, what);
  auto mspace = make_space(count, "memory space for " + what);
  check(H5Dread(dataset, mem_type, mspace, fspace, H5P_DEFAULT, data), "read " + what);
}

namespace {
Id utf8_string_type() {
  auto type = type_id(H5Tcopy(H5T_C_S1), "string type");
  check(H5Tset_size(type, H5T_VARIABLE), "string type");
  check(H5Tset_cset(type, H5T_CSET_UTF8), "string type");
  return type;
}
}  // namespace

void write_string_attr(hid_t loc, const char* name, const std::string& value) {
  auto type = utf8_string_type();
  auto space = space_id(H5Screate(H5S_SCALAR), "scalar space");
  auto attr = attr_id(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), std::string("attribute ") + name);
  const char* p = value.c_str();
  check(H5Awrite(attr, type, &p), std::string("write attribute ") + name);
}

void write_string_array_attr(hid_t loc, const char* name, const std::vector<std::string>& values) {
  auto type = utf8_string_type();
  auto space = make_space({values.size()}, "attribute space");
  auto attr = attr_id(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), std::string("attribute ") + name);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  check(H5Awrite(attr, type, ptrs.data()), std::string("write attribute ") + name);
}

void write_int_attr(hid_t loc, const char* name, int64_t value) {
  auto space = space_id(H5Screate(H5S_SCALAR), "scalar space");
  auto attr = attr_id(H5Acreate2(loc, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                      std::string("attribute ") + name);
  check(H5Awrite(attr, H5T_NATIVE_INT64, &value), std::string("write attribute ") + name);
}

bool attr_exists(hid_t loc, const char* name) { return H5Aexists(loc, name) > 0; }

std::vector<std::string> read_string_attr(hid_t loc, const char* name) {
  const std::string what = std::string("attribute ") + name;
  auto attr = attr_id(H5Aopen(loc, name, H5P_DEFAULT), "open " + what);
  auto ftype = type_id(H5Aget_type(attr), "type of " + what);
  if (H5Tget_class(ftype) != H5T_STRING) throw StorageError(what + " is not a string");
  auto space = space_id(H5Aget_space(attr), "space of " + what);
  const auto n = static_cast<size_t>(check(H5Sget_simple_extent_npoints(space), "size of " + what));
  auto mtype = type_id(H5Tget_native_type(ftype, H5T_DIR_ASCEND), "memory type of " + what);
  std::vector<std::string> out;
  if (H5Tis_variable_str(ftype) > 0) {
    std::vector<char*> ptrs(n, nullptr);
    check(H5Aread(attr, mtype, ptrs.data()), "read " + what);
    for (auto* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, ptrs.data());
  } else {
    const size_t len = H5Tget_size(ftype);
    std::vector<char> buf(n * len);
    check(H5Aread(attr, mtype, buf.data()), "read " + what);
    for (size_t i = 0; i < n; ++i) {
      std::string v(buf.data() + i * len, len);
      v.resize(std::strlen(v.c_str()));  // fixed-length strings are NUL-padded
      out.push_back(std::move(v));
    }
  }
  return out;
}

int64_t read_int_attr(hid_t loc, const char* name) {
  auto attr = attr_id(H5Aopen(loc, name, H5P_DEFAULT), std::string("open attribute ") + name);
  int64_t v = 0;
  check(H5Aread(attr, H5T_NATIVE_INT64, &v), std::string("read attribute ") + name);
  return v;
}

bool link_exists(hid_t loc, const std::string& path) {
  // Check each component so that a missing group is "absent", not an error.
  size_t pos = 0;
  while (pos != std::string::npos) {
    const size_t next = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, next);
    if (!prefix.empty() && prefix != "/" && H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    pos = next;
  }
  return true;
}

std::vector<hsize_t> dataset_dims(hid_t ds, const std::string& what) {
  auto space = space_id(H5Dget_space(ds), what);
  const int rank = check(H5Sget_simple_extent_ndims(space), what);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  check(H5Sget_simple_extent_dims(space, dims.data(), nullptr), what);
  return dims;
}

Id file_access_without_locking() {
  auto fapl = plist_id(H5Pcreate(H5P_FILE_ACCESS), "file access list");
#if H5_VERSION_GE(1, 10, 7)
  check(H5Pset_file_locking(fapl, false, true), "disable file locking");
#else
  setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);  // read at every open by HDF5 1.10.1 to 1.10.6
#endif
  return fapl;
}

Id file_access_for_writing() {
  auto fapl = file_access_without_locking();
  check(H5Pset_sieve_buf_size(fapl, 0), "no sieve buffer");
  return fapl;
}

std::string partial_path(const std::string& path) { return path + ".partial"; }

Id create_partial(const std::string& path, const std::string& hint) {
  const std::string partial = partial_path(path);
  std::error_code ec;
  std::filesystem::remove(partial, ec);
  auto fapl = file_access_for_writing();
  const hid_t fid = H5Fcreate(partial.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl);
  if (fid < 0) throw StorageError("cannot create '" + partial + "' (HDF5: " + error_stack() + "); " + hint);
  return file_id(fid, "create " + partial);
}

void make_durable(hid_t file, const std::string& path) {
  check(H5Fflush(file, H5F_SCOPE_GLOBAL), "flush " + path);
  void* handle = nullptr;
  auto fapl = plist_id(H5Fget_access_plist(file), "access list of " + path);
  if (H5Fget_vfd_handle(file, fapl, &handle) >= 0 && handle) {
    if (::fsync(*static_cast<int*>(handle)) != 0)
      throw StorageError("fsync of '" + path + "' failed: " + std::strerror(errno) + " (disk full or failing?)");
  }
}

void commit_partial(const std::string& path) {
  const std::string partial = partial_path(path);
  if (std::rename(partial.c_str(), path.c_str()) != 0)
    throw StorageError("cannot rename '" + partial + "' to '" + path + "': " + std::strerror(errno));
  auto dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // nothing to make durable that we can reach
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL && err != EROFS)
    throw StorageError("fsync of the directory of '" + path + "' failed: " + std::strerror(err));
}

RemoveUnlessKept::~RemoveUnlessKept() {
  if (keep) return;
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

}  // namespace lira::h5
