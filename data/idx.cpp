// Implements the IDX reader: read (and gunzip) the whole file, then parse it strictly.
#include "idx.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/errors.hpp"

namespace lira {
namespace {

// Whole content of a file, gunzipped if it is gzip (zlib passes plain files through).
std::vector<uint8_t> slurp(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw DataError("dataset file '" + path + "' does not exist or is not a regular file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw DataError("cannot open dataset file '" + path + "': " + std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int code = 0;
      const std::string msg = gzerror(f, &code);
      gzclose(f);
      throw DataError("dataset file '" + path + "' is corrupt (" + msg + ")");
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  // A gzip stream cut short reads as a clean end in some zlib versions: check explicitly.
  int code = 0;
  const char* msg = gzerror(f, &code);
  const std::string err = (code != Z_OK && code != Z_STREAM_END) ? msg : "";
  gzclose(f);
  if (!err.empty()) throw DataError("dataset file '" + path + "' is corrupt or truncated (" + err + ")");
  return out;
}

}  // namespace

IdxArray parse_idx(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size < 4) throw DataError("'" + name + "' is not an IDX file: only " + std::to_string(size) + " bytes");
  if (bytes[0] != 0 || bytes[1] != 0)
    throw DataError("'" + name + "' is not an IDX file: bad magic number (first two bytes must be 0)");
  if (bytes[2] != 0x08)
    throw DataError("'" + name + "': IDX element type 0x" + std::to_string(bytes[2]) +
                    " is not supported (only unsigned bytes, 0x08)");
  const int ndims = bytes[3];
  if (ndims < 1 || ndims > 4)
    throw DataError("'" + name + "': IDX with " + std::to_string(ndims) + " dimensions is not supported (1 to 4)");
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (size < header) throw DataError("'" + name + "' is truncated inside its IDX header");
  IdxArray a;
  uint64_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint8_t* p = bytes + 4 + 4 * i;
    const uint32_t d = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    if (d == 0) throw DataError("'" + name + "': IDX dimension " + std::to_string(i) + " is 0");
    a.dims.push_back(d);
    total *= d;
    if (total > (uint64_t{1} << 40)) throw DataError("'" + name + "': IDX dimensions are implausibly large");
  }
  const size_t body = size - header;
  if (body < total)
    throw DataError("'" + name + "' is truncated: its header promises " + std::to_string(total) + " bytes of data, " +
                    "the file holds " + std::to_string(body));
  if (body > total)
    throw DataError("'" + name + "' has " + std::to_string(body - total) + " bytes after the data its header declares");
  a.data.assign(bytes + header, bytes + size);
  return a;
}

IdxArray read_idx(const std::string& path) {
  const auto bytes = slurp(path);
  return parse_idx(bytes.data(), bytes.size(), path);
}

}  // namespace lira
