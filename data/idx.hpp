// Reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/),
// gzipped or not. Torch-free, so it can be tested and fuzzed on its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lira {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. [60000, 28, 28] for images, [60000] for labels
  std::vector<uint8_t> data;  // row-major, product(dims) bytes
};

// Reads an unsigned-byte IDX file (type code 0x08), transparently gunzipping. Throws
// DataError naming the file and what is wrong (missing, truncated, bad magic number,
// unsupported element type, trailing bytes).
IdxArray read_idx(const std::string& path);

// Parses IDX bytes already in memory; `name` is used in error messages.
IdxArray parse_idx(const uint8_t* bytes, size_t size, const std::string& name);

}  // namespace lira
