// The DP-SGD accountant against published reference values: TensorFlow Privacy's and
// Google's dp_accounting's tests and tutorials, and Abadi et al. 2016 (docs/privacy.md
// lists them with their sources). The values were computed by those libraries, not by lira.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "common/dp_accountant.hpp"
#include "common/errors.hpp"

using namespace lira;
using lira::dp::dp_sgd_epsilon;
using lira::dp::rdp_poisson_gaussian;

namespace {
// The orders of TF Privacy's tutorials and of dp_accounting's RDP accountant tests:
// 1.1 .. 10.9, then 12..63.
std::vector<double> tutorial_orders() {
  std::vector<double> orders;
  for (int x = 1; x <= 99; ++x) orders.push_back(1 + x / 10.0);
  for (int a = 12; a <= 63; ++a) orders.push_back(a);
  return orders;
}

// The conversion TF Privacy used before December 2020: min over orders of
// rdp - ln(delta) / (alpha - 1). It checks the RDP curve against the older published values.
double old_epsilon(double q, double sigma, int64_t steps, double delta) {
  double best = std::numeric_limits<double>::infinity();
  for (double a : tutorial_orders())
    best = std::min(best, static_cast<double>(steps) * rdp_poisson_gaussian(q, sigma, a) - std::log(delta) / (a - 1));
  return best;
}
}  // namespace

TEST_CASE("raw RDP of the subsampled Gaussian, integer and fractional orders (TF Privacy's tests)") {
  CHECK(10 * rdp_poisson_gaussian(0.1, 2, 5) == doctest::Approx(0.07737).epsilon(1e-4));
  const double orders[] = {1.5, 2.5, 5, 50, 100};
  const double expected[] = {6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 167.42};
  for (int k = 0; k < 5; ++k) {
    CAPTURE(orders[k]);
    CHECK(50 * rdp_poisson_gaussian(0.01, 2.5, orders[k]) == doctest::Approx(expected[k]).epsilon(1e-4));
  }
}

TEST_CASE("the fractional series agrees with the finite sum next to an integer order") {
  for (double q : {0.001, 0.01, 0.2}) {
    for (double sigma : {0.8, 1.1, 4.0}) {
      for (double a : {2.0, 7.0, 20.0}) {
        CAPTURE(q);
        CAPTURE(sigma);
        CAPTURE(a);
        const double exact = rdp_poisson_gaussian(q, sigma, a);
        CHECK(rdp_poisson_gaussian(q, sigma, a + 1e-7) == doctest::Approx(exact).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("special cases: no sampling, no noise, full batch") {
  CHECK(rdp_poisson_gaussian(0, 1.0, 3) == 0);
  CHECK(std::isinf(rdp_poisson_gaussian(0.5, 0, 3)));
  CHECK(rdp_poisson_gaussian(1, 2.0, 3) == doctest::Approx(3.0 / 8));
  CHECK(rdp_poisson_gaussian(1, 2.0, 3.5) == doctest::Approx(3.5 / 8));
  CHECK(dp_sgd_epsilon(0, 1.0, 1000, 1e-5).epsilon == 0);
  CHECK(std::isinf(dp_sgd_epsilon(0.01, 0, 1000, 1e-5).epsilon));
  CHECK_THROWS_AS(rdp_poisson_gaussian(1.5, 1, 2), ConfigError);
  CHECK_THROWS_AS(rdp_poisson_gaussian(0.1, -1, 2), ConfigError);
  CHECK_THROWS_AS(rdp_poisson_gaussian(0.1, 1, 1), ConfigError);
  CHECK_THROWS_AS(dp_sgd_epsilon(0.1, 1, 10, 0), ConfigError);
}

TEST_CASE("epsilon under the improved conversion (TF Privacy's compute_dp_sgd_privacy tests)") {
  // N = 60000, batch 150, sigma 1.3, 15 epochs, delta 1e-5.
  auto e = dp_sgd_epsilon(150.0 / 60000, 1.3, 15 * 60000 / 150, 1e-5);
  CHECK(e.epsilon == doctest::Approx(0.7242234026).epsilon(1e-8));
  CHECK(e.order == 19);
  CHECK(old_epsilon(150.0 / 60000, 1.3, 6000, 1e-5) == doctest::Approx(0.941870567).epsilon(1e-8));
  // N = 100000, batch 100, sigma 1.0, 30 epochs, delta 1e-7.
  e = dp_sgd_epsilon(0.001, 1.0, 30 * 1000, 1e-7);
  CHECK(e.epsilon == doctest::Approx(1.4154988495).epsilon(1e-8));
  CHECK(e.order == 13);
  CHECK(old_epsilon(0.001, 1.0, 30000, 1e-7) == doctest::Approx(1.70928734).epsilon(1e-8));
}

TEST_CASE("dp_accounting's RDP accountant test and the MNIST tutorial settings") {
  CHECK(dp_sgd_epsilon(0.04, 1.5, 2250, 1e-5, tutorial_orders()).epsilon == doctest::Approx(7.32911117143).epsilon(1e-9));
  // MNIST tutorial: q = 256/60000, steps = epochs x floor(60000 / 256), delta 1e-5. The
  // published values used the old conversion; the improved ones are recomputed (3 digits).
  const double q = 256.0 / 60000;
  CHECK(old_epsilon(q, 1.1, 60 * 234, 1e-5) == doctest::Approx(3.0059).epsilon(2e-4));
  CHECK(old_epsilon(q, 1.3, 15 * 234, 1e-5) == doctest::Approx(1.1915).epsilon(2e-4));
  CHECK(old_epsilon(q, 0.7, 45 * 234, 1e-5) == doctest::Approx(7.0957).epsilon(2e-4));
  CHECK(dp_sgd_epsilon(q, 1.1, 60 * 234, 1e-5, tutorial_orders()).epsilon == doctest::Approx(2.594).epsilon(2e-4));
  CHECK(dp_sgd_epsilon(q, 1.3, 15 * 234, 1e-5, tutorial_orders()).epsilon == doctest::Approx(0.954).epsilon(5e-4));
  CHECK(dp_sgd_epsilon(q, 0.7, 45 * 234, 1e-5, tutorial_orders()).epsilon == doctest::Approx(6.314).epsilon(2e-4));
  CHECK(dp_sgd_epsilon(q, 1.1, 14063, 1e-5).epsilon == doctest::Approx(2.597).epsilon(2e-4));
  // Abadi et al. 2016, Section 3.1: q = 0.01, sigma = 4, 10^4 steps, delta 1e-5.
  CHECK(dp_sgd_epsilon(0.01, 4, 10000, 1e-5).epsilon == doctest::Approx(1.0355).epsilon(1e-4));
}

TEST_CASE("the conversion's guard, its floor at 0, and the orders it skips") {
  // delta^2 + expm1(-rdp) > 0 (an RDP below -ln(1 - delta^2)) gives epsilon 0.
  const double orders[] = {2, 3};
  const double tiny[] = {1e-12, 1e-12};
  CHECK(dp::epsilon_from_rdp(orders, tiny, 1e-5).epsilon == 0);
  // Orders at or below 1.01 and infinite RDP are skipped: none left gives +inf.
  const double low[] = {1.005, 1.01};
  const double some[] = {0.1, 0.1};
  CHECK(std::isinf(dp::epsilon_from_rdp(low, some, 1e-5).epsilon));
  const double inf = std::numeric_limits<double>::infinity();
  const double mixed[] = {inf, 0.5};
  const auto e = dp::epsilon_from_rdp(orders, mixed, 1e-5);
  CHECK(e.order == 3);
  CHECK(e.epsilon == doctest::Approx(0.5 + std::log1p(-1.0 / 3) - std::log(3e-5) / 2));
  CHECK_THROWS_AS(dp::epsilon_from_rdp(orders, std::span<const double>(some, 1), 1e-5), ConfigError);
}

TEST_CASE("the noise multiplier for a target epsilon inverts the accountant") {
  const double q = 150.0 / 60000;
  const double sigma = dp::noise_for_epsilon(q, 6000, 1e-5, 0.7242234026);
  CHECK(sigma == doctest::Approx(1.3).epsilon(1e-5));
  CHECK(dp_sgd_epsilon(q, sigma, 6000, 1e-5).epsilon <= 0.7242234026);
  for (double target : {1.0, 4.0, 8.0}) {
    CAPTURE(target);
    const double s = dp::noise_for_epsilon(256.0 / 60000, 3000, 1e-5, target);
    CHECK(dp_sgd_epsilon(256.0 / 60000, s, 3000, 1e-5).epsilon <= target);
    CHECK(dp_sgd_epsilon(256.0 / 60000, s * 0.999, 3000, 1e-5).epsilon > target);
  }
  CHECK_THROWS_AS(dp::noise_for_epsilon(q, 6000, 1e-5, 0), ConfigError);
  CHECK_THROWS_AS(dp::noise_for_epsilon(1.0, 1'000'000'000, 1e-5, 1e-6), ConfigError);
}
