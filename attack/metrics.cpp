// Implements the ROC curve and the metrics read from it.
#include "metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "common/errors.hpp"

namespace lira {

Roc roc_curve(std::span<const double> scores, std::span<const uint8_t> member) {
  if (scores.size() != member.size()) throw ScoreError("roc_curve: scores and membership differ in length");
  Roc roc;
  for (auto m : member) (m ? roc.members : roc.nonmembers)++;
  if (roc.members == 0 || roc.nonmembers == 0)
    throw ScoreError("cannot compute a ROC curve with " + std::to_string(roc.members) + " members and " +
                     std::to_string(roc.nonmembers) + " non-members");
  for (double s : scores)
    if (std::isnan(s)) throw ScoreError("roc_curve: NaN score");
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });

  roc.fpr.push_back(0);
  roc.tpr.push_back(0);
  roc.threshold.push_back(std::numeric_limits<double>::infinity());
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < order.size();) {
    const double s = scores[order[i]];
    // Consume the whole group of equal scores: one threshold, one ROC point.
    while (i < order.size() && scores[order[i]] == s) {
      (member[order[i]] ? tp : fp)++;
      ++i;
    }
    roc.fpr.push_back(static_cast<double>(fp) / static_cast<double>(roc.nonmembers));
    roc.tpr.push_back(static_cast<double>(tp) / static_cast<double>(roc.members));
    roc.threshold.push_back(s);
  }
  return roc;
}

double auc(const Roc& roc) {
  double area = 0;
  for (size_t i = 1; i < roc.fpr.size(); ++i)
    area += (roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1]) / 2.0;
  return area;
}

double tpr_at_fpr(const Roc& roc, double max_fpr) {
  double best = 0;
  for (size_t i = 0; i < roc.fpr.size(); ++i)
    if (roc.fpr[i] <= max_fpr) best = std::max(best, roc.tpr[i]);
  return best;
}

double balanced_accuracy(const Roc& roc) {
  double best = 0;
  for (size_t i = 0; i < roc.fpr.size(); ++i) best = std::max(best, 1.0 - (roc.fpr[i] + (1.0 - roc.tpr[i])) / 2.0);
  return best;
}

bool tpr_estimable(double fpr, int64_t nonmembers) {
  return fpr > 0 && fpr * static_cast<double>(nonmembers) >= 1.0 - 1e-9;
}

int64_t nonmembers_needed(double fpr) {
  if (!(fpr > 0)) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(std::ceil(1.0 / fpr - 1e-9));
}

Metrics compute_metrics(std::span<const double> scores, std::span<const uint8_t> member,
                        const std::vector<double>& fpr_targets) {
  const Roc roc = roc_curve(scores, member);
  Metrics m;
  m.auc = auc(roc);
  m.balanced_accuracy = balanced_accuracy(roc);
  m.advantage = 2.0 * (m.balanced_accuracy - 0.5);
  m.fpr_targets = fpr_targets;
  for (double f : fpr_targets)
    m.tpr_at.push_back(tpr_estimable(f, roc.nonmembers) ? tpr_at_fpr(roc, f) : std::numeric_limits<double>::quiet_NaN());
  m.members = roc.members;
  m.nonmembers = roc.nonmembers;
  return m;
}

Metrics mean_metrics(const std::vector<Metrics>& per_target) {
  Metrics m;
  if (per_target.empty()) return m;
  const double k = static_cast<double>(per_target.size());
  m.fpr_targets = per_target.front().fpr_targets;
  m.tpr_at.assign(m.fpr_targets.size(), 0.0);
  for (const auto& t : per_target) {
    m.auc += t.auc / k;
    m.balanced_accuracy += t.balanced_accuracy / k;
    m.advantage += t.advantage / k;
    for (size_t i = 0; i < m.tpr_at.size(); ++i) m.tpr_at[i] += t.tpr_at[i] / k;
    m.members += t.members;
    m.nonmembers += t.nonmembers;
  }
  return m;
}

Metrics standard_error(const std::vector<Metrics>& per_target) {
  Metrics se;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const size_t T = per_target.size();
  se.fpr_targets = T ? per_target.front().fpr_targets : std::vector<double>{};
  se.auc = se.balanced_accuracy = se.advantage = nan;
  se.tpr_at.assign(se.fpr_targets.size(), nan);
  if (T < 2) return se;
  const Metrics mean = mean_metrics(per_target);
  auto se_of = [&](auto get, double m) {
    double ss = 0;
    for (const auto& t : per_target) ss += (get(t) - m) * (get(t) - m);
    return std::sqrt(ss / static_cast<double>(T - 1)) / std::sqrt(static_cast<double>(T));
  };
  se.auc = se_of([](const Metrics& t) { return t.auc; }, mean.auc);
  se.balanced_accuracy = se_of([](const Metrics& t) { return t.balanced_accuracy; }, mean.balanced_accuracy);
  se.advantage = se_of([](const Metrics& t) { return t.advantage; }, mean.advantage);
  for (size_t i = 0; i < se.tpr_at.size(); ++i)
    se.tpr_at[i] = se_of([i](const Metrics& t) { return t.tpr_at[i]; }, mean.tpr_at[i]);
  return se;
}

}  // namespace lira
