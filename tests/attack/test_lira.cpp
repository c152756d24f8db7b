// Tests of the Gaussian helpers and the LiRA / LOSS scores on hand-computed values.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "attack/block_scorer.hpp"
#include "attack/gaussian.hpp"

using namespace lira;

TEST_CASE("moments use ddof = 0") {
  const std::vector<double> v{1, 2, 3, 4};
  const auto m = moments(v);
  CHECK(m.mean == doctest::Approx(2.5));
  CHECK(m.sd == doctest::Approx(std::sqrt(1.25)));
  CHECK(m.count == 4);
  CHECK(std::isnan(moments(std::vector<double>{}).mean));
}

TEST_CASE("log density and log CDF against scipy.stats.norm") {
  CHECK(log_normal_pdf(0, 0, 1) == doctest::Approx(-0.5 * std::log(2 * std::numbers::pi)));
  CHECK(log_normal_pdf(3, 1, 2) == doctest::Approx(-0.5 - std::log(2.0) - 0.5 * std::log(2 * std::numbers::pi)));
  // Values of scipy.stats.norm.logcdf.
  const std::vector<std::pair<double, double>> ref{{-40, -804.6084420137539},     {-30, -454.32124395634327},
                                                   {-20.5, -214.06672896326387},  {-19.5, -194.01696577749752},
                                                   {-5, -15.064998393988727},     {0, -0.6931471805599453},
                                                   {3, -0.001350809964748193},    {10, -7.619853024160473e-24}};
  for (auto [z, want] : ref) CHECK(log_normal_cdf(z) == doctest::Approx(want).epsilon(1e-12));
  CHECK(std::isfinite(log_normal_cdf(-1e6)));
}

namespace {

// 5 models, 2 candidates, 1 query. Model 4 is the target, models 0-3 the references.
// Candidate 0: IN refs {0, 1} signals {2, 4} (mean 3, sd 1); OUT {2, 3}: {-1, 1} (0, 1).
// Candidate 1: IN refs {0, 2} signals {0, 4} (mean 2, sd 2); OUT {1, 3}: {-2, -6} (-4, 2).
// Target signals: 3 (candidate 0, a member), 0 (candidate 1, a non-member).
struct Case {
  std::vector<uint8_t> keep{1, 1, /*m1*/ 1, 0, /*m2*/ 0, 1, /*m3*/ 0, 0, /*m4*/ 1, 0};
  std::vector<float> conf{2, 0, /*m1*/ 4, -2, /*m2*/ -1, 4, /*m3*/ 1, -6, /*m4*/ 3, 0};
  std::vector<float> loss{0, 0, 0, 0, 0, 0, 0, 0, /*m4*/ 0.25f, 1.5f};
};

std::vector<double> run(AttackId id, const Case& c) {
  BlockScorer s({id}, 5, 2, 1, c.keep, {4}, {0, 1, 2, 3});
  SignalBlock b{0, 2, c.conf.data(), c.loss.data()};
  if (s.needs_variance_pass()) s.accumulate_variance(b);
  s.score(b);
  return s.scores(0, 0);
}

}  // namespace

TEST_CASE("online LiRA: log N(s, in) - log N(s, out) per candidate") {
  const auto s = run(AttackId::kLiraOnline, Case{});
  CHECK(s[0] == doctest::Approx(4.5));  // 0 - (-9/2)
  CHECK(s[1] == doctest::Approx(1.5));  // (-1/2) - (-2), the log sd terms cancel
}

TEST_CASE("offline LiRA: log Pr[Z < s], Z ~ N(mu_out, sd_out)") {
  const auto s = run(AttackId::kLiraOffline, Case{});
  CHECK(s[0] == doctest::Approx(-0.001350809964748193));  // log Phi(3)
  CHECK(s[1] == doctest::Approx(std::log(0.9772498680518208)));  // log Phi(2)
}

TEST_CASE("fixed variance pools squared deviations from each candidate's own mean") {
  // IN: (1 + 1) + (4 + 4) over 4 signals -> sd^2 = 2.5; OUT likewise.
  const auto on = run(AttackId::kLiraOnlineFixedVariance, Case{});
  CHECK(on[0] == doctest::Approx(9.0 / 5.0));
  CHECK(on[1] == doctest::Approx(-4.0 / 5.0 + 16.0 / 5.0));
  const auto off = run(AttackId::kLiraOfflineFixedVariance, Case{});
  CHECK(off[0] == doctest::Approx(log_normal_cdf(3.0 / std::sqrt(2.5))));
  CHECK(off[1] == doctest::Approx(log_normal_cdf(4.0 / std::sqrt(2.5))));
  BlockScorer s({AttackId::kLiraOnlineFixedVariance}, 5, 2, 1, Case{}.keep, {4}, {0, 1, 2, 3});
  Case c;
  s.accumulate_variance({0, 2, c.conf.data(), nullptr});
  CHECK(s.pooled_sd_in()[0] == doctest::Approx(std::sqrt(2.5)));
  CHECK(s.pooled_sd_out()[0] == doctest::Approx(std::sqrt(2.5)));
}

TEST_CASE("LOSS: minus the loss") {
  const auto s = run(AttackId::kLoss, Case{});
  CHECK(s[0] == doctest::Approx(-0.25));
  CHECK(s[1] == doctest::Approx(-1.5));
}

TEST_CASE("several queries: the mean of the per-query scores") {
  // Query 0 as above; query 1 shifts every signal of candidate 0 by +10 (same score) and
  // doubles candidate 1's spread around its means.
  Case c;
  std::vector<float> conf2;
  for (int m = 0; m < 5; ++m)
    for (int n = 0; n < 2; ++n) {
      const float v = c.conf[m * 2 + n];
      conf2.push_back(v);
      conf2.push_back(n == 0 ? v + 10 : v * 2);
    }
  BlockScorer s({AttackId::kLiraOnline}, 5, 2, 2, c.keep, {4}, {0, 1, 2, 3});
  SignalBlock b{0, 2, conf2.data(), nullptr};
  s.score(b);
  CHECK(s.scores(0, 0)[0] == doctest::Approx(4.5));
  // Query 1 of candidate 1: IN {0, 8} (4, 4), OUT {-4, -12} (-8, 4), s = 0: -0.5 + 2 = 1.5.
  CHECK(s.scores(0, 0)[1] == doctest::Approx(1.5));
}

TEST_CASE("a candidate without IN references has no online score, but an offline one") {
  // References 2 and 3 only: candidate 0 has no IN reference.
  Case c;
  BlockScorer s({AttackId::kLiraOnline, AttackId::kLiraOffline}, 5, 2, 1, c.keep, {4}, {2, 3});
  s.score({0, 2, c.conf.data(), nullptr});
  CHECK(std::isnan(s.scores(0, 0)[0]));
  CHECK(std::isfinite(s.scores(1, 0)[0]));
}

TEST_CASE("scores do not depend on how the candidates are split into blocks") {
  const int64_t M = 9, N = 50;
  std::vector<uint8_t> keep(M * N);
  std::vector<float> conf(M * N * 2);
  for (int64_t i = 0; i < M * N; ++i) keep[i] = (i / N + i % N) % 2;  // model + candidate parity
  for (size_t i = 0; i < conf.size(); ++i) conf[i] = static_cast<float>(std::sin(i * 0.37) * 3);
  auto score_in_blocks = [&](int64_t block) {
    BlockScorer s({AttackId::kLiraOnlineFixedVariance, AttackId::kLiraOffline}, M, N, 2, keep, {7, 8},
                  {0, 1, 2, 3, 4, 5, 6});
    std::vector<std::vector<float>> parts;
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t n0 = 0; n0 < N; n0 += block) {
        const int64_t n1 = std::min(N, n0 + block);
        std::vector<float> part;
        for (int64_t m = 0; m < M; ++m)
          part.insert(part.end(), conf.begin() + (m * N + n0) * 2, conf.begin() + (m * N + n1) * 2);
        SignalBlock b{n0, n1 - n0, part.data(), nullptr};
        pass == 0 ? s.accumulate_variance(b) : s.score(b);
      }
    return std::vector<std::vector<double>>{s.scores(0, 0), s.scores(0, 1), s.scores(1, 1)};
  };
  const auto whole = score_in_blocks(N);
  for (int64_t block : {1, 7, 16}) {
    const auto split = score_in_blocks(block);
    for (size_t k = 0; k < whole.size(); ++k)
      for (int64_t n = 0; n < N; ++n) {
        REQUIRE(std::isfinite(whole[k][n]));
        CHECK(split[k][n] == doctest::Approx(whole[k][n]).epsilon(1e-12));
      }
  }
}

TEST_CASE("the scorer reports the fewest IN and OUT references of any candidate") {
  Case c;
  BlockScorer s({AttackId::kLiraOnline}, 5, 2, 1, c.keep, {4}, {0, 1, 2, 3});
  s.score({0, 2, c.conf.data(), nullptr});
  CHECK(s.min_in_references() == 2);
  CHECK(s.min_out_references() == 2);
  BlockScorer t({AttackId::kLiraOnline}, 5, 2, 1, c.keep, {4}, {0, 2, 3});
  t.score({0, 2, c.conf.data(), nullptr});
  CHECK(t.min_in_references() == 1);  // candidate 0: only model 0 of {0, 2, 3} is IN
}
