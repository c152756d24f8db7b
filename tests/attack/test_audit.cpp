// The audits against the reference values of the literature's code (docs/scoring.md):
// the one-run table (m = 1000, every guess correct), the one-run cross-check at m = 500,
// the GDP mu-to-epsilon conversion, the normal quantile, and the Bonferroni and GDP
// bounds on scores whose answer is known.
#include <doctest/doctest.h>

#include <cmath>
#include <span>
#include <vector>

#include "attack/audit.hpp"

using namespace lira;

TEST_CASE("one run: m = 1000, every guess correct, 95% confidence, the published table") {
  const int64_t r[] = {10, 50, 100, 200, 500, 1000};
  const double no_delta[] = {1.052, 2.785, 3.493, 4.194, 5.114, 5.809};
  const double with_delta[] = {1.015, 2.756, 3.465, 4.167, 5.088, 5.782};
  for (int i = 0; i < 6; ++i) {
    CAPTURE(r[i]);
    CHECK(one_run_epsilon(r[i], r[i], 1000, 0.0, 0.05) == doctest::Approx(no_delta[i]).epsilon(0.0006));
    CHECK(one_run_epsilon(r[i], r[i], 1000, 1e-5, 0.05) == doctest::Approx(with_delta[i]).epsilon(0.0006));
  }
  // The closed form without delta: q = alpha^(1/r), epsilon = ln(q / (1 - q)).
  const double q = std::pow(0.05, 1.0 / 100);
  CHECK(one_run_epsilon(100, 100, 1000, 0.0, 0.05) == doctest::Approx(std::log(q / (1 - q))).epsilon(1e-9));
}

TEST_CASE("one run: m = 500, r = v = 100, delta 1e-5 at 95% and 99%") {
  CHECK(one_run_epsilon(100, 100, 500, 1e-5, 0.05) == doctest::Approx(3.4792).epsilon(1e-4));
  CHECK(one_run_epsilon(100, 100, 500, 1e-5, 0.01) == doctest::Approx(3.0232).epsilon(1e-4));
  // Fewer correct guesses, a smaller bound; chance-level guessing, none.
  CHECK(one_run_epsilon(100, 90, 500, 1e-5, 0.05) < 3.0);
  CHECK(one_run_epsilon(100, 50, 500, 1e-5, 0.05) == 0.0);
  // The p-value grows with epsilon (the search relies on it).
  CHECK(one_run_p_value(100, 80, 500, 0.5, 1e-5) < one_run_p_value(100, 80, 500, 1.0, 1e-5));
}

TEST_CASE("GDP: mu to epsilon at delta 1e-5") {
  CHECK(gdp_epsilon(0.5, 1e-5) == doctest::Approx(1.993).epsilon(5e-4));
  CHECK(gdp_epsilon(1.0, 1e-5) == doctest::Approx(4.377).epsilon(5e-4));
  CHECK(gdp_epsilon(2.0, 1e-5) == doctest::Approx(9.997).epsilon(5e-4));
  CHECK(gdp_epsilon(3.0, 1e-5) == doctest::Approx(16.675).epsilon(5e-4));
  CHECK(gdp_epsilon(0.0, 1e-5) == 0.0);
  // delta(epsilon) decreases in epsilon and matches the definition at one point.
  CHECK(gdp_delta(1.0, 1.0) > gdp_delta(1.0, 2.0));
  CHECK(gdp_delta(1.0, 0.0) == doctest::Approx(2 * normal_cdf(0.5) - 1).epsilon(1e-12));
}

TEST_CASE("normal quantile inverts the CDF, tails included") {
  for (double p : {1e-300, 1e-20, 1e-8, 0.001, 0.02425, 0.3, 0.5, 0.9, 0.999, 1 - 1e-12}) {
    CAPTURE(p);
    const double x = normal_quantile(p);
    CHECK(normal_cdf(x) == doctest::Approx(p).epsilon(1e-10));
  }
  CHECK(normal_quantile(0.975) == doctest::Approx(1.959963984540054).epsilon(1e-13));
}

TEST_CASE("GDP and Bonferroni bounds: separated scores give a bound, shuffled ones none") {
  std::vector<double> s;
  std::vector<uint8_t> m;
  for (int i = 0; i < 2000; ++i) {
    const bool member = i % 2 == 0;
    m.push_back(member);
    // Members above 10, non-members below 1000 / 2000: perfectly separated.
    s.push_back(member ? 10.0 + i : static_cast<double>(i) / 2000.0);
  }
  const auto g = gdp_bound(s, m, 1e-5, 0.05);
  CHECK(g.mu > 4.0);
  CHECK(g.epsilon > 10.0);
  const auto b = bonferroni_epsilon_bound(s, m, 1e-5, 0.05);
  CHECK(b.epsilon > 4.0);  // FPR_ub at 0 of 1000 non-members, alpha / 4000: ~0.012
  CHECK(b.epsilon < std::log(1000.0));  // at most ln(n_out): no FPR bound below ~1/n_out
  // Scores unrelated to membership: no bound beyond chance.
  std::vector<double> flat(s.size());
  for (size_t i = 0; i < s.size(); ++i) flat[i] = static_cast<double>((i * 7919) % 2000);
  CHECK(gdp_bound(flat, m, 1e-5, 0.05).epsilon < 0.2);
  CHECK(bonferroni_epsilon_bound(flat, m, 1e-5, 0.05).epsilon < 0.2);
}

TEST_CASE("one-run bound on scores: Bonferroni over the guess counts, top guesses of separated scores") {
  std::vector<double> s;
  std::vector<uint8_t> m;
  for (int i = 0; i < 1000; ++i) m.push_back(i % 2), s.push_back(i % 2 ? 1000.0 + i : static_cast<double>(i));
  const auto b = one_run_bound(s, m, {100}, {0}, 0.0, 0.05);
  CHECK(b.correct == 100);
  CHECK(b.epsilon == doctest::Approx(one_run_epsilon(100, 100, 1000, 0.0, 0.05)));
  const auto several = one_run_bound(s, m, {10, 100}, {0, 100}, 0.0, 0.05);
  CHECK(several.tried == 4);
  CHECK(several.guesses == 200);  // 100 IN + 100 OUT, all correct: the best of the four
  CHECK(several.epsilon == doctest::Approx(one_run_epsilon(200, 200, 1000, 0.0, 0.05 / 4)));
}

TEST_CASE("audit_rows: each target's bounds on the canaries, a pooled row without one-run, NaN scores left out") {
  // Two targets over 400 candidates; every 4th candidate a canary; members score higher.
  const size_t N = 400;
  std::vector<std::vector<double>> s(2, std::vector<double>(N));
  std::vector<std::vector<uint8_t>> member(2, std::vector<uint8_t>(N));
  std::vector<uint8_t> canary(N);
  for (size_t t = 0; t < 2; ++t)
    for (size_t n = 0; n < N; ++n) {
      member[t][n] = static_cast<uint8_t>((n * 7 + t * 3) % 2);
      s[t][n] = (member[t][n] ? 2.0 : 0.0) + static_cast<double>((n * 37 + t * 11) % 100) / 40.0;
      canary[n] = n % 4 == 0;
    }
  s[1][8] = std::nan("");  // a canary without a score
  lira::AuditOptions o;
  o.k_plus = {10, 20};
  const std::vector<std::span<const double>> rows = {s[0], s[1]};
  const auto out = lira::audit_rows(rows, member, canary, {"model 6", "model 7"}, {1.5, std::nan("")}, o);
  REQUIRE(out.size() == 3);
  CHECK(out[0].target == "model 6");
  CHECK(out[2].target == "pooled");
  CHECK(out[0].dp_epsilon == 1.5);
  CHECK(std::isnan(out[2].dp_epsilon));
  CHECK(out[0].one_run.has_value());
  CHECK_FALSE(out[2].one_run.has_value());
  // The same bounds by hand on target 7's canaries with a score.
  std::vector<double> cs;
  std::vector<uint8_t> cm;
  for (size_t n = 0; n < N; ++n)
    if (canary[n] && !std::isnan(s[1][n])) cs.push_back(s[1][n]), cm.push_back(member[1][n]);
  CHECK(cs.size() == 99);
  const auto cp = lira::bonferroni_epsilon_bound(cs, cm, o.delta, o.alpha);
  const auto g = lira::gdp_bound(cs, cm, o.delta, o.alpha);
  const auto b = lira::one_run_bound(cs, cm, o.k_plus, o.k_minus, o.delta, o.alpha);
  REQUIRE(out[1].clopper_pearson.has_value());
  CHECK(out[1].clopper_pearson->epsilon == cp.epsilon);
  CHECK(out[1].clopper_pearson->members + out[1].clopper_pearson->nonmembers == 99);
  CHECK(out[1].gdp->mu == g.mu);
  CHECK(out[1].one_run->epsilon == b.epsilon);
  CHECK(out[1].one_run->correct == b.correct);
  // Pooled: both targets' canaries, 100 + 99 pairs.
  CHECK(out[2].clopper_pearson->members + out[2].clopper_pearson->nonmembers == 199);
  // Methods switched off are absent.
  o.gdp = false;
  o.one_run = false;
  const auto cp_only = lira::audit_rows(rows, member, {}, {"a", "b"}, {std::nan(""), std::nan("")}, o);
  CHECK_FALSE(cp_only[0].gdp.has_value());
  CHECK_FALSE(cp_only[0].one_run.has_value());
  CHECK(cp_only[0].clopper_pearson->members + cp_only[0].clopper_pearson->nonmembers == 400);
}
