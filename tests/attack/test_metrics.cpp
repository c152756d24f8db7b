// Tests of the ROC-derived metrics on hand-computed cases, ties and tiny FPRs included.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "attack/metrics.hpp"
#include "common/errors.hpp"

using namespace lira;

TEST_CASE("a four-example case computed by hand") {
  // Sorted: 0.9 member, 0.8 non, 0.7 member, 0.6 non.
  const std::vector<double> s{0.6, 0.9, 0.7, 0.8};
  const std::vector<uint8_t> m{0, 1, 1, 0};
  const Roc roc = roc_curve(s, m);
  CHECK(roc.fpr == std::vector<double>{0, 0, 0.5, 0.5, 1});
  CHECK(roc.tpr == std::vector<double>{0, 0.5, 0.5, 1, 1});
  CHECK(auc(roc) == doctest::Approx(0.75));
  CHECK(balanced_accuracy(roc) == doctest::Approx(0.75));
  CHECK(tpr_at_fpr(roc, 0.0) == doctest::Approx(0.5));
  CHECK(tpr_at_fpr(roc, 0.49) == doctest::Approx(0.5));
  CHECK(tpr_at_fpr(roc, 0.5) == doctest::Approx(1.0));
  const auto metrics = compute_metrics(s, m, {0.001, 0.5});
  CHECK(metrics.advantage == doctest::Approx(0.5));
  CHECK(metrics.members == 2);
  CHECK(metrics.nonmembers == 2);
  // 0.1% of 2 non-members allows no false positive: not estimable (NaN), not the TPR at
  // zero false positives it would otherwise read as.
  REQUIRE(metrics.tpr_at.size() == 2);
  CHECK(std::isnan(metrics.tpr_at[0]));
  CHECK(metrics.tpr_at[1] == 1.0);
}

TEST_CASE("the n/a rule: a TPR at FPR x needs x times the non-members >= 1") {
  CHECK(tpr_estimable(0.001, 1000));
  CHECK_FALSE(tpr_estimable(0.001, 999));
  CHECK_FALSE(tpr_estimable(0.001, 985));  // the quickstart's target: 0.1% is n/a
  CHECK(tpr_estimable(0.01, 100));
  CHECK_FALSE(tpr_estimable(0.0, 1000000));
  CHECK(nonmembers_needed(0.001) == 1000);
  CHECK(nonmembers_needed(1e-5) == 100000);
  CHECK(nonmembers_needed(0.03) == 34);
  CHECK(nonmembers_needed(0.0) == std::numeric_limits<int64_t>::max());
  // 985 non-members: 0.1% and 0.001% would both be the TPR at zero false positives.
  std::vector<double> s;
  std::vector<uint8_t> m;
  for (int i = 0; i < 985; ++i) s.push_back(i), m.push_back(0);
  for (int i = 0; i < 1000; ++i) s.push_back(500 + i), m.push_back(1);
  const auto metrics = compute_metrics(s, m, {1e-5, 0.001, 0.01});
  CHECK(std::isnan(metrics.tpr_at[0]));
  CHECK(std::isnan(metrics.tpr_at[1]));
  CHECK(metrics.tpr_at[2] > 0.5);
}

TEST_CASE("all scores tied: the diagonal, AUC one half") {
  const std::vector<double> s{1, 1, 1, 1};
  const std::vector<uint8_t> m{1, 0, 1, 0};
  const Roc roc = roc_curve(s, m);
  CHECK(roc.fpr.size() == 2);
  CHECK(auc(roc) == doctest::Approx(0.5));
  CHECK(balanced_accuracy(roc) == doctest::Approx(0.5));
  CHECK(tpr_at_fpr(roc, 0.99) == 0.0);
}

TEST_CASE("a tie between a member and a non-member counts one half (Mann-Whitney)") {
  const std::vector<double> s{2, 1, 1, 0};
  const std::vector<uint8_t> m{1, 1, 0, 0};
  const Roc roc = roc_curve(s, m);
  CHECK(auc(roc) == doctest::Approx(0.875));
  CHECK(tpr_at_fpr(roc, 0.0) == doctest::Approx(0.5));  // the tied group brings a false positive
}

TEST_CASE("perfect and inverted separation") {
  const std::vector<double> s{4, 3, 2, 1};
  CHECK(auc(roc_curve(s, std::vector<uint8_t>{1, 1, 0, 0})) == doctest::Approx(1.0));
  CHECK(auc(roc_curve(s, std::vector<uint8_t>{0, 0, 1, 1})) == doctest::Approx(0.0));
  CHECK(balanced_accuracy(roc_curve(s, std::vector<uint8_t>{0, 0, 1, 1})) == doctest::Approx(0.5));
}

TEST_CASE("TPR at a tiny FPR: one false positive allowed at 0.1% of 1000") {
  std::vector<double> s;
  std::vector<uint8_t> m;
  s.push_back(100);  // the top score is a non-member
  m.push_back(0);
  for (int i = 0; i < 10; ++i) s.push_back(50 - i), m.push_back(1);
  for (int i = 0; i < 999; ++i) s.push_back(-i), m.push_back(0);
  const Roc roc = roc_curve(s, m);
  CHECK(tpr_at_fpr(roc, 0.001) == doctest::Approx(1.0));    // FPR exactly 0.001 is allowed
  CHECK(tpr_at_fpr(roc, 0.000999) == doctest::Approx(0.0));  // below it: no point but (0, 0)
  CHECK(tpr_at_fpr(roc, 1e-5) == 0.0);
}

TEST_CASE("infinite scores order correctly, NaN and one-class inputs are refused") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(auc(roc_curve(std::vector<double>{inf, -inf, 0}, std::vector<uint8_t>{1, 0, 1})) == doctest::Approx(1.0));
  CHECK_THROWS_AS(roc_curve(std::vector<double>{1, std::nan("")}, std::vector<uint8_t>{1, 0}), ScoreError);
  CHECK_THROWS_AS(roc_curve(std::vector<double>{1, 2}, std::vector<uint8_t>{1, 1}), ScoreError);
}

TEST_CASE("the mean over targets averages rates and sums counts") {
  Metrics a, b;
  a.auc = 0.6, b.auc = 0.8;
  a.fpr_targets = b.fpr_targets = {0.01};
  a.tpr_at = {0.1}, b.tpr_at = {0.3};
  a.members = 5, b.members = 7;
  const auto m = mean_metrics({a, b});
  CHECK(m.auc == doctest::Approx(0.7));
  CHECK(m.tpr_at[0] == doctest::Approx(0.2));
  CHECK(m.members == 12);
}
