// Privacy accounting for DP-SGD: Renyi differential privacy (RDP) of the Poisson-subsampled
// Gaussian mechanism, composed over steps, converted to (epsilon, delta).
//
// One step samples each example with probability q (Poisson sampling), clips per-example
// gradients to norm C and adds N(0, (sigma C)^2) noise to their sum. Its RDP at order
// alpha is log(A_alpha) / (alpha - 1) (Mironov, Talwar, Zhang 2019):
//  - integer alpha: A = sum_{i=0..alpha} C(alpha, i) q^i (1-q)^(alpha-i) exp((i^2 - i) / (2 sigma^2)),
//    a finite sum, evaluated in log space;
//  - fractional alpha: an infinite series in the generalized binomial coefficients with
//    two erfc-weighted halves split at z0 = sigma^2 ln(1/q - 1) + 1/2, summed until both
//    halves' terms fall below e^-30.
// RDP composes additively over steps. The conversion to (epsilon, delta) is the improved one
// (Canonne, Kamath, Steinke 2020, Prop. 12; Asoodeh et al. 2020):
//   epsilon = min over alpha of  rdp + ln(1 - 1/alpha) - ln(delta alpha) / (alpha - 1),
// clamped at 0, and 0 when delta^2 + expm1(-rdp) > 0; orders at or below 1.01 are skipped.
// Torch-free, so `lira validate` and the trainer share it; docs/privacy.md has the facts
// and the reference values the unit tests reproduce.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/config.hpp"

namespace lira::dp {

// RDP at order alpha (> 1) of one step of the Poisson-subsampled Gaussian mechanism with
// sampling rate q in [0, 1] and noise multiplier sigma >= 0. 0 when q = 0, +inf when
// sigma = 0 (and q > 0), alpha / (2 sigma^2) when q = 1. Throws ConfigError on arguments
// outside those ranges (they come from the user's training.dp keys).
double rdp_poisson_gaussian(double q, double sigma, double alpha);

// The orders lira searches: 1.1, 1.2, ..., 10.9, then 11..63, then 128, 256, 512, 1024.
std::vector<double> default_orders();

struct Epsilon {
  double epsilon = 0;  // +inf when no order gives a finite bound
  double order = 0;    // the order that attains it (0 when epsilon is +inf)
};

// The improved conversion of an RDP curve (rdp[k] at orders[k]) to epsilon at delta.
Epsilon epsilon_from_rdp(std::span<const double> orders, std::span<const double> rdp, double delta);

// The epsilon that `steps` steps of DP-SGD spend at delta.
Epsilon dp_sgd_epsilon(double q, double sigma, int64_t steps, double delta,
                       std::span<const double> orders = {});

// The smallest noise multiplier (to a relative 1e-6) whose DP-SGD run spends at most
// `target_epsilon`: bisection, since epsilon falls monotonically with sigma. Throws
// ConfigError when even sigma = 1e4 cannot reach the target.
double noise_for_epsilon(double q, int64_t steps, double delta, double target_epsilon,
                         std::span<const double> orders = {});

// DP-SGD as lira trains a model on `examples` IN examples (docs/privacy.md): sampling
// rate q = min(1, batch / n), ceil(epochs n / batch) steps, the configured noise
// multiplier or the one solved for dp.target_epsilon, and the epsilon spent at dp.delta.
// The trainer and `lira validate` both use it, so the printed budget is the trained one.
struct DpSgdPlan {
  double sample_rate = 0;
  int64_t steps = 0;
  double noise_multiplier = 0;
  double epsilon = 0;
};
DpSgdPlan plan_dp_sgd(const DpConfig& dp, int64_t batch_size, double epochs, int64_t examples);

}  // namespace lira::dp
