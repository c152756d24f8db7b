#include "common/dp_accountant.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <string>

#include "common/errors.hpp"

namespace lira::dp {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// log(e^a + e^b), exact for -inf arguments.
double log_add(double a, double b) {
  if (a == -kInf) return b;
  if (b == -kInf) return a;
  const double hi = std::max(a, b), lo = std::min(a, b);
  return hi + std::log1p(std::exp(lo - hi));
}

// log(e^a - e^b) for a >= b; -inf when the difference rounds to nothing or below.
double log_sub(double a, double b) {
  if (b == -kInf) return a;
  if (b >= a) return -kInf;
  return a + std::log(-std::expm1(b - a));
}

// log(erfc(x)), also where erfc(x) underflows: the asymptotic series
// erfc(x) ~ e^{-x^2} / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6)), whose next term
// is below 3e-10 relative from x = 20 on.
double log_erfc(double x) {
  if (x < 20) return std::log(std::erfc(x));
  const double r = 1.0 / (x * x);
  return -x * x - std::log(x) - 0.5 * std::log(std::numbers::pi) +
         std::log1p(r * (-0.5 + r * (0.75 - r * 1.875)));
}

// log A_alpha for integer alpha: a finite sum of positive terms.
double log_a_integer(double q, double sigma, int64_t alpha) {
  double log_a = -kInf;
  const double lq = std::log(q), l1q = std::log1p(-q), two_var = 2 * sigma * sigma;
  const double a = static_cast<double>(alpha);
  for (int64_t i = 0; i <= alpha; ++i) {
    const double di = static_cast<double>(i);
    const double log_binom = std::lgamma(a + 1) - std::lgamma(di + 1) - std::lgamma(a - di + 1);
    log_a = log_add(log_a, log_binom + di * lq + (a - di) * l1q + (di * di - di) / two_var);
  }
  return log_a;
}

// log A_alpha for fractional alpha: the series over i >= 0 with the generalized binomial
// coefficient C(alpha, i) (whose sign alternates once i > alpha + 1), each term split into
// the two erfc-weighted halves around z0; stops when both halves' terms are below e^-30.
double log_a_fractional(double q, double sigma, double alpha) {
  const double lq = std::log(q), l1q = std::log1p(-q), two_var = 2 * sigma * sigma;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  const double scale = std::numbers::sqrt2 * sigma, log_half = std::log(0.5);
  double log_pos0 = -kInf, log_neg0 = -kInf, log_pos1 = -kInf, log_neg1 = -kInf;
  double log_abs_binom = 0;  // log |C(alpha, 0)|
  bool negative = false;
  constexpr int64_t kMaxTerms = 1'000'000;
  for (int64_t n = 0; n < kMaxTerms; ++n) {
    const double i = static_cast<double>(n), j = alpha - i;
    if (n > 0) {  // C(alpha, n) = C(alpha, n - 1) (alpha - n + 1) / n
      const double factor = alpha - i + 1;
      if (factor == 0) return log_add(log_sub(log_pos0, log_neg0), log_sub(log_pos1, log_neg1));
      log_abs_binom += std::log(std::abs(factor)) - std::log(i);
      if (factor < 0) negative = !negative;
    }
    const double s0 = log_abs_binom + i * lq + j * l1q + (i * i - i) / two_var + log_half +
                      log_erfc((i - z0) / scale);
    const double s1 = log_abs_binom + j * lq + i * l1q + (j * j - j) / two_var + log_half +
                      log_erfc((z0 - j) / scale);
    if (negative) {
      log_neg0 = log_add(log_neg0, s0);
      log_neg1 = log_add(log_neg1, s1);
    } else {
      log_pos0 = log_add(log_pos0, s0);
      log_pos1 = log_add(log_pos1, s1);
    }
    if (std::max(s0, s1) < -30) break;
    if (n + 1 == kMaxTerms) return kInf;  // no convergence: no finite bound at this order
  }
  return log_add(log_sub(log_pos0, log_neg0), log_sub(log_pos1, log_neg1));
}

void check_rate_and_noise(double q, double sigma) {
  if (!(q >= 0 && q <= 1))
    throw ConfigError("DP accountant: sampling rate " + g(q) + " is outside [0, 1]");
  if (!(sigma >= 0) || std::isinf(sigma))
    throw ConfigError("DP accountant: noise multiplier " + g(sigma) +
                      " must be finite and >= 0");
}

}  // namespace

double rdp_poisson_gaussian(double q, double sigma, double alpha) {
  check_rate_and_noise(q, sigma);
  if (!(alpha > 1) || std::isinf(alpha))
    throw ConfigError("DP accountant: RDP order " + g(alpha) + " must be finite and > 1");
  if (q == 0) return 0;
  if (sigma == 0) return kInf;
  if (q == 1) return alpha / (2 * sigma * sigma);
  const double log_a = alpha == std::floor(alpha) ? log_a_integer(q, sigma, static_cast<int64_t>(alpha))
                                                  : log_a_fractional(q, sigma, alpha);
  return std::max(0.0, log_a / (alpha - 1));
}

std::vector<double> default_orders() {
  std::vector<double> orders;
  for (int x = 1; x <= 99; ++x) orders.push_back(1 + x / 10.0);
  for (int a = 11; a <= 63; ++a) orders.push_back(a);
  for (double a : {128.0, 256.0, 512.0, 1024.0}) orders.push_back(a);
  return orders;
}

Epsilon epsilon_from_rdp(std::span<const double> orders, std::span<const double> rdp, double delta) {
  if (orders.size() != rdp.size())
    throw ConfigError("DP accountant: " + std::to_string(orders.size()) + " orders but " +
                      std::to_string(rdp.size()) + " RDP values");
  if (!(delta > 0 && delta < 1))
    throw ConfigError("DP accountant: delta " + g(delta) + " must be in (0, 1)");
  Epsilon best{kInf, 0};
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k], r = rdp[k];
    if (!(a > 1.01) || !std::isfinite(r)) continue;
    double eps = 0;
    if (delta * delta + std::expm1(-r) <= 0)
      eps = std::max(0.0, r + std::log1p(-1 / a) - (std::log(delta) + std::log(a)) / (a - 1));
    if (eps < best.epsilon) best = {eps, a};
  }
  return best;
}

Epsilon dp_sgd_epsilon(double q, double sigma, int64_t steps, double delta, std::span<const double> orders) {
  if (steps < 0) throw ConfigError("DP accountant: " + std::to_string(steps) + " steps is negative");
  const std::vector<double> defaults = orders.empty() ? default_orders() : std::vector<double>{};
  if (orders.empty()) orders = defaults;
  std::vector<double> rdp(orders.size());
  for (size_t k = 0; k < orders.size(); ++k)
    rdp[k] = static_cast<double>(steps) * rdp_poisson_gaussian(q, sigma, orders[k]);
  return epsilon_from_rdp(orders, rdp, delta);
}

double noise_for_epsilon(double q, int64_t steps, double delta, double target_epsilon,
                         std::span<const double> orders) {
  if (!(target_epsilon > 0) || std::isinf(target_epsilon))
    throw ConfigError("dp.target_epsilon: " + g(target_epsilon) +
                      " must be finite and > 0");
  const auto spends = [&](double sigma) { return dp_sgd_epsilon(q, sigma, steps, delta, orders).epsilon; };
  constexpr double kMaxSigma = 1e4;
  double lo = 0, hi = 1;
  while (spends(hi) > target_epsilon) {
    lo = hi;
    hi *= 2;
    if (hi > kMaxSigma)
      throw ConfigError("dp.target_epsilon: no noise multiplier up to " + g(kMaxSigma) + " reaches epsilon " +
                        g(target_epsilon) + " at delta " + g(delta) + " over " + std::to_string(steps) +
                        " steps at sampling rate " + g(q) +
                        ": raise dp.target_epsilon or dp.delta, or train fewer steps");
  }
  while (hi - lo > 1e-6 * hi) {
    const double mid = 0.5 * (lo + hi);
    (spends(mid) > target_epsilon ? lo : hi) = mid;
  }
  return hi;
}

DpSgdPlan plan_dp_sgd(const DpConfig& dp, int64_t batch_size, double epochs, int64_t examples) {
  if (examples < 1) throw ConfigError("DP-SGD: a model with no training examples");
  DpSgdPlan plan;
  const auto n = static_cast<double>(examples), b = static_cast<double>(batch_size);
  plan.sample_rate = std::min(1.0, b / n);
  plan.steps = static_cast<int64_t>(std::ceil(epochs * n / b - 1e-9));
  plan.noise_multiplier = dp.noise_multiplier > 0
                              ? dp.noise_multiplier
                              : noise_for_epsilon(plan.sample_rate, plan.steps, dp.delta, dp.target_epsilon);
  plan.epsilon = dp_sgd_epsilon(plan.sample_rate, plan.noise_multiplier, plan.steps, dp.delta).epsilon;
  return plan;
}

}  // namespace lira::dp
