// Privacy auditing (docs/scoring.md): empirical lower bounds on the epsilon of
// (epsilon, delta)-DP from a membership attack's scores.
//  - Clopper-Pearson (Jagielski et al. 2020): false positives and false negatives at one
//    threshold, upper bounds on both rates at significance alpha; the threshold is chosen
//    either on one half of the candidates and evaluated on the other (split), or over all
//    thresholds at once with a Bonferroni correction (alpha / thresholds each).
//  - GDP (Nasr et al. 2023): the largest mu of mu-GDP the rates rule out, converted to
//    epsilon at delta.
//  - One run (Steinke, Nasr, Jagielski 2023): guesses on canaries each IN with probability
//    1/2, the p-value of that many correct guesses under (epsilon, delta)-DP, and the
//    largest epsilon it rejects.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
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

// Every distinct score as a threshold (beyond 1,000 distinct scores: 1,000 of them at
// evenly spaced ranks, chosen without the labels), alpha / (number of thresholds) each:
// the best bound with the correction, valid without a held-out half.
EpsilonBound bonferroni_epsilon_bound(std::span<const double> scores, std::span<const uint8_t> member, double delta,
                                      double alpha);

// Standard normal CDF and its inverse (accurate to ~1e-15 in the body, ~1e-12 relative in
// the tails, for p in (1e-300, 1)).
double normal_cdf(double z);
double normal_quantile(double p);

// delta(epsilon) of mu-GDP: Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2).
double gdp_delta(double mu, double epsilon);
// The epsilon at which mu-GDP has the given delta (0 if delta(0) <= delta); on [0, 100].
double gdp_epsilon(double mu, double delta);

struct GdpBound {
  double mu = 0, epsilon = 0;
  double threshold = 0, fpr_upper = 1, fnr_upper = 1;
  int64_t thresholds = 0;
};
// Over the same thresholds as bonferroni_epsilon_bound (n of them): Clopper-Pearson upper bounds on FPR
// and FNR at alpha / (2 n); thresholds where either is >= 1 - delta are dropped; mu_lb =
// max Phi^-1(1 - FPR_ub) - Phi^-1(FNR_ub), clamped at 0, and epsilon = gdp_epsilon(mu_lb, delta).
GdpBound gdp_bound(std::span<const double> scores, std::span<const uint8_t> member, double delta, double alpha);

// One-run p-value: r guesses, v of them correct, m canaries, under (epsilon, delta)-DP.
double one_run_p_value(int64_t r, int64_t v, int64_t m, double epsilon, double delta);
// The largest epsilon whose p-value is < alpha (0 if none).
double one_run_epsilon(int64_t r, int64_t v, int64_t m, double delta, double alpha);

struct OneRunBound {
  double epsilon = 0;
  int64_t k_plus = 0, k_minus = 0, guesses = 0, correct = 0, canaries = 0;
  int64_t tried = 0;  // (k+, k-) pairs tried: each at alpha / tried
};
// Guesses IN for the k+ highest scores and OUT for the k- lowest, for each pair of the
// lists (Bonferroni over the pairs), and returns the best bound.
OneRunBound one_run_bound(std::span<const double> scores, std::span<const uint8_t> member,
                          const std::vector<int64_t>& k_plus, const std::vector<int64_t>& k_minus, double delta,
                          double alpha);

// The bounds `lira audit` computes for each target of a score, and pooled over targets
// (`lira report` shows the same rows).
struct AuditOptions {
  double delta = 1e-5, alpha = 0.05;
  bool split = false;  // Clopper-Pearson: threshold chosen on a random half (else Bonferroni)
  uint64_t seed = 0;   // of that split
  bool clopper_pearson = true, gdp = true, one_run = true;
  std::vector<int64_t> k_plus;        // one run; empty: 10, 20, 50, ... up to half the candidates
  std::vector<int64_t> k_minus{0};
};

struct AuditRow {
  std::string target;  // "model 7", "external" or "pooled"
  std::optional<EpsilonBound> clopper_pearson;
  std::optional<GdpBound> gdp;
  std::optional<OneRunBound> one_run;  // per target only: pooled guesses are not independent
  double dp_epsilon = std::numeric_limits<double>::quiet_NaN();  // accounted (DP-SGD runs)
};

// One row per target of `scores` ([T][N] rows, NaN: no score) and, for several targets,
// a pooled row. canary: [N] mask of the candidates the bounds are on (empty: all);
// target_names[t] and dp_epsilon[t] (NaN: none) label each row.
std::vector<AuditRow> audit_rows(const std::vector<std::span<const double>>& scores,
                                 const std::vector<std::vector<uint8_t>>& membership,
                                 const std::vector<uint8_t>& canary, const std::vector<std::string>& target_names,
                                 const std::vector<double>& dp_epsilon, const AuditOptions& options);

}  // namespace lira
