// Implements the bootstrap intervals and the decision variability of bootstrap.hpp.
#include "bootstrap.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/errors.hpp"
#include "common/rng.hpp"
#include "metrics.hpp"

namespace lira {
namespace {

constexpr uint64_t kBootstrapStream = 6;

// The q-quantile of sorted values, linear interpolation (numpy's default).
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double f = pos - static_cast<double>(i);
  return i + 1 < sorted.size() ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

}  // namespace

BootstrapIntervals bootstrap_metrics(std::span<const double> scores, std::span<const uint8_t> member,
                                     const std::vector<double>& fpr_targets, int64_t resamples, double confidence,
                                     uint64_t seed) {
  BootstrapIntervals out;
  out.tpr_at.resize(fpr_targets.size());
  if (resamples <= 0) return out;
  if (scores.size() != member.size()) throw ScoreError("bootstrap: scores and membership differ in length");
  out.resamples = resamples;
  out.confidence = confidence;
  // Sort once, descending; group equal scores (one ROC step per group).
  std::vector<uint32_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  std::vector<uint32_t> group_end;  // exclusive end in `order` of each tie group
  for (size_t i = 0; i < order.size();) {
    const double s = scores[order[i]];
    while (i < order.size() && scores[order[i]] == s) ++i;
    group_end.push_back(static_cast<uint32_t>(i));
  }
  std::vector<uint32_t> in_idx, out_idx;  // positions in `order` of members / non-members
  for (size_t i = 0; i < order.size(); ++i) (member[order[i]] ? in_idx : out_idx).push_back(static_cast<uint32_t>(i));
  if (in_idx.empty() || out_idx.empty()) return out;
  const size_t F = fpr_targets.size();
  std::vector<double> aucs(static_cast<size_t>(resamples));
  std::vector<std::vector<double>> tprs(F, std::vector<double>(static_cast<size_t>(resamples)));
#pragma omp parallel
  {
    std::vector<uint32_t> weight(order.size());
    std::vector<double> best(F);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < resamples; ++r) {
      // Each resample's draws depend on (seed, r) only: the same intervals on any thread count.
      Xoshiro256 rng(derive_seed(seed, kBootstrapStream, static_cast<uint64_t>(r)));
      std::fill(weight.begin(), weight.end(), 0u);
      for (size_t k = 0; k < in_idx.size(); ++k) ++weight[in_idx[rng.below(in_idx.size())]];
      for (size_t k = 0; k < out_idx.size(); ++k) ++weight[out_idx[rng.below(out_idx.size())]];
      const double P = static_cast<double>(in_idx.size()), Q = static_cast<double>(out_idx.size());
      double tp = 0, fp = 0, area = 0;
      std::fill(best.begin(), best.end(), 0.0);
      size_t i = 0;
      for (uint32_t end : group_end) {
        double dtp = 0, dfp = 0;
        for (; i < end; ++i) (member[order[i]] ? dtp : dfp) += weight[i];
        area += dfp * (tp + tp + dtp);  // trapezoid, scaled by 2 P Q
        tp += dtp, fp += dfp;
        for (size_t f = 0; f < F; ++f)
          if (fp / Q <= fpr_targets[f]) best[f] = std::max(best[f], tp / P);
      }
      aucs[static_cast<size_t>(r)] = area / (2 * P * Q);
      for (size_t f = 0; f < F; ++f) tprs[f][static_cast<size_t>(r)] = best[f];
    }
  }
  const double lo = (1 - confidence) / 2, hi = 1 - lo;
  std::sort(aucs.begin(), aucs.end());
  out.auc = {quantile(aucs, lo), quantile(aucs, hi)};
  for (size_t f = 0; f < F; ++f) {
    if (!tpr_estimable(fpr_targets[f], static_cast<int64_t>(out_idx.size()))) continue;  // n/a, as the estimate
    std::sort(tprs[f].begin(), tprs[f].end());
    out.tpr_at[f] = {quantile(tprs[f], lo), quantile(tprs[f], hi)};
  }
  return out;
}

std::vector<double> decision_thresholds(const std::vector<std::span<const double>>& scores,
                                        const std::vector<std::vector<uint8_t>>& membership, double fpr) {
  std::vector<double> threshold(scores.size(), std::numeric_limits<double>::infinity());
  for (size_t t = 0; t < scores.size(); ++t) {
    std::vector<double> s;
    std::vector<uint8_t> m;
    for (size_t n = 0; n < scores[t].size(); ++n)
      if (!std::isnan(scores[t][n])) s.push_back(scores[t][n]), m.push_back(membership[t][n]);
    const auto members = std::count(m.begin(), m.end(), uint8_t{1});
    if (members == 0 || members == static_cast<int64_t>(m.size())) continue;
    const Roc roc = roc_curve(s, m);
    double best = -1;
    for (size_t i = 0; i < roc.fpr.size(); ++i)
      if (roc.fpr[i] <= fpr && roc.tpr[i] > best) best = roc.tpr[i], threshold[t] = roc.threshold[i];
  }
  return threshold;
}

DecisionVariability decision_variability(const std::vector<std::span<const double>>& scores,
                                         const std::vector<std::vector<uint8_t>>& membership, double fpr) {
  DecisionVariability d;
  d.fpr = fpr;
  const size_t T = scores.size();
  if (T == 0) return d;
  const size_t N = scores.front().size();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  d.member_flip.assign(N, kNaN), d.nonmember_flip.assign(N, kNaN);
  d.member_flagged.assign(N, kNaN), d.nonmember_flagged.assign(N, kNaN);
  const std::vector<double> threshold = decision_thresholds(scores, membership, fpr);
  double sum_in = 0, sum_out = 0;
  int64_t n_in = 0, n_out = 0, some = 0, all = 0;
  for (size_t n = 0; n < N; ++n) {
    int64_t k[2] = {0, 0}, m[2] = {0, 0};  // [0]: non-member targets, [1]: member targets
    for (size_t t = 0; t < T; ++t) {
      const double s = scores[t][n];
      if (std::isnan(s) || std::isinf(threshold[t])) continue;
      const int side = membership[t][n] ? 1 : 0;
      ++m[side];
      k[side] += s >= threshold[t];
    }
    for (int side = 0; side < 2; ++side) {
      if (m[side] == 0) continue;
      const double kk = static_cast<double>(k[side]), mm = static_cast<double>(m[side]);
      (side ? d.member_flagged : d.nonmember_flagged)[n] = kk / mm;
      if (m[side] < 2) continue;
      const double flip = 2 * kk * (mm - kk) / (mm * (mm - 1));
      (side ? d.member_flip : d.nonmember_flip)[n] = flip;
      (side ? sum_in : sum_out) += flip;
      ++(side ? n_in : n_out);
    }
    if (m[1] >= 2 && k[1] > 0) ++some, all += k[1] == m[1];
  }
  d.examples = n_in;
  if (n_in) d.mean_member_flip = sum_in / static_cast<double>(n_in);
  if (n_out) d.mean_nonmember_flip = sum_out / static_cast<double>(n_out);
  if (some) d.flagged_by_all = static_cast<double>(all) / static_cast<double>(some);
  return d;
}

}  // namespace lira
