// Tests of the plan: balanced, deterministic, seed-dependent keep matrix; model seeds.
#include <doctest/doctest.h>

#include <set>

#include "common/errors.hpp"
#include "orchestrator/plan.hpp"

using lira::Plan;

TEST_CASE("every candidate is IN for exactly M/2 models") {
  for (int64_t m : {2, 4, 16, 64}) {
    const Plan p(m, 1000, 42);
    for (int64_t n = 0; n < 1000; ++n) {
      int64_t in = 0;
      for (int64_t k = 0; k < m; ++k) in += p.keep()[k * 1000 + n];
      REQUIRE(in == m / 2);
    }
  }
}

TEST_CASE("each model trains on about half the candidates, in a random pattern") {
  const Plan p(16, 20000, 1);
  for (int64_t k = 0; k < 16; ++k) {
    int64_t in = 0;
    for (auto v : p.keep_row(k)) in += v;
    CHECK(in > 9600);  // 10000 +- 4 sigma (sigma ~ 50 x sqrt(16/15))
    CHECK(in < 10400);
  }
  // Rows are not copies of each other.
  int64_t same = 0;
  for (int64_t n = 0; n < 20000; ++n) same += p.keep_row(0)[n] == p.keep_row(1)[n];
  CHECK(same > 9000);
  CHECK(same < 11000);
}

TEST_CASE("the keep matrix is deterministic in the seed and depends on it") {
  const Plan a(8, 500, 7), b(8, 500, 7), c(8, 500, 8);
  CHECK(std::equal(a.keep().begin(), a.keep().end(), b.keep().begin()));
  CHECK(!std::equal(a.keep().begin(), a.keep().end(), c.keep().begin()));
  CHECK(a.model_seed(3) == b.model_seed(3));
  CHECK(a.model_seed(3) != c.model_seed(3));
}

TEST_CASE("growing N keeps the first columns") {
  const Plan small(8, 100, 5), big(8, 300, 5);
  for (int64_t m = 0; m < 8; ++m)
    for (int64_t n = 0; n < 100; ++n) REQUIRE(small.keep_row(m)[n] == big.keep_row(m)[n]);
}

TEST_CASE("model seeds are distinct") {
  const Plan p(256, 10, 0);
  std::set<uint64_t> seeds;
  for (int64_t m = 0; m < 256; ++m) seeds.insert(p.model_seed(m));
  CHECK(seeds.size() == 256);
}

TEST_CASE("odd or too few models are refused") {
  CHECK_THROWS_AS(Plan(15, 10, 0), lira::ConfigError);
  CHECK_THROWS_AS(Plan(0, 10, 0), lira::ConfigError);
  CHECK_THROWS_AS(Plan(1, 10, 0), lira::ConfigError);
  CHECK_THROWS_AS(Plan(4, 0, 0), lira::ConfigError);
}

TEST_CASE("the population is IN for no model and leaves the other columns as they were") {
  const Plan plain(8, 120, 5), with(8, 120, 5, 20);
  CHECK(with.population() == 20);
  for (int64_t n = 0; n < 120; ++n) {
    int64_t in = 0;
    for (int64_t m = 0; m < 8; ++m) {
      in += with.keep_row(m)[n];
      if (n < 100) REQUIRE(with.keep_row(m)[n] == plain.keep_row(m)[n]);
    }
    CHECK(in == (n < 100 ? 4 : 0));
  }
  CHECK_THROWS_AS(Plan(8, 10, 0, 10), lira::ConfigError);
  CHECK_THROWS_AS(Plan(8, 10, 0, -1), lira::ConfigError);
}
