// Tests of the Gaussian helpers and the LiRA, LOSS, global-threshold and reference scores
// on hand-computed values, in both flavors and both target modes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "attack/attacks.hpp"
#include "attack/gaussian.hpp"

using namespace lira;

TEST_CASE("moments use ddof = 0, running moments merge exactly") {
  const std::vector<double> v{1, 2, 3, 4};
  const auto m = moments(v);
  CHECK(m.mean == doctest::Approx(2.5));
  CHECK(m.sd == doctest::Approx(std::sqrt(1.25)));
  CHECK(std::isnan(moments(std::vector<double>{}).mean));
  RunningMoments a, b;
  a.add(1), a.add(2), b.add(3), b.add(4);
  a.merge(b);
  CHECK(a.mean == doctest::Approx(2.5));
  CHECK(a.sd() == doctest::Approx(std::sqrt(1.25)));
  std::vector<double> odd{5, 1, 3}, even{4, 1, 3, 2};
  CHECK(median(odd) == 3.0);
  CHECK(median(even) == 2.5);
}

TEST_CASE("log density and log CDF against scipy.stats.norm") {
  CHECK(log_normal_pdf(0, 0, 1) == doctest::Approx(-0.5 * std::log(2 * std::numbers::pi)));
  CHECK(log_normal_pdf(3, 1, 2) == doctest::Approx(-0.5 - std::log(2.0) - 0.5 * std::log(2 * std::numbers::pi)));
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
  std::vector<float> loss{0.5f, 1, /*m1*/ 1.5f, 2, /*m2*/ 1, 3, /*m3*/ 2, 4, /*m4*/ 0.25f, 1.5f};
};

ScoreSetup setup_for(const Case& c, std::vector<int64_t> targets, std::vector<int64_t> base, bool loo = false,
                     Flavor flavor = Flavor::kPaper) {
  ScoreSetup s;
  s.models = 5, s.candidates = 2, s.queries = 1;
  for (int64_t t : targets) s.target_keep.push_back({c.keep.begin() + t * 2, c.keep.begin() + t * 2 + 2});
  s.targets = std::move(targets);
  s.base = std::move(base);
  s.leave_one_out = loo;
  s.flavor = flavor;
  s.available = {"logit_confidence", "loss"};
  if (flavor == Flavor::kOfficialCode) s.official_in_size = s.official_out_size = 1;
  return s;
}

// Runs one attack over the whole case as a single block; returns target 0's scores.
std::vector<double> run(AttackId id, const Case& c, const ScoreSetup& s, int64_t target_index = 0) {
  auto groups = make_attack_groups({id}, s);
  ScoreMatrix out(static_cast<int64_t>(s.targets.size()), s.candidates);
  SignalBlock b;
  b.n0 = 0, b.count = 2;
  b.signals = {{"logit_confidence", c.conf.data()}, {"loss", c.loss.data()}};
  b.keep = c.keep.data();
  for (auto& g : groups) {
    if (g->needs_first_pass()) g->observe(b);
    g->prepare();
    g->score(b, {&out});
    g->finish({&out});
  }
  return {out.at(target_index, 0), out.at(target_index, 1)};
}

std::vector<double> run(AttackId id) {
  Case c;
  return run(id, c, setup_for(c, {4}, {0, 1, 2, 3}));
}

}  // namespace

TEST_CASE("online LiRA: log N(s, in) - log N(s, out) per candidate") {
  const auto s = run(AttackId::kLiraOnline);
  CHECK(s[0] == doctest::Approx(4.5));  // 0 - (-9/2)
  CHECK(s[1] == doctest::Approx(1.5));  // (-1/2) - (-2), the log sd terms cancel
}

TEST_CASE("offline LiRA: log Pr[Z < s], Z ~ N(mu_out, sd_out)") {
  const auto s = run(AttackId::kLiraOffline);
  CHECK(s[0] == doctest::Approx(-0.001350809964748193));         // log Phi(3)
  CHECK(s[1] == doctest::Approx(std::log(0.9772498680518208)));  // log Phi(2)
}

TEST_CASE("fixed variance pools squared deviations from each candidate's own mean") {
  // IN: (1 + 1) + (4 + 4) over 4 signals -> sd^2 = 2.5; OUT likewise.
  const auto on = run(AttackId::kLiraOnlineFixedVariance);
  CHECK(on[0] == doctest::Approx(9.0 / 5.0));
  CHECK(on[1] == doctest::Approx(-4.0 / 5.0 + 16.0 / 5.0));
  const auto off = run(AttackId::kLiraOfflineFixedVariance);
  CHECK(off[0] == doctest::Approx(log_normal_cdf(3.0 / std::sqrt(2.5))));
  CHECK(off[1] == doctest::Approx(log_normal_cdf(4.0 / std::sqrt(2.5))));
}

TEST_CASE("LOSS, global threshold and the calibrated reference attack") {
  const auto loss = run(AttackId::kLoss);
  CHECK(loss[0] == doctest::Approx(-0.25));
  CHECK(loss[1] == doctest::Approx(-1.5));
  const auto global = run(AttackId::kGlobalThreshold);
  CHECK(global[0] == doctest::Approx(3.0));
  CHECK(global[1] == doctest::Approx(0.0));
  // OUT references' mean loss minus the target's: candidate 0: (1 + 2)/2 - 0.25;
  // candidate 1: (2 + 4)/2 - 1.5.
  const auto ref = run(AttackId::kReference);
  CHECK(ref[0] == doctest::Approx(1.25));
  CHECK(ref[1] == doctest::Approx(1.5));
}

TEST_CASE("several queries: the mean of the per-query scores") {
  // Query 1 shifts every signal of candidate 0 by +10 (same score) and doubles
  // candidate 1's signals: IN {0, 8} (4, 4), OUT {-4, -12} (-8, 4), s = 0: -0.5 + 2 = 1.5.
  Case c;
  std::vector<float> conf2;
  for (int m = 0; m < 5; ++m)
    for (int n = 0; n < 2; ++n) {
      const float v = c.conf[m * 2 + n];
      conf2.push_back(v);
      conf2.push_back(n == 0 ? v + 10 : v * 2);
    }
  auto s = setup_for(c, {4}, {0, 1, 2, 3});
  s.queries = 2;
  auto groups = make_attack_groups({AttackId::kLiraOnline}, s);
  ScoreMatrix out(1, 2);
  SignalBlock b;
  b.count = 2;
  b.signals = {{"logit_confidence", conf2.data()}};
  b.keep = c.keep.data();
  groups[0]->score(b, {&out});
  CHECK(out.at(0, 0) == doctest::Approx(4.5));
  CHECK(out.at(0, 1) == doctest::Approx(1.5));
}

TEST_CASE("a candidate without IN references has no online score, but an offline one") {
  Case c;
  const auto s = setup_for(c, {4}, {2, 3});  // candidate 0 has no IN reference
  CHECK(std::isnan(run(AttackId::kLiraOnline, c, s)[0]));
  CHECK(std::isfinite(run(AttackId::kLiraOffline, c, s)[0]));
  // One IN reference: no per-example IN variance (NaN, not a degenerate sd of 0), while
  // BaVarIA's prior gives it one.
  const auto one_in = setup_for(c, {4}, {1, 2, 3});
  CHECK(std::isnan(run(AttackId::kLiraOnline, c, one_in)[0]));
  CHECK(std::isfinite(run(AttackId::kBavariaNOnline, c, one_in)[0]));
  CHECK(std::isfinite(run(AttackId::kBavariaTOnline, c, one_in)[0]));
}

TEST_CASE("leave-one-out leaves each target's own signal out of its fits") {
  // Targets 3 and 4, references: all five models minus the target itself.
  Case c;
  const auto loo = setup_for(c, {3, 4}, {0, 1, 2, 3, 4}, true);
  // For target 4 the fits are those of references 0-3: the hand-computed case.
  const auto s4 = run(AttackId::kLiraOnline, c, loo, 1);
  CHECK(s4[0] == doctest::Approx(4.5));
  CHECK(s4[1] == doctest::Approx(1.5));
  // For target 3 they are those of references {0, 1, 2, 4}, as an explicit setup gives.
  // (Candidate 0 then has one OUT reference, too few for a per-example variance.)
  const auto s3 = run(AttackId::kLiraOnline, c, loo, 0);
  const auto explicit3 = run(AttackId::kLiraOnline, c, setup_for(c, {3}, {0, 1, 2, 4}));
  CHECK(std::isnan(s3[0]));
  CHECK(std::isnan(explicit3[0]));
  REQUIRE(std::isfinite(s3[1]));
  CHECK(s3[1] == doctest::Approx(explicit3[1]).epsilon(1e-12));
}

TEST_CASE("scores do not depend on how the candidates are split into blocks") {
  const int64_t M = 9, N = 50;
  std::vector<uint8_t> keep(M * N);
  std::vector<float> conf(M * N * 2), loss(M * N * 2);
  // Model + candidate parity; the last 5 candidates are the population (IN for no model).
  const int64_t P = 5;
  for (int64_t i = 0; i < M * N; ++i) keep[i] = i % N < N - P ? (i / N + i % N) % 2 : 0;
  for (size_t i = 0; i < conf.size(); ++i) conf[i] = static_cast<float>(std::sin(i * 0.37) * 3);
  for (size_t i = 0; i < loss.size(); ++i) loss[i] = static_cast<float>(1.5 + std::cos(i * 0.11));
  const std::vector<AttackId> ids{AttackId::kLiraOnlineFixedVariance, AttackId::kLiraOffline, AttackId::kRmia,
                                  AttackId::kRmiaOnline, AttackId::kShokri, AttackId::kReference,
                                  AttackId::kBavariaTOnline, AttackId::kBavariaNOffline};
  for (const Flavor flavor : {Flavor::kPaper, Flavor::kOfficialCode}) {
    ScoreSetup s;
    s.models = M, s.candidates = N, s.queries = 2, s.targets = {7, 8}, s.base = {0, 1, 2, 3, 4, 5, 6};
    for (int64_t t : s.targets) s.target_keep.push_back({keep.begin() + t * N, keep.begin() + (t + 1) * N});
    s.flavor = flavor;
    s.official_in_size = s.official_out_size = 3;  // parity keep: 3 or 4 of the 7 references per side
    s.available = {"logit_confidence", "loss"};
    s.population.assign(N, 0);
    for (int64_t n = N - P; n < N; ++n) s.population[n] = 1;
    s.population_count = P;
    s.tuning_model = 0;  // RMIA's a tuned on model 0, as the scorer chooses it
    auto score_in_blocks = [&](int64_t block) {
      auto groups = make_attack_groups(ids, s);
      std::vector<ScoreMatrix> out(ids.size(), ScoreMatrix(2, N));
      std::vector<ScoreMatrix*> ptrs;
      for (auto& o : out) ptrs.push_back(&o);
      std::vector<std::vector<ScoreMatrix*>> per_group;  // each group's outputs, by attack id
      for (auto& g : groups) {
        per_group.emplace_back();
        for (auto id : g->ids()) per_group.back().push_back(ptrs[std::find(ids.begin(), ids.end(), id) - ids.begin()]);
      }
      for (int pass = 0; pass < 2; ++pass) {
        if (pass == 1)
          for (auto& g : groups) g->prepare();
        for (int64_t n0 = 0; n0 < N; n0 += block) {
          const int64_t n1 = std::min(N, n0 + block);
          std::vector<float> pc, pl;
          std::vector<uint8_t> pk;
          for (int64_t m = 0; m < M; ++m) {
            pc.insert(pc.end(), conf.begin() + (m * N + n0) * 2, conf.begin() + (m * N + n1) * 2);
            pl.insert(pl.end(), loss.begin() + (m * N + n0) * 2, loss.begin() + (m * N + n1) * 2);
            pk.insert(pk.end(), keep.begin() + m * N + n0, keep.begin() + m * N + n1);
          }
          SignalBlock b;
          b.n0 = n0, b.count = n1 - n0;
          b.signals = {{"logit_confidence", pc.data()}, {"loss", pl.data()}};
          b.keep = pk.data();
          for (size_t g = 0; g < groups.size(); ++g) {
            if (pass == 0 && groups[g]->needs_first_pass()) groups[g]->observe(b);
            if (pass == 1) groups[g]->score(b, per_group[g]);
          }
        }
      }
      for (size_t g = 0; g < groups.size(); ++g) groups[g]->finish(per_group[g]);
      return out;
    };
    const auto whole = score_in_blocks(N);
    for (int64_t block : {1, 7, 16}) {
      const auto split = score_in_blocks(block);
      for (size_t k = 0; k < ids.size(); ++k)
        for (int64_t t = 0; t < 2; ++t)
          for (int64_t n = 0; n < N; ++n) {
            if (flavor == Flavor::kOfficialCode && ids[k] != AttackId::kLiraOnlineFixedVariance &&
                ids[k] != AttackId::kLiraOffline)
              continue;
            if (n >= N - P && ids[k] != AttackId::kShokri && ids[k] != AttackId::kReference) {
              CHECK(std::isnan(whole[k].at(t, n)));  // the population is not scored
              continue;
            }
            if (n >= N - P) continue;
            REQUIRE(std::isfinite(whole[k].at(t, n)));
            CHECK(split[k].at(t, n) == doctest::Approx(whole[k].at(t, n)).epsilon(1e-12));
          }
    }
  }
}

TEST_CASE("the branchless selection gives numpy's median, duplicates and all sizes") {
  uint64_t s = 42;
  auto next = [&] {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return s;
  };
  for (int trial = 0; trial < 2000; ++trial) {
    const size_t n = 1 + next() % 300;
    const uint64_t range = trial % 3 == 0 ? 5 : 1000000;  // many duplicates in a third of the trials
    std::vector<double> v(n);
    for (auto& x : v) x = static_cast<double>(next() % range) * 0.25 - 3;
    auto sorted = v;
    std::sort(sorted.begin(), sorted.end());
    const double expect = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
    REQUIRE(median(v) == expect);
  }
}
