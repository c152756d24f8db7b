// Tests of the learning-rate schedules against hand-computed values.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "common/config.hpp"
#include "common/schedule.hpp"

using namespace lira;

namespace {
TrainingConfig recipe(const char* schedule, double warmup, double lr = 0.1) {
  TrainingConfig t;
  t.schedule = schedule;
  t.warmup = warmup;
  t.lr = lr;
  return t;
}
}  // namespace

TEST_CASE("constant, with and without warmup") {
  CHECK(learning_rate(recipe("constant", 0), 0, 100) == doctest::Approx(0.1));
  CHECK(learning_rate(recipe("constant", 0), 99, 100) == doctest::Approx(0.1));
  CHECK(learning_rate(recipe("constant", 0.1), 5, 100) == doctest::Approx(0.05));
  CHECK(learning_rate(recipe("constant", 0.1), 10, 100) == doctest::Approx(0.1));
}

TEST_CASE("the official LiRA schedule: lr cos(7 pi p / 16) clip(100 p, 0, 1)") {
  const auto t = recipe("official", 0.01);
  CHECK(learning_rate(t, 0, 1000) == 0.0);
  CHECK(learning_rate(t, 5, 1000) == doctest::Approx(0.1 * std::cos(0.005 * 7 * std::numbers::pi / 16) * 0.5));
  CHECK(learning_rate(t, 500, 1000) == doctest::Approx(0.1 * std::cos(0.5 * 7 * std::numbers::pi / 16)));
  CHECK(learning_rate(t, 999, 1000) == doctest::Approx(0.1 * std::cos(0.999 * 7 * std::numbers::pi / 16)));
  CHECK(learning_rate(t, 999, 1000) > 0.019);  // ends at cos(7 pi / 16) ~ 0.195 of the peak, not 0
}

TEST_CASE("cosine decays to zero after the warmup") {
  const auto t = recipe("cosine", 0.2);
  CHECK(learning_rate(t, 10, 100) == doctest::Approx(0.05));
  CHECK(learning_rate(t, 20, 100) == doctest::Approx(0.1));
  CHECK(learning_rate(t, 60, 100) == doctest::Approx(0.05));
  CHECK(learning_rate(t, 100, 100) == doctest::Approx(0.0).epsilon(1e-12));
}

TEST_CASE("onecycle: linear up to the peak, linear down to zero") {
  const auto t = recipe("onecycle", 0.25);
  CHECK(learning_rate(t, 0, 100) == 0.0);
  CHECK(learning_rate(t, 25, 100) == doctest::Approx(0.1));
  CHECK(learning_rate(t, 50, 100) == doctest::Approx(0.1 * 2 / 3.0));
  CHECK(learning_rate(t, 100, 100) == doctest::Approx(0.0));
  CHECK(learning_rate(recipe("onecycle", 0), 0, 100) == doctest::Approx(0.1));
}
