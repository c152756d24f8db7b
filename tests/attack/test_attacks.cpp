// Tests of RMIA, the shadow-model classifier, the official-code flavor against numpy
// fixtures, and the audit's epsilon bounds against scipy values.
#include <doctest/doctest.h>
#include <hdf5.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "attack/attacks.hpp"
#include "attack/audit.hpp"
#include "attack/lm_attacks.hpp"
#include "attack/logistic.hpp"
#include "attack/scorer.hpp"
#include "common/errors.hpp"
#include "common/rng.hpp"

using namespace lira;

namespace {

ScoreMatrix run_group(AttackId id, const ScoreSetup& s, const SignalBlock& b) {
  auto groups = make_attack_groups({id}, s);
  ScoreMatrix out(static_cast<int64_t>(s.targets.size()), s.candidates);
  for (auto& g : groups) {
    if (g->needs_first_pass()) g->observe(b);
    g->prepare();
    g->score(b, {&out});
    g->finish({&out});
  }
  return out;
}

}  // namespace

TEST_CASE("RMIA offline and online: the share of population samples z with LR(x, z) > gamma, by hand") {
  // 3 models, 6 candidates, 1 query; target model 2, references 0 and 1; candidates 4 and
  // 5 are the population (IN for no model).
  // keep:  m0: 1 0 1 0 0 0   m1: 0 1 0 1 0 0   m2 (target): 1 1 0 0 0 0
  const std::vector<uint8_t> keep{1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0};
  // p = exp(-loss): choose losses so p is simple.
  const std::vector<double> p_ref0{0.9, 0.4, 0.8, 0.2, 0.5, 0.6}, p_ref1{0.3, 0.7, 0.6, 0.9, 0.4, 0.3},
      p_target{0.95, 0.9, 0.5, 0.3, 0.45, 0.35};
  std::vector<float> loss;
  for (const auto* p : {&p_ref0, &p_ref1, &p_target})
    for (double v : *p) loss.push_back(static_cast<float>(-std::log(v)));
  ScoreSetup s;
  s.models = 3, s.candidates = 6, s.queries = 1, s.targets = {2}, s.base = {0, 1};
  s.target_keep = {{keep.begin() + 12, keep.end()}};
  s.available = {"loss"};
  s.population = {0, 0, 0, 0, 1, 1};
  s.population_count = 2;
  s.rmia.a = 0.5;
  SignalBlock b;
  b.count = 6;
  b.signals = {{"loss", loss.data()}};
  b.keep = keep.data();
  // p as the scorer computes it, from float losses.
  auto p_of = [&](int m, int n) { return std::exp(-static_cast<double>(loss[m * 6 + n])); };
  auto count_below = [](const double* z, double x) { return ((z[0] < x) + (z[1] < x)) / 2.0; };
  {
    const auto out = run_group(AttackId::kRmia, s, b);
    // OUT reference per candidate: n0 -> m1, n1 -> m0, n2 -> m1, n3 -> m0; population: both.
    // P(x) = 0.75 mean_out + 0.25; ratio = p_target / P(x).
    const double p_out[6] = {p_of(1, 0), p_of(0, 1), p_of(1, 2), p_of(0, 3), (p_of(0, 4) + p_of(1, 4)) / 2,
                             (p_of(0, 5) + p_of(1, 5)) / 2};
    double ratio[6];
    for (int n = 0; n < 6; ++n) ratio[n] = p_of(2, n) / (0.75 * p_out[n] + 0.25);
    for (int n = 0; n < 4; ++n) CHECK(out.at(0, n) == doctest::Approx(count_below(ratio + 4, ratio[n])));
    CHECK(std::isnan(out.at(0, 4)));  // the population is not scored
    // gamma > 1 demands a larger ratio.
    s.rmia.gamma = 1e6;
    CHECK(run_group(AttackId::kRmia, s, b).at(0, 0) == 0.0);
    s.rmia.gamma = 1.0;
  }
  {
    const auto out = run_group(AttackId::kRmiaOnline, s, b);
    // Online: mean of one IN and one OUT reference (trimming drops nothing from 2 values);
    // the population's P(z): the mean of its OUT references.
    const double px[4] = {(p_of(0, 0) + p_of(1, 0)) / 2, (p_of(0, 1) + p_of(1, 1)) / 2, (p_of(0, 2) + p_of(1, 2)) / 2,
                          (p_of(0, 3) + p_of(1, 3)) / 2};
    const double z[2] = {p_of(2, 4) / ((p_of(0, 4) + p_of(1, 4)) / 2), p_of(2, 5) / ((p_of(0, 5) + p_of(1, 5)) / 2)};
    for (int n = 0; n < 4; ++n) CHECK(out.at(0, n) == doctest::Approx(count_below(z, p_of(2, n) / px[n])));
  }
  // No tuning model: a falls back to 0.3 and says so.
  s.rmia.a = std::numeric_limits<double>::quiet_NaN();
  auto groups = make_attack_groups({AttackId::kRmia}, s);
  ScoreMatrix out(1, 6);
  groups[0]->score(b, {&out});
  groups[0]->finish({&out});
  CHECK(groups[0]->notes().front().find("not tuned") != std::string::npos);
}

TEST_CASE("RMIA at a temperature reads the logits: softmax(z / T) of the true class") {
  // Two classes, label 1, z = (0, 2 logit(p)): at T = 2 the true class's probability is p,
  // so the scores equal those computed from loss = -log p.
  const int64_t M = 3, N = 6, C = 2;
  const std::vector<uint8_t> keep{1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0};
  const std::vector<double> p{0.9, 0.4, 0.8, 0.2, 0.5, 0.6, 0.3, 0.7, 0.6, 0.9, 0.4, 0.3, 0.95, 0.9, 0.5, 0.3, 0.45, 0.35};
  std::vector<float> loss, logits;
  for (double v : p) {
    loss.push_back(static_cast<float>(-std::log(v)));
    logits.push_back(0.0f);
    logits.push_back(static_cast<float>(2 * std::log(v / (1 - v))));
  }
  ScoreSetup s;
  s.models = M, s.candidates = N, s.queries = 1, s.targets = {2}, s.base = {0, 1};
  s.target_keep = {{keep.begin() + 12, keep.end()}};
  s.population = {0, 0, 0, 0, 1, 1};
  s.population_count = 2;
  s.rmia.a = 0.4;
  s.labels.assign(N, 1);
  s.classes = C;
  SignalBlock b;
  b.count = N;
  b.signals = {{"loss", loss.data()}, {"logits", logits.data()}};
  b.keep = keep.data();
  for (auto id : {AttackId::kRmia, AttackId::kRmiaOnline}) {
    s.rmia.temperature = 1.0;
    const auto plain = run_group(id, s, b);
    s.rmia.temperature = 2.0;
    REQUIRE(make_attack_groups({id}, s).front()->signals() == std::vector<std::string>{"logits"});
    const auto tempered = run_group(id, s, b);
    for (int64_t n = 0; n < 4; ++n) CHECK(tempered.at(0, n) == doctest::Approx(plain.at(0, n)));
  }
}

TEST_CASE("logistic regression recovers known coefficients") {
  // y ~ Bernoulli(sigmoid(1.5 x0 - 2 x1 + 0.5)), 200k rows.
  Xoshiro256 rng(3);
  std::vector<double> x;
  std::vector<uint8_t> y;
  for (int i = 0; i < 200000; ++i) {
    const double a = rng.uniform() * 4 - 2, b = rng.uniform() * 2;
    x.push_back(a), x.push_back(b);
    y.push_back(rng.uniform() < 1.0 / (1.0 + std::exp(-(1.5 * a - 2 * b + 0.5))));
  }
  LogisticRegression lr;
  lr.fit(x, y, 2, 1e-9);
  CHECK(lr.weights()[0] == doctest::Approx(1.5).epsilon(0.03));
  CHECK(lr.weights()[1] == doctest::Approx(-2.0).epsilon(0.03));
  CHECK(lr.intercept() == doctest::Approx(0.5).epsilon(0.05));
  CHECK(lr.predict(std::vector<double>{1.0, 0.0}) == doctest::Approx(lr.weights()[0] + lr.intercept()));
  CHECK_THROWS_AS(lr.fit(std::vector<double>{1, 2}, std::vector<uint8_t>{1, 1}, 1), ScoreError);
}

TEST_CASE("shokri: a classifier trained on reference members separates the target's members") {
  // Members have lower loss and higher confidence, with noise; 21 models, 500 candidates.
  const int64_t M = 21, N = 500;
  std::vector<uint8_t> keep(M * N);
  std::vector<float> loss(M * N), conf(M * N);
  Xoshiro256 rng(11);
  for (int64_t i = 0; i < M * N; ++i) {
    keep[i] = rng.uniform() < 0.5;
    loss[i] = static_cast<float>((keep[i] ? 0.5 : 1.2) + rng.uniform());
    conf[i] = static_cast<float>((keep[i] ? 2.0 : 0.5) + 2 * rng.uniform());
  }
  ScoreSetup s;
  s.models = M, s.candidates = N, s.queries = 1, s.targets = {20};
  s.target_keep = {{keep.begin() + 20 * N, keep.end()}};
  for (int64_t m = 0; m < 20; ++m) s.base.push_back(m);
  s.available = {"loss", "logit_confidence"};
  SignalBlock b;
  b.count = N;
  b.signals = {{"loss", loss.data()}, {"logit_confidence", conf.data()}};
  b.keep = keep.data();
  const auto out = run_group(AttackId::kShokri, s, b);
  double in = 0, outm = 0, n_in = 0, n_out = 0;
  for (int64_t n = 0; n < N; ++n) (keep[20 * N + n] ? (in += out.at(0, n), n_in++) : (outm += out.at(0, n), n_out++));
  CHECK(in / n_in > outm / n_out + 1.0);
}

#ifdef LIRA_TEST_DATA_DIR
TEST_CASE("official-code flavor equals plot.py's numbers (numpy fixture)") {
  const std::string path = std::string(LIRA_TEST_DATA_DIR) + "/official_code_fixture.h5";
  ScoreOptions o;
  o.targets = 2;
  o.flavor = Flavor::kOfficialCode;
  o.attacks = {"lira-online", "lira-online-fixed-variance", "lira-offline", "lira-offline-fixed-variance",
               "global-threshold"};
  const auto result = score_results(ResultsReader(path), o);  // closed before the raw HDF5 open below
  CHECK(result.report.targets == std::vector<int64_t>{10, 11});
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(file >= 0);
  for (size_t a = 0; a < o.attacks.size(); ++a) {
    CAPTURE(o.attacks[a]);
    std::vector<double> expected(2 * 40);
    const hid_t ds = H5Dopen2(file, ("/expected/" + o.attacks[a]).c_str(), H5P_DEFAULT);
    REQUIRE(ds >= 0);
    REQUIRE(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, expected.data()) >= 0);
    H5Dclose(ds);
    for (int64_t t = 0; t < 2; ++t)
      for (int64_t n = 0; n < 40; ++n)
        CHECK(result.scores[a].at(t, n) == doctest::Approx(expected[t * 40 + n]).epsilon(1e-9));
  }
  H5Fclose(file);
}
#endif

TEST_CASE("Clopper-Pearson upper bounds and the incomplete beta function against scipy") {
  CHECK(incomplete_beta(0.3, 2.5, 4.0) == doctest::Approx(0.3521975859067672).epsilon(1e-10));
  CHECK(incomplete_beta(0.999, 0.5, 0.5) == doctest::Approx(0.9798649583666235).epsilon(1e-10));
  CHECK(beta_quantile(0.1, 3, 7) == doctest::Approx(0.12949729685768968).epsilon(1e-9));
  CHECK(clopper_pearson_upper(0, 1000, 0.05) == doctest::Approx(0.003682083896865671).epsilon(1e-9));
  CHECK(clopper_pearson_upper(3, 1000, 0.05) == doctest::Approx(0.008742023238478303).epsilon(1e-9));
  CHECK(clopper_pearson_upper(10, 500, 0.01) == doctest::Approx(0.042309277350621066).epsilon(1e-9));
  CHECK(clopper_pearson_upper(499, 500, 0.05) == doctest::Approx(0.9999493656659926).epsilon(1e-9));
  CHECK(clopper_pearson_upper(250, 500, 0.05) == doctest::Approx(0.5447144306757723).epsilon(1e-9));
  CHECK(clopper_pearson_upper(500, 500, 0.05) == 1.0);
}

TEST_CASE("epsilon lower bound: a worked example and the trivial cases") {
  // FP 0 of 1000 non-members, FN 200 of 1000 members, delta 1e-5, alpha 0.05 (scipy):
  // FPR_ub 0.00368208, FNR_ub 0.22615937, eps = ln((1 - 1e-5 - 0.226159) / 0.003682) = 5.3479.
  const auto e = epsilon_bound(0, 200, 1000, 1000, 1e-5, 0.05);
  CHECK(e.fpr_upper == doctest::Approx(0.003682083896865671).epsilon(1e-9));
  CHECK(e.fnr_upper == doctest::Approx(0.22615937282137055).epsilon(1e-9));
  CHECK(e.epsilon == doctest::Approx(5.347874153479714).epsilon(1e-8));
  // A useless attack bounds nothing.
  CHECK(epsilon_bound(500, 500, 1000, 1000, 1e-5, 0.05).epsilon == 0.0);
}

TEST_CASE("audit: threshold from one half, bound on the other, perfect separation gives a positive bound") {
  std::vector<double> s;
  std::vector<uint8_t> m;
  for (int i = 0; i < 2000; ++i) s.push_back(i < 1000 ? 10.0 + i * 1e-3 : -10.0 - i * 1e-3), m.push_back(i < 1000);
  const auto r = audit(s, m, 1e-5, 0.05, 1);
  CHECK(r.evaluated.false_positives == 0);
  CHECK(r.evaluated.false_negatives == 0);
  CHECK(r.evaluated.members + r.evaluated.nonmembers + r.chosen.members + r.chosen.nonmembers == 2000);
  CHECK(r.evaluated.epsilon > 4.0);
  // Random scores: no bound.
  Xoshiro256 rng(5);
  for (auto& v : s) v = rng.uniform();
  CHECK(audit(s, m, 1e-5, 0.05, 1).evaluated.epsilon < 0.5);
}

TEST_CASE("min-k and min-k++ equal numpy on a hand-made record") {
  // Fixture from numpy: n = max(1, int(len * k)); mean(sort(x)[:n]), x = log p or
  // (log p - mu) / sigma, in float64 from these float32 arrays.
  const std::vector<float> lp{-0.5f, -3.0f, -0.1f, -2.0f, -7.5f, -0.05f, -1.25f, -4.0f, -0.3f, -2.5f};
  const std::vector<float> mu{-1.0f, -2.0f, -0.5f, -1.5f, -3.0f, -0.2f, -1.0f, -2.5f, -0.8f, -2.0f};
  const std::vector<float> sg{0.5f, 1.0f, 0.25f, 0.75f, 2.0f, 0.1f, 0.5f, 1.5f, 0.4f, 1.0f};
  CHECK(lira::min_k_score(lp, 0.2) == doctest::Approx(-5.75).epsilon(1e-12));
  CHECK(lira::min_k_score(lp, 0.5) == doctest::Approx(-3.8).epsilon(1e-12));
  CHECK(lira::min_k_score(lp, 0.05) == doctest::Approx(-7.5).epsilon(1e-12));
  CHECK(lira::min_k_score(lp, 1.0) == doctest::Approx(-2.1200000014156104).epsilon(1e-12));
  CHECK(lira::min_k_plus_plus_score(lp, mu, sg, 0.2) == doctest::Approx(-1.625).epsilon(1e-12));
  CHECK(lira::min_k_plus_plus_score(lp, mu, sg, 0.5) == doctest::Approx(-1.0833333333333335).epsilon(1e-12));
  CHECK(lira::min_k_plus_plus_score(lp, mu, sg, 0.05) == doctest::Approx(-2.25).epsilon(1e-12));
  CHECK(lira::min_k_plus_plus_score(lp, mu, sg, 1.0) == doctest::Approx(-0.056666669125358206).epsilon(1e-9));
  // The begin-of-record slot is NaN and is skipped.
  std::vector<float> with_nan{std::numeric_limits<float>::quiet_NaN()};
  with_nan.insert(with_nan.end(), lp.begin(), lp.end());
  CHECK(lira::min_k_score(with_nan, 0.2) == doctest::Approx(-5.75).epsilon(1e-12));
}
