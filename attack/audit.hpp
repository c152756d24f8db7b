// Privacy auditing (lira-method.md section 5; Jagielski et al. 2020, Nasr et al. 2021): an
// empirical lower bound on the epsilon of (epsilon, delta)-DP from a membership attack's
// false positives and false negatives at one threshold, with Clopper-Pearson upper bounds
// on the rates at significance alpha. The threshold is chosen on one half of the
// candidates and the bound computed on the other, so choosing it does not bias the bound.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lira {

// Regularized incomplete beta function I_x(a, b), a, b > 0, x in [0, 1].
double incomplete_beta(double x, double a, double b);
// Its inverse in x: the p-quantile of Beta(a, b).
double beta_quantile(double p, double a, double b);

// One-sided-pair Clopper-Pearson upper bound of a rate k/n at significance alpha:
// BetaInv(1 - alpha/2; k + 1, n - k), and 1 when k = n.
double clopper_pearson_upper(int64_t k, int64_t n, double alpha);

struct EpsilonBound {
  double epsilon = 0;       // the lower bound (>= 0)
  double fpr_upper = 1, fnr_upper = 1;
  int64_t false_positives = 0, false_negatives = 0, members = 0, nonmembers = 0;
  double threshold = 0;     // "member if score >= threshold"
};

// eps_LB = max(0, ln((1 - delta - FNR_ub) / FPR_ub), ln((1 - delta - FPR_ub) / FNR_ub)).
EpsilonBound epsilon_bound(int64_t fp, int64_t fn, int64_t members, int64_t nonmembers, double delta, double alpha);

// The best bound over all thresholds of (scores, member), and its threshold (the middle
// of the gap between the last flagged score and the next lower one).
EpsilonBound best_epsilon_bound(std::span<const double> scores, std::span<const uint8_t> member, double delta,
                                double alpha);

struct AuditResult {
  EpsilonBound chosen;     // on the selection half, at the best threshold there
  EpsilonBound evaluated;  // on the other half, at that threshold: the reported bound
};

// Splits the pairs into two halves at random (seeded), picks the threshold on the first,
// bounds epsilon on the second.
AuditResult audit(std::span<const double> scores, std::span<const uint8_t> member, double delta, double alpha,
                  uint64_t seed);

}  // namespace lira
