// Implements the audit: the incomplete beta function by its continued fraction (modified
// Lentz), its inverse by bisection, and the threshold sweep.
#include "audit.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/errors.hpp"
#include "common/rng.hpp"
#include "gaussian.hpp"

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

namespace {

struct ThresholdPoint {
  double threshold;  // "member if score >= threshold"
  int64_t fp, fn;
};

// The thresholds the corrected bounds consider: every distinct score, or -- beyond
// kMaxThresholds of them -- the scores at evenly spaced ranks (chosen from the scores
// alone, not the labels, so the Bonferroni correction over them stays valid), with the
// false positives and negatives of each.
constexpr size_t kMaxThresholds = 1000;
std::vector<ThresholdPoint> threshold_points(std::span<const double> scores, std::span<const uint8_t> member,
                                             int64_t& members, int64_t& nonmembers) {
  members = 0;
  for (auto m : member) members += m ? 1 : 0;
  nonmembers = static_cast<int64_t>(member.size()) - members;
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return scores[x] > scores[y]; });
  std::vector<ThresholdPoint> all;
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < order.size();) {
    const double t = scores[order[i]];
    while (i < order.size() && scores[order[i]] == t) (member[order[i++]] ? tp : fp)++;
    all.push_back({t, fp, members - tp});
  }
  if (all.size() <= kMaxThresholds) return all;
  std::vector<ThresholdPoint> some;
  for (size_t k = 0; k < kMaxThresholds; ++k) some.push_back(all[(k * (all.size() - 1)) / (kMaxThresholds - 1)]);
  return some;
}

}  // namespace

EpsilonBound bonferroni_epsilon_bound(std::span<const double> scores, std::span<const uint8_t> member, double delta,
                                      double alpha) {
  int64_t members = 0, nonmembers = 0;
  const auto points = threshold_points(scores, member, members, nonmembers);
  const double per = alpha / static_cast<double>(std::max<size_t>(1, points.size()));
  EpsilonBound best = epsilon_bound(0, members, members, nonmembers, delta, per);
  best.threshold = std::numeric_limits<double>::infinity();
  for (const auto& p : points) {
    auto e = epsilon_bound(p.fp, p.fn, members, nonmembers, delta, per);
    e.threshold = p.threshold;
    if (e.epsilon > best.epsilon) best = e;
  }
  return best;
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double normal_quantile(double p) {
  if (p <= 0) return -std::numeric_limits<double>::infinity();
  if (p >= 1) return std::numeric_limits<double>::infinity();
  // Acklam's rational approximation, then two Newton steps on Phi (log-space in the tails).
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double lo = 0.02425;
  double x;
  if (p < lo) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - lo) {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  for (int i = 0; i < 2; ++i) {
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
    if (pdf <= 0) break;
    // Newton on the tail that is computed accurately: Phi(x) for x < 0, 1 - Phi(x) above.
    const double err = x < 0 ? normal_cdf(x) - p : (1 - p) - normal_cdf(-x);
    x -= err / pdf;  // err = Phi(x) - p either way
  }
  return x;
}

double gdp_delta(double mu, double epsilon) {
  if (mu <= 0) return 0.0;
  // e^eps Phi(-eps/mu - mu/2) in log space: for large eps both factors over/underflow.
  const double first = normal_cdf(-epsilon / mu + mu / 2);
  const double second = std::exp(epsilon + log_normal_cdf(-epsilon / mu - mu / 2));
  return first - second;
}

double gdp_epsilon(double mu, double delta) {
  if (mu <= 0 || gdp_delta(mu, 0.0) <= delta) return 0.0;
  double lo = 0, hi = 100;
  if (gdp_delta(mu, hi) > delta) return hi;
  for (int i = 0; i < 200 && hi - lo > 1e-12; ++i) {
    const double mid = (lo + hi) / 2;
    (gdp_delta(mu, mid) > delta ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

GdpBound gdp_bound(std::span<const double> scores, std::span<const uint8_t> member, double delta, double alpha) {
  int64_t members = 0, nonmembers = 0;
  const auto points = threshold_points(scores, member, members, nonmembers);
  GdpBound g;
  g.thresholds = static_cast<int64_t>(points.size());
  const double per = alpha / static_cast<double>(std::max<size_t>(1, points.size()));  // CP at per / 2 each
  for (const auto& p : points) {
    const double fpr_ub = clopper_pearson_upper(p.fp, nonmembers, per);
    const double fnr_ub = clopper_pearson_upper(p.fn, members, per);
    if (fpr_ub >= 1 - delta || fnr_ub >= 1 - delta) continue;
    const double mu = normal_quantile(1 - fpr_ub) - normal_quantile(fnr_ub);
    if (mu > g.mu) g.mu = mu, g.threshold = p.threshold, g.fpr_upper = fpr_ub, g.fnr_upper = fnr_ub;
  }
  g.epsilon = gdp_epsilon(g.mu, delta);
  return g;
}

namespace {

// log of the Binomial(r, q) pmf at k.
double log_binomial_pmf(int64_t r, int64_t k, double log_q, double log_1mq) {
  return std::lgamma(static_cast<double>(r + 1)) - std::lgamma(static_cast<double>(k + 1)) -
         std::lgamma(static_cast<double>(r - k + 1)) + static_cast<double>(k) * log_q +
         static_cast<double>(r - k) * log_1mq;
}

}  // namespace

double one_run_p_value(int64_t r, int64_t v, int64_t m, double epsilon, double delta) {
  if (v <= 0) return 1.0;
  // q = e^eps / (1 + e^eps), in logs without overflow.
  const double log_q = -std::log1p(std::exp(-epsilon)), log_1mq = -std::log1p(std::exp(epsilon));
  std::vector<double> pmf(static_cast<size_t>(r + 1));
  for (int64_t k = 0; k <= r; ++k) pmf[static_cast<size_t>(k)] = std::exp(log_binomial_pmf(r, k, log_q, log_1mq));
  double beta = 0;  // P[Bin(r, q) >= v]
  for (int64_t k = v; k <= r; ++k) beta += pmf[static_cast<size_t>(k)];
  double a = 0, window = 0;  // max over i of P[v - i <= Bin < v] / i
  for (int64_t i = 1; i <= v; ++i) {
    window += pmf[static_cast<size_t>(v - i)];
    a = std::max(a, window / static_cast<double>(i));
  }
  return std::min(1.0, beta + 2.0 * static_cast<double>(m) * delta * a);
}

double one_run_epsilon(int64_t r, int64_t v, int64_t m, double delta, double alpha) {
  if (one_run_p_value(r, v, m, 0.0, delta) >= alpha) return 0.0;
  double lo = 0, hi = 1;
  while (hi < 1e3 && one_run_p_value(r, v, m, hi, delta) < alpha) lo = hi, hi *= 2;  // p grows with epsilon
  for (int i = 0; i < 200 && hi - lo > 1e-12; ++i) {
    const double mid = (lo + hi) / 2;
    (one_run_p_value(r, v, m, mid, delta) < alpha ? lo : hi) = mid;
  }
  return lo;
}

OneRunBound one_run_bound(std::span<const double> scores, std::span<const uint8_t> member,
                          const std::vector<int64_t>& k_plus, const std::vector<int64_t>& k_minus, double delta,
                          double alpha) {
  std::vector<size_t> order;
  for (size_t i = 0; i < scores.size(); ++i)
    if (!std::isnan(scores[i])) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  const int64_t m = static_cast<int64_t>(order.size());
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t kp : k_plus)
    for (int64_t km : k_minus)
      if (kp >= 0 && km >= 0 && kp + km > 0 && kp + km <= m) pairs.emplace_back(kp, km);
  OneRunBound best;
  best.canaries = m;
  best.tried = static_cast<int64_t>(pairs.size());
  const double per = alpha / static_cast<double>(std::max<size_t>(1, pairs.size()));
  for (auto [kp, km] : pairs) {
    int64_t correct = 0;
    for (int64_t i = 0; i < kp; ++i) correct += member[order[static_cast<size_t>(i)]] != 0;
    for (int64_t i = m - km; i < m; ++i) correct += member[order[static_cast<size_t>(i)]] == 0;
    const double eps = one_run_epsilon(kp + km, correct, m, delta, per);
    if (eps > best.epsilon || best.guesses == 0) {
      best.epsilon = eps, best.k_plus = kp, best.k_minus = km, best.guesses = kp + km, best.correct = correct;
    }
  }
  return best;
}

namespace {

std::vector<int64_t> default_guesses(int64_t m) {
  std::vector<int64_t> k;
  for (int64_t g : {10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000})
    if (g <= m / 2) k.push_back(g);
  if (k.empty()) k.push_back(std::max<int64_t>(1, m / 4));
  return k;
}

AuditRow audit_row(const std::string& name, std::span<const double> all, std::span<const uint8_t> all_m,
                   const std::vector<uint8_t>& canary, bool one_run, double accounted, const AuditOptions& o) {
  std::vector<double> s;
  std::vector<uint8_t> m;
  for (size_t i = 0; i < all.size(); ++i)
    if (!std::isnan(all[i]) && (canary.empty() || canary[i % canary.size()])) s.push_back(all[i]), m.push_back(all_m[i]);
  AuditRow row;
  row.target = name;
  row.dp_epsilon = accounted;
  if (o.clopper_pearson)
    row.clopper_pearson = o.split ? audit(s, m, o.delta, o.alpha, o.seed).evaluated
                                  : bonferroni_epsilon_bound(s, m, o.delta, o.alpha);
  if (o.gdp) row.gdp = gdp_bound(s, m, o.delta, o.alpha);
  if (o.one_run && one_run) {
    const auto kp = o.k_plus.empty() ? default_guesses(static_cast<int64_t>(s.size())) : o.k_plus;
    row.one_run = one_run_bound(s, m, kp, o.k_minus, o.delta, o.alpha);
  }
  return row;
}

}  // namespace

std::vector<AuditRow> audit_rows(const std::vector<std::span<const double>>& scores,
                                 const std::vector<std::vector<uint8_t>>& membership,
                                 const std::vector<uint8_t>& canary, const std::vector<std::string>& target_names,
                                 const std::vector<double>& dp_epsilon, const AuditOptions& options) {
  std::vector<AuditRow> rows;
  std::vector<double> pooled;
  std::vector<uint8_t> pooled_member;
  for (size_t t = 0; t < scores.size(); ++t) {
    rows.push_back(audit_row(target_names.at(t), scores[t], membership.at(t), canary, true, dp_epsilon.at(t), options));
    pooled.insert(pooled.end(), scores[t].begin(), scores[t].end());
    pooled_member.insert(pooled_member.end(), membership[t].begin(), membership[t].end());
  }
  // Pooled: several targets' guesses on the same candidates are not independent, so the
  // one-run bound (which needs independent canaries) is per target only.
  if (scores.size() > 1)
    rows.push_back(audit_row("pooled", pooled, pooled_member, canary, false,
                             std::numeric_limits<double>::quiet_NaN(), options));
  return rows;
}

}  // namespace lira
