// score_results on whole files (bench/synthetic_results): any number of models and any
// state scores what can be scored and skips the rest with a reason; the population;
// leave-one-out over every model; the marks for too few references; text results streamed
// in blocks of any size; the bootstrap against a naive resampling; decision variability.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "attack/bootstrap.hpp"
#include "attack/metrics.hpp"
#include "attack/scorer.hpp"
#include "bench/synthetic_results.hpp"
#include "common/errors.hpp"
#include "common/rng.hpp"

using namespace lira;

namespace {

std::string temp_path(const std::string& name) {
  return "/tmp/lira_test_scorer_" + std::to_string(::getpid()) + "_" + name + ".h5";
}

struct File {
  std::string path;
  explicit File(const std::string& name, const SyntheticResults& spec) : path(temp_path(name)) {
    write_synthetic_results(path, spec);
  }
  ~File() { ::unlink(path.c_str()); }
};

const AttackReport* find(const ScoreReport& r, const std::string& name) {
  for (const auto& a : r.attacks)
    if (a.name == name) return &a;
  return nullptr;
}
const SkippedAttack* skipped(const ScoreReport& r, const std::string& name) {
  for (const auto& s : r.skipped)
    if (s.name == name) return &s;
  return nullptr;
}

ScoreOptions quick() {
  ScoreOptions o;
  o.bootstrap = 0;
  return o;
}

}  // namespace

TEST_CASE("two models: the attacks that need no references score, the others say why they cannot") {
  File f("m2", {.models = 2, .candidates = 400, .queries = 1, .population = 40});
  const auto r = score_results(ResultsReader(f.path), quick()).report;
  REQUIRE(find(r, "loss"));
  CHECK(find(r, "loss")->pooled.members + find(r, "loss")->pooled.nonmembers == 360);  // population left out
  REQUIRE(skipped(r, "lira-online"));
  CHECK(skipped(r, "lira-online")->reason.find(">= 2 IN and >= 2 OUT") != std::string::npos);
  CHECK(skipped(r, "lira-online")->reason.find("1 reference model") != std::string::npos);
  // The one reference is OUT exactly where the target is IN: offline attacks see no non-member.
  REQUIRE(skipped(r, "lira-offline-fixed-variance"));
  CHECK(skipped(r, "lira-offline-fixed-variance")->reason.find("0 non-members") != std::string::npos);
  CHECK(r.state == "complete");
}

TEST_CASE("every finished model a target: --targets M and --leave-one-out M") {
  File f("all", {.models = 8, .candidates = 300, .queries = 2, .population = 30});
  ScoreOptions o = quick();
  o.targets = 8;
  const auto t = score_results(ResultsReader(f.path), o).report;
  CHECK(t.references.empty());
  CHECK(find(t, "loss"));
  REQUIRE(skipped(t, "reference"));
  REQUIRE(skipped(t, "shokri"));
  o.leave_one_out = true;
  const auto loo = score_results(ResultsReader(f.path), o);
  CHECK(loo.report.targets.size() == 8);
  CHECK(loo.report.references.size() == 7);
  REQUIRE(find(loo.report, "lira-online-fixed-variance"));
  REQUIRE(find(loo.report, "rmia"));
  CHECK(skipped(loo.report, "shokri"));  // no model is left to train its classifier on
  bool tuned = false;
  for (const auto& n : loo.report.notes) tuned = tuned || n.find("(tuned: model 0") != std::string::npos;
  CHECK(tuned);
  o.targets = 9;
  CHECK_THROWS_AS(score_results(ResultsReader(f.path), o), ScoreError);
}

TEST_CASE("RMIA needs a population and never scores it, LiRA marks fits on few references") {
  File none("nopop", {.models = 8, .candidates = 200, .queries = 1});
  const auto r = score_results(ResultsReader(none.path), quick()).report;
  REQUIRE(skipped(r, "rmia"));
  CHECK(skipped(r, "rmia")->reason.find("population") != std::string::npos);
  REQUIRE(find(r, "lira-online"));
  CHECK(!find(r, "lira-online")->few_references.empty());  // 7 references: 3-4 per side
  CHECK(find(r, "bavaria-t-online")->few_references.empty());
  File pop("pop", {.models = 64, .candidates = 300, .queries = 1, .population = 100});
  const auto result = score_results(ResultsReader(pop.path), quick());
  REQUIRE(find(result.report, "rmia"));
  CHECK(result.report.population == 100);
  CHECK(find(result.report, "lira-online")->few_references.empty());  // 63 references
  for (size_t a = 0; a < result.scores.size(); ++a)
    for (int64_t n = 200; n < 300; ++n) CHECK(std::isnan(result.scores[a].at(0, n)));
  CHECK(find(result.report, "rmia")->pooled.members + find(result.report, "rmia")->pooled.nonmembers == 200);
}

TEST_CASE("signals without membership information score at chance: no attack reads reference counts") {
  // Under a balanced keep matrix a target's members have one IN reference fewer than its
  // non-members. An attack whose fit depends on the count (BaVarIA's variances scale with
  // 1/n) would separate them by that alone; lira's BaVarIA fits equal counts. Per-example
  // LiRA, as published, does not: at 8 models it scores these null signals at AUC ~0.43
  // (ddof-0 variances of 3 vs 4 signals), and its rows are marked as fitted on too few.
  File f("null", {.models = 8, .candidates = 3000, .queries = 1, .population = 200, .effect = 0.0});
  ScoreOptions o = quick();
  o.targets = 8;
  o.leave_one_out = true;
  const auto r = score_results(ResultsReader(f.path), o).report;
  for (const auto& a : r.attacks) {
    CAPTURE(a.name);
    if (a.name == "lira-online" || a.name == "lira-offline") {
      CHECK(!a.few_references.empty());
      continue;
    }
    CHECK(a.pooled.auc == doctest::Approx(0.5).epsilon(0.03));
  }
}

TEST_CASE("an unfinished file says so and scores its finished models") {
  File f("partial", {.models = 16, .candidates = 200, .queries = 1, .done = 5});
  const auto r = score_results(ResultsReader(f.path), quick()).report;
  CHECK(r.state == "interrupted");
  CHECK(r.state_detail.find("11 of 16 models are not done") != std::string::npos);
  CHECK(r.models_done == 5);
  CHECK(r.targets == std::vector<int64_t>{4});
  File empty("empty", {.models = 4, .candidates = 50, .queries = 1, .done = 0});
  CHECK_THROWS_WITH_AS(score_results(ResultsReader(empty.path), quick()), doctest::Contains("no finished model"),
                       ScoreError);
}

TEST_CASE("text results: the same scores whatever the block budget (blocks end on token counts)") {
  File f("text", {.models = 6, .candidates = 120, .queries = 1, .tokens_per_record = 30});
  ScoreOptions o = quick();
  o.targets = 3;
  o.attacks = {"min-k", "min-k-plus-plus", "zlib", "lira-online-fixed-variance"};
  const auto whole = score_results(ResultsReader(f.path), o);
  o.block_bytes = 700;  // a few records' tokens of 3 targets x 3 token signals per block
  const auto small = score_results(ResultsReader(f.path), o);
  REQUIRE(whole.scores.size() == 4);
  for (size_t a = 0; a < whole.scores.size(); ++a)
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t n = 0; n < 120; ++n) {
        const double x = whole.scores[a].at(t, n), y = small.scores[a].at(t, n);
        CAPTURE(whole.report.attacks[a].name);
        CHECK(std::isnan(x) == std::isnan(y));
        // The pooled variances sum per block: equal up to rounding.
        if (!std::isnan(x)) CHECK(y == doctest::Approx(x).epsilon(1e-12));
      }
}

TEST_CASE("bootstrap: the same intervals as resampling the members and non-members naively") {
  Xoshiro256 rng(11);
  std::vector<double> s;
  std::vector<uint8_t> m;
  for (int i = 0; i < 500; ++i) {
    m.push_back(i % 3 == 0);
    s.push_back(std::round((m.back() ? 0.7 : 0.0) + rng.uniform() * 10) / 2);  // ties on purpose
  }
  const std::vector<double> fprs{0.01, 0.1};
  const auto ci = bootstrap_metrics(s, m, fprs, 200, 0.9, 5);
  // Naive: the same draws (members, then non-members, in descending score order), then the
  // full metrics of each resample.
  std::vector<size_t> order(s.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] > s[b]; });
  std::vector<size_t> in, out;
  for (size_t i : order) (m[i] ? in : out).push_back(i);
  std::vector<double> aucs, tpr1;
  for (int r = 0; r < 200; ++r) {
    Xoshiro256 g(derive_seed(5, 6, static_cast<uint64_t>(r)));
    std::vector<double> rs;
    std::vector<uint8_t> rm;
    for (size_t k = 0; k < in.size(); ++k) rs.push_back(s[in[g.below(in.size())]]), rm.push_back(1);
    for (size_t k = 0; k < out.size(); ++k) rs.push_back(s[out[g.below(out.size())]]), rm.push_back(0);
    const auto met = compute_metrics(rs, rm, fprs);
    aucs.push_back(met.auc), tpr1.push_back(met.tpr_at[1]);
  }
  std::sort(aucs.begin(), aucs.end());
  std::sort(tpr1.begin(), tpr1.end());
  auto q = [](const std::vector<double>& v, double p) {
    const double pos = p * static_cast<double>(v.size() - 1);
    const size_t i = static_cast<size_t>(pos);
    return v[i] * (1 - (pos - static_cast<double>(i))) + v[std::min(i + 1, v.size() - 1)] * (pos - static_cast<double>(i));
  };
  CHECK(ci.auc.low == doctest::Approx(q(aucs, 0.05)).epsilon(1e-12));
  CHECK(ci.auc.high == doctest::Approx(q(aucs, 0.95)).epsilon(1e-12));
  CHECK(ci.tpr_at[1].low == doctest::Approx(q(tpr1, 0.05)).epsilon(1e-12));
  CHECK(ci.tpr_at[1].high == doctest::Approx(q(tpr1, 0.95)).epsilon(1e-12));
  const double point = compute_metrics(s, m, fprs).auc;
  CHECK(ci.auc.low < point);
  CHECK(point < ci.auc.high);
  // 0.1% of 333 non-members allows no false positive: no interval, as no estimate.
  const auto na = bootstrap_metrics(s, m, {0.001, 0.01}, 50, 0.9, 5);
  CHECK(std::isnan(na.tpr_at[0].low));
  CHECK(std::isnan(na.tpr_at[0].high));
  CHECK(na.tpr_at[1].low <= na.tpr_at[1].high);
}

TEST_CASE("decision variability: pairwise disagreement among the targets an example is a member of") {
  // 3 targets, 6 examples. Each target flags its top score (threshold at FPR 0: the member
  // scored highest above every non-member).
  const std::vector<std::vector<double>> scores{{9, 1, 2, 0, 3, 8}, {9, 8, 1, 0, 2, 3}, {1, 9, 2, 0, 3, 4}};
  const std::vector<std::vector<uint8_t>> member{{1, 1, 0, 0, 0, 1}, {1, 1, 0, 0, 0, 0}, {1, 1, 0, 0, 0, 0}};
  std::vector<std::span<const double>> rows(scores.begin(), scores.end());
  const auto d = decision_variability(rows, member, 0.0);
  // Example 0: a member of all 3; targets 0 and 1 flag it (9 above every non-member), target
  // 2 does not: k = 2 of m = 3, flip = 2*2*1/(3*2) = 2/3.
  CHECK(d.member_flagged[0] == doctest::Approx(2.0 / 3));
  CHECK(d.member_flip[0] == doctest::Approx(2.0 / 3));
  // Example 1: flagged by targets 1 and 2 (scores 8 and 9 above their non-members): k = 2.
  CHECK(d.member_flip[1] == doctest::Approx(2.0 / 3));
  CHECK(std::isnan(d.member_flip[5]));  // a member of one target only
  CHECK(d.nonmember_flip[3] == 0.0);    // never flagged
  CHECK(d.flagged_by_all == 0.0);
}

TEST_CASE("--references R: the first R non-target models only, and R = all is the default") {
  File f("refs", {.models = 12, .candidates = 400, .queries = 2, .population = 40});
  ScoreOptions o = quick();
  o.attacks = {"lira-online", "lira-offline"};
  o.targets = 2;
  const auto all = score_results(ResultsReader(f.path), o);
  o.references = 10;
  const auto same = score_results(ResultsReader(f.path), o);
  CHECK(same.report.references == all.report.references);
  for (size_t a = 0; a < all.scores.size(); ++a)
    for (int64_t t = 0; t < 2; ++t)
      for (int64_t n = 0; n < 400; ++n) {
        const double x = all.scores[a].at(t, n), y = same.scores[a].at(t, n);
        CHECK((x == y || (std::isnan(x) && std::isnan(y))));
      }
  o.references = 4;
  const auto few = score_results(ResultsReader(f.path), o);
  CHECK(few.report.references == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(few.report.targets == std::vector<int64_t>{10, 11});
  CHECK(few.report.attacks[0].pooled.auc != all.report.attacks[0].pooled.auc);
  o.references = 11;
  CHECK_THROWS_AS(score_results(ResultsReader(f.path), o), ScoreError);
  o.references = 4;
  o.leave_one_out = true;
  CHECK_THROWS_AS(score_results(ResultsReader(f.path), o), ScoreError);
}

TEST_CASE("--queries: a subset by name, in any order, scores as the file with those queries only") {
  File f("queries", {.models = 10, .candidates = 300, .queries = 3, .population = 30});
  const std::vector<std::string> names = ResultsReader(f.path).queries();
  REQUIRE(names.size() == 3);
  ScoreOptions o = quick();
  o.attacks = {"lira-online", "loss"};
  o.targets = 2;
  o.block_candidates = 64;  // several blocks, each compacted on its own
  const auto all = score_results(ResultsReader(f.path), o);
  o.queries = names;
  const auto named = score_results(ResultsReader(f.path), o);
  CHECK(named.report.attacks[0].pooled.auc == all.report.attacks[0].pooled.auc);
  // LiRA averages its per-query scores: the order of the queries does not matter, but which
  // ones does (the gather of each block is what this checks).
  o.queries = {names[2], names[0]};
  const auto two = score_results(ResultsReader(f.path), o);
  o.queries = {names[0], names[2]};
  const auto two_sorted = score_results(ResultsReader(f.path), o);
  CHECK(two.report.queries == std::vector<std::string>{names[2], names[0]});
  for (int64_t n = 0; n < 300; ++n) {
    const double x = two.scores[0].at(0, n), y = two_sorted.scores[0].at(0, n);
    CHECK((std::abs(x - y) <= 1e-9 * std::max(1.0, std::abs(x)) || (std::isnan(x) && std::isnan(y))));
  }
  CHECK(two.report.attacks[0].pooled.auc != all.report.attacks[0].pooled.auc);
  // Each single query scores differently: a gather that kept the first k queries whatever
  // was asked would make {q2} score as {q0}.
  std::vector<double> single;
  for (const auto& name : names) {
    o.queries = {name};
    const auto one = score_results(ResultsReader(f.path), o);
    CHECK(one.report.queries == std::vector<std::string>{name});
    single.push_back(one.report.attacks[0].pooled.auc);
  }
  CHECK(single[0] != single[1]);
  CHECK(single[2] != single[0]);
  CHECK(single[2] != single[1]);
  o.queries = {names[0], names[1]};
  CHECK(score_results(ResultsReader(f.path), o).report.attacks[0].pooled.auc != two.report.attacks[0].pooled.auc);
  o.queries = {"no-such-query"};
  CHECK_THROWS_AS(score_results(ResultsReader(f.path), o), ScoreError);
  o.queries = {names[0], names[0]};
  CHECK_THROWS_AS(score_results(ResultsReader(f.path), o), ScoreError);
}

TEST_CASE("parse_query_names: commas inside parentheses belong to the name") {
  CHECK(parse_query_names("identity,mirror") == std::vector<std::string>{"identity", "mirror"});
  CHECK(parse_query_names("identity(0,0), mirror(1,-1)") == std::vector<std::string>{"identity(0,0)", "mirror(1,-1)"});
  CHECK(parse_query_names(" identity ,, ") == std::vector<std::string>{"identity"});
  CHECK(parse_query_names("").empty());
  CHECK_THROWS_AS(parse_query_names("mirror(0,1"), ScoreError);
  CHECK_THROWS_AS(parse_query_names("mirror)0,1("), ScoreError);
}
