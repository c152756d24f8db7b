// Membership-inference metrics from scores (higher = more likely a member) and the true
// membership: the ROC curve, AUC, TPR at fixed FPR, balanced accuracy and advantage
// (docs/scoring.md, "Metrics"). Ties are handled exactly: equal scores form one ROC step,
// so the AUC equals the Mann-Whitney statistic with ties counted one half.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lira {

struct Roc {
  // Points from (0, 0) to (1, 1); point i is "member if score >= threshold[i]"
  // (threshold[0] = +inf: nothing predicted member).
  std::vector<double> fpr, tpr, threshold;
  int64_t members = 0, nonmembers = 0;
};

// NaN scores are not allowed here (the scorer drops them before); throws ScoreError if
// there are no members or no non-members.
Roc roc_curve(std::span<const double> scores, std::span<const uint8_t> member);

double auc(const Roc& roc);
// TPR at the lowest threshold whose FPR is still <= max_fpr.
double tpr_at_fpr(const Roc& roc, double max_fpr);

// A TPR at FPR f says something only where f allows at least one false positive among the
// non-members: f x non-members >= 1. Below that, every such FPR reads as the TPR at zero
// false positives (the same number at 0.001% and at 0.1%), so lira reports it as not
// available (NaN in Metrics, "n/a" in the table, null in JSON), with the number of
// non-members it needs: ceil(1 / f) (INT64_MAX for f = 0).
bool tpr_estimable(double fpr, int64_t nonmembers);
int64_t nonmembers_needed(double fpr);
// max over thresholds of 1 - (FPR + FNR) / 2.
double balanced_accuracy(const Roc& roc);

struct Metrics {
  double auc = 0, balanced_accuracy = 0, advantage = 0;
  std::vector<double> fpr_targets;  // e.g. 0.001, 0.01
  std::vector<double> tpr_at;       // TPR at each FPR target
  int64_t members = 0, nonmembers = 0;
};

Metrics compute_metrics(std::span<const double> scores, std::span<const uint8_t> member,
                        const std::vector<double>& fpr_targets);

// Element-wise mean of several targets' metrics (counts are summed).
Metrics mean_metrics(const std::vector<Metrics>& per_target);
// Element-wise standard error of that mean: sd (ddof 1) / sqrt(T); NaN for fewer than 2.
Metrics standard_error(const std::vector<Metrics>& per_target);

}  // namespace lira
