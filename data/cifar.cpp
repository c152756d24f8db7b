// Implements the CIFAR binary readers.
#include "cifar.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/errors.hpp"

namespace lira {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

std::vector<uint8_t> read_all(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw DataError("dataset file '" + path + "' does not exist or is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot open dataset file '" + path + "': " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataError("cannot read dataset file '" + path + "'");
  return bytes;
}

void append_records(const std::string& path, int64_t label_bytes, int64_t label_index, int64_t classes, Split& out) {
  const auto bytes = read_all(path);
  parse_cifar_records(bytes.data(), bytes.size(), path, label_bytes, label_index, classes, out);
}

Split empty_image_split() {
  Split s;
  s.example_shape = {3, 32, 32};
  return s;
}

}  // namespace

void parse_cifar_records(const uint8_t* bytes, size_t size, const std::string& name, int64_t label_bytes,
                         int64_t label_index, int64_t classes, Split& out) {
  const int64_t record = label_bytes + kPixels;
  if (size == 0 || static_cast<int64_t>(size) % record != 0)
    throw DataError("'" + name + "' is not a CIFAR binary file: " + std::to_string(size) +
                    " bytes is not a whole number of " + std::to_string(record) + "-byte records" +
                    (size == 0 ? "" : " (truncated, or the other CIFAR version?)"));
  const int64_t n = static_cast<int64_t>(size) / record;
  out.pixels.reserve(out.pixels.size() + n * kPixels);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes + i * record;
    const int64_t label = r[label_index];
    if (label >= classes)
      throw DataError("'" + name + "': record " + std::to_string(i) + " has label " + std::to_string(label) +
                      ", outside [0, " + std::to_string(classes) + ")");
    out.labels.push_back(label);
    out.pixels.insert(out.pixels.end(), r + label_bytes, r + record);
  }
  out.count += n;
}

Split read_cifar10(const std::vector<std::string>& paths) {
  Split s = empty_image_split();
  for (const auto& p : paths) append_records(p, 1, 0, 10, s);
  return s;
}

Split read_cifar100(const std::string& path, bool coarse) {
  Split s = empty_image_split();
  append_records(path, 2, coarse ? 0 : 1, coarse ? 20 : 100, s);
  return s;
}

}  // namespace lira
