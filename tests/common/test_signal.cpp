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

// ---------------------------------------------------------------- released outputs (defense.*)
namespace {
lira::ClassifierSignal release(const std::vector<float>& z, int64_t y, const lira::ReleasePolicy& p,
                               std::vector<double>* q_out = nullptr) {
  std::vector<double> q(z.size());
  lira::released_probabilities(z, p, q);
  if (q_out) *q_out = q;
  return lira::released_signal(q, y, p.floor());
}
}  // namespace

TEST_CASE("no defense, top-k with the label released: the released signal is the exact one") {
  const std::vector<float> z{2.0f, -1.0f, 0.5f, 3.0f, -4.0f};
  for (int64_t y : {0, 2, 3}) {  // the three largest
    const auto exact = classifier_signal(std::span<const float>(z), y);
    for (int64_t k : {0, 3}) {
      lira::ReleasePolicy p;
      p.top_k = k;
      const auto s = release(z, y, p);
      CHECK(s.logit_confidence == doctest::Approx(exact.logit_confidence).epsilon(1e-12));
      CHECK(s.loss == doctest::Approx(exact.loss).epsilon(1e-12));
    }
  }
}

TEST_CASE("top-k spreads the unreleased mass evenly and hides the rank of the true class") {
  const std::vector<float> z{2.0f, -1.0f, 0.5f, 3.0f, -4.0f};
  lira::ReleasePolicy p;
  p.top_k = 2;  // classes 3 and 0 released
  std::vector<double> q;
  const auto s1 = release(z, 1, p, &q);
  const auto s4 = release(z, 4, p, &q);
  double e[5], sum = 0;
  for (int j = 0; j < 5; ++j) sum += e[j] = std::exp(static_cast<double>(z[j]));
  const double rest = (e[1] + e[2] + e[4]) / sum / 3.0;
  CHECK(q[1] == doctest::Approx(rest).epsilon(1e-14));
  CHECK(q[3] == doctest::Approx(e[3] / sum).epsilon(1e-14));
  // Classes 1 and 4 differ in their logits but read the same.
  CHECK(s1.logit_confidence == s4.logit_confidence);
  CHECK(s1.logit_confidence == doctest::Approx(std::log(rest) - std::log(1 - rest)).epsilon(1e-12));
  p.top_k = 5;
  CHECK_THROWS_AS(release(z, 0, p), lira::Error);
}

TEST_CASE("rounding: values to d decimals, confident outputs saturate at half the last decimal") {
  lira::ReleasePolicy p;
  p.round_decimals = 2;
  CHECK(p.floor() == doctest::Approx(0.005));
  std::vector<double> q;
  // p = (0.7311, 0.2689) for logits (1, 0): rounded to (0.73, 0.27).
  const auto s = release({1.0f, 0.0f}, 0, p, &q);
  CHECK(q[0] == doctest::Approx(0.73).epsilon(1e-15));
  CHECK(q[1] == doctest::Approx(0.27).epsilon(1e-15));
  CHECK(s.logit_confidence == doctest::Approx(std::log(0.73 / 0.27)).epsilon(1e-12));
  // Logits (30, 0): 1 and 0 after rounding; phi is capped at log(1 / 0.005), not infinite.
  const auto c = release({30.0f, 0.0f}, 0, p);
  CHECK(c.logit_confidence == doctest::Approx(std::log(1.0 / 0.005)).epsilon(1e-12));
  CHECK(c.loss == 0.0);
  const auto w = release({30.0f, 0.0f}, 1, p);
  CHECK(w.logit_confidence == doctest::Approx(-std::log(1.0 / 0.005)).epsilon(1e-12));
  CHECK(w.loss == doctest::Approx(std::log(200.0)).epsilon(1e-12));
  // Two members with different confidence above the last decimal become indistinguishable.
  CHECK(release({30.0f, 0.0f}, 0, p).logit_confidence == release({20.0f, 0.0f}, 0, p).logit_confidence);
}

TEST_CASE("top-k with rounding: the rest of the mass is 1 minus the rounded released values") {
  lira::ReleasePolicy p;
  p.top_k = 1;
  p.round_decimals = 1;
  std::vector<double> q;
  release({2.0f, 0.0f, 0.0f}, 1, p, &q);  // p = (0.7870, 0.1065, 0.1065)
  CHECK(q[0] == doctest::Approx(0.8).epsilon(1e-15));
  CHECK(q[1] == doctest::Approx(0.1).epsilon(1e-12));
  CHECK(q[2] == doctest::Approx(0.1).epsilon(1e-12));
}

TEST_CASE("label only: +-log 2 and a 0/log 2 loss, nothing else about the logits") {
  lira::ReleasePolicy p;
  p.label_only = true;
  std::vector<double> q;
  const auto right = release({0.1f, 5.0f, 0.0f}, 1, p, &q);
  CHECK(q == std::vector<double>{0, 1, 0});
  CHECK(right.logit_confidence == doctest::Approx(std::log(2.0)));
  CHECK(right.loss == 0.0);
  const auto wrong = release({0.1f, 5.0f, 0.0f}, 2, p);
  CHECK(wrong.logit_confidence == doctest::Approx(-std::log(2.0)));
  CHECK(wrong.loss == doctest::Approx(std::log(2.0)));
  CHECK(release({0.0f, 50.0f, 0.0f}, 1, p).logit_confidence == right.logit_confidence);
  const auto stats = lira::probability_stats(std::span<const double>(q));
  CHECK(stats.max_probability == 1.0);
  CHECK(stats.entropy == 0.0);
}
