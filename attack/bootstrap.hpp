// Uncertainty of the metrics: bootstrap intervals for the AUC and the TPR at fixed FPRs,
// and the variability of per-example decisions across target models (docs/scoring.md).
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace lira {

struct Interval {
  double low = std::numeric_limits<double>::quiet_NaN(), high = std::numeric_limits<double>::quiet_NaN();
};

struct BootstrapIntervals {
  int64_t resamples = 0;  // 0: not computed
  double confidence = 0;
  Interval auc;
  std::vector<Interval> tpr_at;  // one per FPR target
};

// Percentile intervals from `resamples` resamples: members and non-members are resampled
// separately (each with replacement to its own count), so every resample has the same
// class balance. Deterministic for a seed, whatever the thread count. The ROC of each
// resample is evaluated on the one sort of the original scores (weights = multiplicities),
// so a resample costs O(n), not O(n log n).
BootstrapIntervals bootstrap_metrics(std::span<const double> scores, std::span<const uint8_t> member,
                                     const std::vector<double>& fpr_targets, int64_t resamples, double confidence,
                                     uint64_t seed);

// How stable an example's decision is across target models. Each target flags the
// examples whose score reaches its own threshold at FPR <= fpr; for example n, among the
// targets for which it is a member (non-member), k of m flag it, and the flip rate is the
// share of pairs of those targets that disagree, 2 k (m - k) / (m (m - 1)) (NaN for m < 2).
struct DecisionVariability {
  double fpr = 0;
  std::vector<double> member_flip, nonmember_flip;        // [N]
  std::vector<double> member_flagged, nonmember_flagged;  // [N]: k / m
  double mean_member_flip = std::numeric_limits<double>::quiet_NaN();
  double mean_nonmember_flip = std::numeric_limits<double>::quiet_NaN();
  // Among the examples that are members for >= 2 targets and flagged by at least one:
  // the share flagged by every one of them.
  double flagged_by_all = std::numeric_limits<double>::quiet_NaN();
  int64_t examples = 0;  // examples that are members for >= 2 targets
};

// Each target's decision threshold ("member if score >= threshold"): the ROC point with the
// highest TPR at FPR <= fpr; +infinity for a target without both members and non-members.
// scores: [T][N] rows (NaN: no score), membership: [T][N].
std::vector<double> decision_thresholds(const std::vector<std::span<const double>>& scores,
                                        const std::vector<std::vector<uint8_t>>& membership, double fpr);

// scores: [T][N] rows (NaN: no score), membership: [T][N].
DecisionVariability decision_variability(const std::vector<std::span<const double>>& scores,
                                         const std::vector<std::vector<uint8_t>>& membership, double fpr);

}  // namespace lira
