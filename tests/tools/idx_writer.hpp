// Test helper: writes IDX files (optionally gzipped) and small synthetic image datasets
// in the MNIST layout, so tests never depend on downloaded data.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lira::testing {

inline std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b{0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    b.push_back(static_cast<uint8_t>(d >> 24));
    b.push_back(static_cast<uint8_t>(d >> 16));
    b.push_back(static_cast<uint8_t>(d >> 8));
    b.push_back(static_cast<uint8_t>(d));
  }
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f || gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) != static_cast<int>(bytes.size()) ||
        gzclose(f) != Z_OK)
      throw std::runtime_error("cannot write " + path);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
  }
}

// A 10-class dataset of 28x28 images: class c is a bright bar at row 2c plus noise, so
// a small model learns it, and noise makes every image distinct (memorizable).
inline void write_synthetic_split(const std::string& dir, const std::string& prefix, uint32_t count, uint64_t seed,
                                  bool gzip) {
  std::vector<uint8_t> images(static_cast<size_t>(count) * 28 * 28), labels(count);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next = [&] {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return s;
  };
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t c = static_cast<uint8_t>(next() % 10);
    labels[i] = c;
    for (int p = 0; p < 28 * 28; ++p) images[i * 784 + p] = static_cast<uint8_t>(next() % 96);
    for (int x = 0; x < 28; ++x) images[i * 784 + (2 * c + 4) * 28 + x] = 255;
  }
  const std::string ext = gzip ? ".gz" : "";
  write_file(dir + "/" + prefix + "-images-idx3-ubyte" + ext, idx_bytes({count, 28, 28}, images), gzip);
  write_file(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, idx_bytes({count}, labels), gzip);
}

// The same kind of data in the CIFAR-10 binary layout (data_batch_1..5.bin, test_batch.bin):
// 3x32x32 images, class c a bright bar at row 2c+6 in channel c % 3, plus noise.
inline void write_synthetic_cifar10(const std::string& dir, uint32_t train, uint32_t test) {
  uint64_t s = 12345;
  auto next = [&] {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return s;
  };
  auto records = [&](uint32_t count) {
    std::vector<uint8_t> b;
    b.reserve(static_cast<size_t>(count) * 3073);
    for (uint32_t i = 0; i < count; ++i) {
      const uint8_t c = static_cast<uint8_t>(next() % 10);
      b.push_back(c);
      const size_t at = b.size();
      for (int p = 0; p < 3072; ++p) b.push_back(static_cast<uint8_t>(next() % 96));
      for (int x = 0; x < 32; ++x) b[at + (c % 3) * 1024 + (2 * c + 6) * 32 + x] = 255;
    }
    return b;
  };
  for (int k = 1; k <= 5; ++k)
    write_file(dir + "/data_batch_" + std::to_string(k) + ".bin", records(train / 5 + (k == 5 ? train % 5 : 0)), false);
  write_file(dir + "/test_batch.bin", records(test), false);
}

inline void write_synthetic_dataset(const std::string& dir, uint32_t train, uint32_t test, bool gzip = true) {
  write_synthetic_split(dir, "train", train, 1, gzip);
  write_synthetic_split(dir, "t10k", test, 2, gzip);
}

}  // namespace lira::testing
