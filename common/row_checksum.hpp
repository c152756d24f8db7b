// The checksum of a model's row of one signal, as stored in /models/checksum_<signal> of
// a results file: written where the row is written (a worker's pwrite, or the
// coordinator's HDF5 write) and checked by every reader that reads the whole row
// (`lira score`, `lira audit`, `lira check`), so that bytes changed on disk after the
// commit are named, not scored. It hashes the row's float32 values as stored (their 32-bit
// patterns, little-endian hosts) in order, and can be fed in pieces: reading a row in
// candidate blocks gives the same checksum as hashing it whole. 0 means "no checksum" (a
// model not done, or a file from before checksums); a real checksum is never 0.
//
// FNV-1a over 32-bit words in 4 interleaved lanes (word i goes to lane i mod 4: four
// independent multiply chains instead of one), the lanes folded at the end. Not
// cryptographic: it catches damage (flipped bytes, a stale or foreign row), not an
// adversary.
#pragma once

#include <cstdint>
#include <cstring>

namespace lira {

class RowChecksum {
 public:
  void update(const float* values, uint64_t count) {
    for (uint64_t i = 0; i < count; ++i, ++words_) {
      uint32_t w;
      std::memcpy(&w, values + i, sizeof w);
      uint64_t& h = lane_[words_ & 3];
      h = (h ^ w) * kPrime;
    }
  }
  uint64_t value() const {
    uint64_t h = kBasis ^ words_;
    for (uint64_t l : lane_) h = (h ^ l) * kPrime, h ^= h >> 29;
    return h == 0 ? 1 : h;
  }
  static uint64_t of(const float* values, uint64_t count) {
    RowChecksum c;
    c.update(values, count);
    return c.value();
  }

 private:
  static constexpr uint64_t kBasis = 14695981039346656037ull, kPrime = 1099511628211ull;
  uint64_t lane_[4] = {kBasis, kBasis ^ 1, kBasis ^ 2, kBasis ^ 3};
  uint64_t words_ = 0;
};

}  // namespace lira
