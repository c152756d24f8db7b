// Implements the audit: the incomplete beta function by its continued fraction (modified
// Lentz), its inverse by bisection, and the threshold sweep.
#include "audit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/errors.hpp"
#include "common/rng.hpp"

namespace lira {
namespace {

// Continued fraction of I_x(a, b) for x < (a + 1) / (a + b + 2).
double beta_fraction(double x, double a, double b) {
  constexpr double kTiny = 1e-300, kEps = 1e-16;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + num * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + num * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1.0) < kEps) break;
  }
  return h;
}

}  // namespace

double incomplete_beta(double x, double a, double b) {
  if (x <= 0) return 0.0;
  if (x >= 1) return 1.0;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * beta_fraction(x, a, b) / a;
  return 1.0 - std::exp(log_front) * beta_fraction(1.0 - x, b, a) / b;
}

double beta_quantile(double p, double a, double b) {
  if (p <= 0) return 0.0;
  if (p >= 1) return 1.0;
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < 200 && hi - lo > 1e-17; ++i) {
    const double mid = (lo + hi) / 2;
    (incomplete_beta(mid, a, b) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

double clopper_pearson_upper(int64_t k, int64_t n, double alpha) {
  if (n <= 0) return 1.0;
  if (k >= n) return 1.0;
  return beta_quantile(1.0 - alpha / 2.0, static_cast<double>(k + 1), static_cast<double>(n - k));
}

EpsilonBound epsilon_bound(int64_t fp, int64_t fn, int64_t members, int64_t nonmembers, double delta, double alpha) {
  EpsilonBound e;
  e.false_positives = fp, e.false_negatives = fn, e.members = members, e.nonmembers = nonmembers;
  e.fpr_upper = clopper_pearson_upper(fp, nonmembers, alpha);
  e.fnr_upper = clopper_pearson_upper(fn, members, alpha);
  double eps = 0;
  if (e.fpr_upper > 0 && 1 - delta - e.fnr_upper > 0) eps = std::max(eps, std::log((1 - delta - e.fnr_upper) / e.fpr_upper));
  if (e.fnr_upper > 0 && 1 - delta - e.fpr_upper > 0) eps = std::max(eps, std::log((1 - delta - e.fpr_upper) / e.fnr_upper));
  e.epsilon = eps;
  return e;
}

EpsilonBound best_epsilon_bound(std::span<const double> scores, std::span<const uint8_t> member, double delta,
                                double alpha) {
  int64_t members = 0;
  for (auto m : member) members += m ? 1 : 0;
  const int64_t nonmembers = static_cast<int64_t>(member.size()) - members;
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  // Threshold +inf: nothing flagged (FP = 0, FN = members).
  EpsilonBound best = epsilon_bound(0, members, members, nonmembers, delta, alpha);
  best.threshold = std::numeric_limits<double>::infinity();
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < order.size();) {
    const double s = scores[order[i]];
    while (i < order.size() && scores[order[i]] == s) (member[order[i++]] ? tp : fp)++;
    auto e = epsilon_bound(fp, members - tp, members, nonmembers, delta, alpha);
    // Any threshold in (next lower score, s] flags the same examples here; the middle of
    // that gap generalizes best to the evaluation half.
    e.threshold = i < order.size() ? (s + scores[order[i]]) / 2 : -std::numeric_limits<double>::infinity();
    if (e.epsilon > best.epsilon) best = e;
  }
  return best;
}

AuditResult audit(std::span<const double> scores, std::span<const uint8_t> member, double delta, double alpha,
                  uint64_t seed) {
  if (scores.size() != member.size()) throw ScoreError("audit: scores and membership differ in length");
  std::vector<double> s1, s2;
  std::vector<uint8_t> m1, m2;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (std::isnan(scores[i])) continue;
    const bool first = derive_seed(seed, 5, i) & 1;
    (first ? s1 : s2).push_back(scores[i]);
    (first ? m1 : m2).push_back(member[i]);
  }
  AuditResult r;
  r.chosen = best_epsilon_bound(s1, m1, delta, alpha);
  int64_t members = 0, tp = 0, fp = 0;
  for (size_t i = 0; i < s2.size(); ++i) {
    members += m2[i];
    if (s2[i] >= r.chosen.threshold) (m2[i] ? tp : fp)++;
  }
  r.evaluated = epsilon_bound(fp, members - tp, members, static_cast<int64_t>(s2.size()) - members, delta, alpha);
  r.evaluated.threshold = r.chosen.threshold;
  return r;
}

}  // namespace lira
