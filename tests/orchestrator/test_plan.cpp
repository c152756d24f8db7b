// Tests of the plan: balanced, deterministic, seed-dependent keep matrix under both keep
// schemes (subsets, pairs); block generation; model seeds.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "common/errors.hpp"
#include "orchestrator/plan.hpp"

using lira::KeepScheme;
using lira::Plan;

namespace {

// keep[m, n] of a materialized matrix.
struct Matrix {
  explicit Matrix(const Plan& p) : keep(p.keep()), n(p.candidates()) {}
  uint8_t at(int64_t m, int64_t c) const { return keep[m * n + c]; }
  std::vector<uint8_t> keep;
  int64_t n;
};

int64_t in_count(const Matrix& k, int64_t models, int64_t candidate) {
  int64_t in = 0;
  for (int64_t m = 0; m < models; ++m) in += k.at(m, candidate);
  return in;
}

}  // namespace

TEST_CASE("every candidate is IN for exactly M/2 models, under either scheme") {
  for (auto scheme : {KeepScheme::kSubsets, KeepScheme::kPairs})
    for (int64_t m : {2, 4, 16, 64}) {
      const Matrix k(Plan(m, 1000, 42, 0, scheme));
      for (int64_t n = 0; n < 1000; ++n) REQUIRE(in_count(k, m, n) == m / 2);
    }
}

TEST_CASE("each model trains on about half the candidates, in a random pattern") {
  const Plan p(16, 20000, 1);
  const Matrix k(p);
  const auto counts = p.in_counts();
  for (int64_t m = 0; m < 16; ++m) {
    int64_t in = 0;
    for (int64_t n = 0; n < 20000; ++n) in += k.at(m, n);
    CHECK(in == counts[m]);
    CHECK(in > 9600);  // 10000 +- 4 sigma (sigma ~ 50 x sqrt(16/15))
    CHECK(in < 10400);
  }
  // Rows are not copies of each other.
  int64_t same = 0;
  for (int64_t n = 0; n < 20000; ++n) same += k.at(0, n) == k.at(1, n);
  CHECK(same > 9000);
  CHECK(same < 11000);
}

TEST_CASE("pairs: complementary rows of exactly half the candidates, random across pairs") {
  const Plan p(8, 1001, 3, 0, KeepScheme::kPairs);
  const Matrix k(p);
  const auto counts = p.in_counts();
  for (int64_t j = 0; j < 4; ++j) {
    CHECK(counts[2 * j] + counts[2 * j + 1] == 1001);
    CHECK(std::abs(counts[2 * j] - counts[2 * j + 1]) == 1);  // odd: sizes differ by one
    for (int64_t n = 0; n < 1001; ++n) REQUIRE(k.at(2 * j, n) + k.at(2 * j + 1, n) == 1);
  }
  int64_t same = 0;  // models 0 and 2 (different pairs) agree on about half the candidates
  for (int64_t n = 0; n < 1001; ++n) same += k.at(0, n) == k.at(2, n);
  CHECK(same > 400);
  CHECK(same < 600);
}

TEST_CASE("pairs: growing M keeps the first rows, and every even prefix is balanced") {
  const Plan small(4, 300, 9, 20, KeepScheme::kPairs), big(16, 300, 9, 20, KeepScheme::kPairs);
  const Matrix a(small), b(big);
  for (int64_t m = 0; m < 4; ++m)
    for (int64_t n = 0; n < 300; ++n) REQUIRE(a.at(m, n) == b.at(m, n));
  for (int64_t prefix = 2; prefix <= 16; prefix += 2)
    for (int64_t n = 0; n < 300; ++n) REQUIRE(in_count(b, prefix, n) == (n < 280 ? prefix / 2 : 0));
  CHECK(small.model_seed(3) == big.model_seed(3));
  // Subsets cannot grow: the first rows change with M.
  const Matrix c(Plan(4, 300, 9, 20)), d(Plan(16, 300, 9, 20));
  int64_t differ = 0;
  for (int64_t n = 0; n < 280; ++n) differ += c.at(0, n) != d.at(0, n);
  CHECK(differ > 50);
}

TEST_CASE("blocks, rows and the whole matrix agree, for any block size") {
  for (auto scheme : {KeepScheme::kSubsets, KeepScheme::kPairs}) {
    const Plan p(6, 257, 11, 7, scheme);
    const Matrix whole(p);
    for (int64_t m = 0; m < 6; ++m) {
      const auto row = p.keep_row(m);
      for (int64_t n = 0; n < 257; ++n) REQUIRE(row[n] == whole.at(m, n));
    }
    std::vector<int> covered(6 * 257, 0);
    p.generate(
        [&](int64_t m0, int64_t rows, int64_t n0, int64_t cols, const uint8_t* block) {
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
              REQUIRE(block[r * cols + c] == whole.at(m0 + r, n0 + c));
              ++covered[(m0 + r) * 257 + n0 + c];
            }
        },
        6 * 10);  // 10 columns per subsets block: the last one narrower
    CHECK(std::all_of(covered.begin(), covered.end(), [](int c) { return c == 1; }));
  }
}

TEST_CASE("the keep matrix is deterministic in the seed and depends on it") {
  for (auto scheme : {KeepScheme::kSubsets, KeepScheme::kPairs}) {
    const Plan a(8, 500, 7, 0, scheme), b(8, 500, 7, 0, scheme), c(8, 500, 8, 0, scheme);
    CHECK(a.keep() == b.keep());
    CHECK(a.keep() != c.keep());
    CHECK(a.model_seed(3) == b.model_seed(3));
    CHECK(a.model_seed(3) != c.model_seed(3));
  }
  CHECK(Plan(8, 500, 7).keep() != Plan(8, 500, 7, 0, KeepScheme::kPairs).keep());
}

TEST_CASE("subsets: growing N keeps the first columns") {
  const Matrix small(Plan(8, 100, 5)), big(Plan(8, 300, 5));
  for (int64_t m = 0; m < 8; ++m)
    for (int64_t n = 0; n < 100; ++n) REQUIRE(small.at(m, n) == big.at(m, n));
}

TEST_CASE("model seeds are distinct") {
  const Plan p(256, 10, 0);
  std::set<uint64_t> seeds;
  for (int64_t m = 0; m < 256; ++m) seeds.insert(p.model_seed(m));
  CHECK(seeds.size() == 256);
}

TEST_CASE("odd or too few models, and unknown schemes, are refused") {
  CHECK_THROWS_AS(Plan(15, 10, 0), lira::ConfigError);
  CHECK_THROWS_AS(Plan(0, 10, 0), lira::ConfigError);
  CHECK_THROWS_AS(Plan(1, 10, 0), lira::ConfigError);
  CHECK_THROWS_AS(Plan(4, 0, 0), lira::ConfigError);
  CHECK_THROWS_AS(lira::keep_scheme_from("halves"), lira::ConfigError);
  CHECK(lira::keep_scheme_from("pairs") == KeepScheme::kPairs);
}

TEST_CASE("the population is IN for no model and leaves the other columns as they were") {
  const Matrix plain(Plan(8, 120, 5)), with(Plan(8, 120, 5, 20));
  CHECK(Plan(8, 120, 5, 20).population() == 20);
  for (int64_t n = 0; n < 120; ++n) {
    for (int64_t m = 0; m < 8 && n < 100; ++m) REQUIRE(with.at(m, n) == plain.at(m, n));
    CHECK(in_count(with, 8, n) == (n < 100 ? 4 : 0));
  }
  CHECK_THROWS_AS(Plan(8, 10, 0, 10), lira::ConfigError);
  CHECK_THROWS_AS(Plan(8, 10, 0, -1), lira::ConfigError);
}
