// Portable, seedable random numbers for everything that must be reproducible from the
// experiment seed (keep matrix, per-model seeds). std:: distributions are
// implementation-defined, so we use our own: SplitMix64 to derive independent streams and
// xoshiro256** as the generator, with Lemire's unbiased bounded integers.
#pragma once

#include <cstdint>

namespace lira {

// One step of SplitMix64 (Steele, Lea, Flood 2014): a good 64-bit mixer.
constexpr uint64_t splitmix64(uint64_t& state) noexcept {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A seed for stream `stream`, item `index`, derived from a root seed. Streams keep
// unrelated uses (keep matrix, model seeds, ...) independent even for the same index.
constexpr uint64_t derive_seed(uint64_t root, uint64_t stream, uint64_t index) noexcept {
  uint64_t s = root;
  uint64_t a = splitmix64(s);
  s = a ^ (stream * 0xD1B54A32D192ED03ull);
  uint64_t b = splitmix64(s);
  s = b ^ (index * 0x8CB92BA72F3D8DD7ull);
  return splitmix64(s);
}

// Streams used by derive_seed; never renumber them (results depend on them).
enum class SeedStream : uint64_t { kKeepMatrix = 1, kModel = 2, kKeepPairs = 3 };

class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) noexcept {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() noexcept {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform integer in [0, bound), bound > 0, without modulo bias (Lemire 2019).
  uint64_t below(uint64_t bound) noexcept {
    __uint128_t m = static_cast<__uint128_t>(next()) * bound;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<__uint128_t>(next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  // Uniform double in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static constexpr uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace lira
