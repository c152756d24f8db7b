// Implements the HDF5 error plumbing of h5.hpp.
#include "h5.hpp"

namespace lira::h5 {

void silence_default_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string error_stack() {
  std::string text;
  auto walk = [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
    auto* out = static_cast<std::string*>(data);
    if (n > 0) *out += "; ";
    *out += std::string(err->func_name ? err->func_name : "?") + ": " + (err->desc ? err->desc : "?");
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "no HDF5 error detail" : text;
}

void fail(const std::string& what) { throw StorageError(what + " (HDF5: " + error_stack() + ")"); }

std::string library_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

}  // namespace lira::h5
