// Tests of the float64-stable logit-scaled confidence and loss (docs/results-format.md).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "common/errors.hpp"
#include "common/signal.hpp"

using lira::classifier_signal;

namespace {
// Direct float64 formulas for moderate logits, where they are accurate.
double naive_phi(const std::vector<double>& z, int y) {
  double m = z[0];
  for (double v : z) m = std::max(m, v);
  double sum = 0;
  for (double v : z) sum += std::exp(v - m);
  const double py = std::exp(z[y] - m) / sum;
  return std::log(py) - std::log(1.0 - py);
}
double naive_loss(const std::vector<double>& z, int y) {
  double sum = 0;
  for (double v : z) sum += std::exp(v);
  return std::log(sum) - z[y];
}
}  // namespace

TEST_CASE("moderate logits agree with the direct formula") {
  const std::vector<double> z{0.3, -1.2, 2.5, 0.0, 1.1};
  for (int y = 0; y < 5; ++y) {
    const auto s = classifier_signal(std::span<const double>(z), y);
    CHECK(s.logit_confidence == doctest::Approx(naive_phi(z, y)).epsilon(1e-12));
    CHECK(s.loss == doctest::Approx(naive_loss(z, y)).epsilon(1e-12));
  }
}

TEST_CASE("logits of +-1e4 stay finite and exact") {
  // phi = z_y - logsumexp(others) = 1e4 - (-1e4 + log 9) exactly.
  std::vector<float> z(10, -1e4f);
  z[3] = 1e4f;
  const auto s = classifier_signal(std::span<const float>(z), 3);
  CHECK(s.logit_confidence == doctest::Approx(2e4 - std::log(9.0)).epsilon(1e-15));
  CHECK(s.loss == 0.0);  // exp(-2e4) underflows: the loss is exactly 0 in float64
  const auto wrong = classifier_signal(std::span<const float>(z), 0);
  CHECK(wrong.logit_confidence == doctest::Approx(-1e4 - (1e4 + std::log1p(8 * std::exp(-2e4)))).epsilon(1e-15));
  CHECK(wrong.loss == doctest::Approx(2e4).epsilon(1e-15));
}

TEST_CASE("a confidence of 1 - 1e-12 gives log(p / (1 - p)) to full precision") {
  // Two classes: p_y = sigmoid(z_y - z_o); phi = z_y - z_o exactly.
  const double p = 1.0 - 1e-12;
  const double logit = std::log(p) - std::log1p(-p);  // ~27.631
  const std::vector<double> z{logit, 0.0};
  const auto s = classifier_signal(std::span<const double>(z), 0);
  CHECK(s.logit_confidence == doctest::Approx(logit).epsilon(1e-14));
  // loss = -log p = log1p(exp(-logit)) ~ 1e-12, kept to relative precision.
  CHECK(s.loss == doctest::Approx(std::log1p(std::exp(-logit))).epsilon(1e-12));
  CHECK(s.loss > 0.0);
  // The float32 softmax route saturates: p rounds to 1 and log(p / (1 - p)) is inf.
  const float pf = 1.0f / (1.0f + std::exp(-static_cast<float>(logit)));
  CHECK(pf == 1.0f);
}

TEST_CASE("ten classes with a confident true class") {
  // z_y = 30, others 0: phi = 30 - log 9, loss = log1p(9 e^-30).
  std::vector<double> z(10, 0.0);
  z[7] = 30.0;
  const auto s = classifier_signal(std::span<const double>(z), 7);
  CHECK(s.logit_confidence == doctest::Approx(30.0 - std::log(9.0)).epsilon(1e-15));
  CHECK(s.loss == doctest::Approx(9.0 * std::exp(-30.0)).epsilon(1e-10));
}

TEST_CASE("bad input is rejected") {
  std::vector<double> one{1.0};
  CHECK_THROWS_AS(classifier_signal(std::span<const double>(one), 0), lira::Error);
  std::vector<double> two{1.0, 2.0};
  CHECK_THROWS_AS(classifier_signal(std::span<const double>(two), 2), lira::Error);
  CHECK_THROWS_AS(classifier_signal(std::span<const double>(two), -1), lira::Error);
}

TEST_CASE("max probability and entropy of the softmax, stable for huge logits") {
  const std::vector<float> even{3.0f, 3.0f};
  const auto e = lira::probability_stats(even);
  CHECK(e.max_probability == doctest::Approx(0.5));
  CHECK(e.entropy == doctest::Approx(std::log(2.0)));
  const std::vector<float> skewed{2.0f, 0.0f, -1.0f};
  const double z = std::exp(2.0) + 1.0 + std::exp(-1.0);
  const double p0 = std::exp(2.0) / z, p1 = 1.0 / z, p2 = std::exp(-1.0) / z;
  const auto s = lira::probability_stats(skewed);
  CHECK(s.max_probability == doctest::Approx(p0));
  CHECK(s.entropy == doctest::Approx(-(p0 * std::log(p0) + p1 * std::log(p1) + p2 * std::log(p2))));
  const std::vector<float> huge{1e4f, -1e4f, -1e4f};
  const auto h = lira::probability_stats(huge);
  CHECK(h.max_probability == 1.0);
  CHECK(h.entropy == doctest::Approx(0.0));
}
