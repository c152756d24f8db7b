// A thin RAII layer over the HDF5 C API: owned identifiers and checked calls.
//
// Every HDF5 call goes through check(), which turns a negative return into a
// StorageError carrying what we tried, on which file, and HDF5's own error stack.
// HDF5's automatic error printing is switched off; errors are reported once, by us.
#pragma once

#include <hdf5.h>

#include <string>
#include <utility>
#include <vector>

#include "common/errors.hpp"

namespace lira::h5 {

// Switches off HDF5's default error printing (idempotent, thread-compatible).
void silence_default_errors();

// The current HDF5 error stack as one line ("H5Fcreate: unable to truncate a file; ...").
std::string error_stack();

[[noreturn]] void fail(const std::string& what);

template <class T>
T check(T ret, const std::string& what) {
  if (ret < 0) fail(what);
  return ret;
}

// An owned hid_t, closed by the matching H5?close on destruction.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer, const std::string& what) : id_(check(id, what)), closer_(closer) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: used directly in H5 calls
  bool valid() const { return id_ >= 0; }
  // Gives up ownership without closing: for a close whose failure must be reported.
  hid_t release() { return std::exchange(id_, H5I_INVALID_HID); }
  // Closes now and throws StorageError if closing fails. Closing a dataset writes out what
  // HDF5 still buffers for it (its sieve buffer), so a write path must check the close:
  // a full disk would otherwise go unnoticed.
  void close_checked(const std::string& what) {
    if (id_ < 0 || !closer_) return;
    const hid_t id = release();
    check(closer_(id), "close " + what);
  }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);  // never throws: errors on close are ignored here
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

inline Id file_id(hid_t id, const std::string& what) { return Id(id, H5Fclose, what); }
inline Id dataset_id(hid_t id, const std::string& what) { return Id(id, H5Dclose, what); }
inline Id group_id(hid_t id, const std::string& what) { return Id(id, H5Gclose, what); }
inline Id space_id(hid_t id, const std::string& what) { return Id(id, H5Sclose, what); }
inline Id plist_id(hid_t id, const std::string& what) { return Id(id, H5Pclose, what); }
inline Id type_id(hid_t id, const std::string& what) { return Id(id, H5Tclose, what); }
inline Id attr_id(hid_t id, const std::string& what) { return Id(id, H5Aclose, what); }

// The HDF5 library version, "1.10.8".
std::string library_version();

// ---- helpers shared by the results and scores files

Id make_space(const std::vector<hsize_t>& dims, const std::string& what);
// A contiguous dataset, its space allocated at creation (so later writes change raw data
// only, never the file's metadata), written from `data` when not null.
// A float32 dataset, contiguous and allocated at creation, every element NaN (HDF5 writes
// the fill value as it allocates).
void write_nan_filled_dataset(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                              const std::string& file);
void write_dataset(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, const std::vector<hsize_t>& dims,
                   const void* data, const std::string& file);
// The hyperslab [start, start + count) of a dataset, from or to a dense buffer of that shape.
void write_block(hid_t dataset, hid_t mem_type, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                 const void* data, const std::string& what);
void read_block(hid_t dataset, hid_t mem_type, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                void* data, const std::string& what);
void write_string_attr(hid_t loc, const char* name, const std::string& value);
void write_string_array_attr(hid_t loc, const char* name, const std::vector<std::string>& values);
void write_int_attr(hid_t loc, const char* name, int64_t value);
// A string attribute (scalar or 1-d; variable or fixed length; ASCII or UTF-8).
std::vector<std::string> read_string_attr(hid_t loc, const char* name);
int64_t read_int_attr(hid_t loc, const char* name);
bool attr_exists(hid_t loc, const char* name);
// Whether every component of an absolute path ("/models/done") exists.
bool link_exists(hid_t loc, const std::string& path);
// The names of the links in the group at `path` (empty if there is no such group).
std::vector<std::string> link_names(hid_t loc, const std::string& path);
std::vector<hsize_t> dataset_dims(hid_t dataset, const std::string& what);
// File access for the writer: no HDF5 file locks (see below) and no sieve buffer, so each
// H5Dwrite reaches the file at once and reports its own I/O errors (a full disk).
Id file_access_for_writing();
// File access without HDF5's file locks: the writer keeps its file open for the whole
// run, and readers (lira score, h5py) must be able to open it meanwhile. Safe here because
// nothing but raw data changes after the file is created (see results_file.hpp).
Id file_access_without_locking();

// New files are built under a temporary name and renamed into place once complete and
// durable: a crash before the rename leaves nothing at the final path.
std::string partial_path(const std::string& path);  // path + ".partial"
// Creates partial_path(path) (removing a leftover one) for writing; throws StorageError
// naming the file and `hint` (what the user can do) when it cannot.
Id create_partial(const std::string& path, const std::string& hint);
// H5Fflush, then fsync of the file's descriptor: the data survives a power loss.
void make_durable(hid_t file, const std::string& path);
// Renames partial_path(path) to path and fsyncs the directory, so the rename is durable.
void commit_partial(const std::string& path);
// Removes a file when it goes out of scope, unless `keep` was set: a failed build of a
// partial file leaves nothing behind.
struct RemoveUnlessKept {
  std::string path;
  bool keep = false;
  ~RemoveUnlessKept();
};

}  // namespace lira::h5
