// Implements attack/exposure.hpp.
#include "exposure.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace lira {

Exposure compute_exposure(const ScoreResult& result, size_t attack, const std::vector<int64_t>& labels,
                          const std::vector<uint8_t>& canary) {
  Exposure e;
  e.attack = attack;
  e.fpr = result.report.decision_fpr;
  const ScoreMatrix& scores = result.scores.at(attack);
  const size_t T = result.report.targets.size();
  const int64_t N = result.report.candidates;
  std::vector<std::span<const double>> rows;
  for (size_t ti = 0; ti < T; ++ti) rows.push_back(scores.row(static_cast<int64_t>(ti)));
  const auto threshold = decision_thresholds(rows, result.membership, e.fpr);

  struct Pairs {
    std::vector<double> scores;
    std::vector<uint8_t> member;
    int64_t flagged = 0, members = 0, candidates = 0;
  };
  std::map<int64_t, Pairs> by_class;
  for (int64_t n = 0; n < N; ++n) {
    CandidateExposure c;
    c.candidate = n;
    c.label = labels.empty() ? -1 : labels[static_cast<size_t>(n)];
    double in_sum = 0, out_sum = 0;
    const bool is_canary = !canary.empty() && canary[static_cast<size_t>(n)] != 0;
    Pairs* cls = labels.empty() || is_canary ? nullptr : &by_class[c.label];
    for (size_t t = 0; t < T; ++t) {
      const double s = rows[t][static_cast<size_t>(n)];
      // A target without both members and non-members has no threshold: it decides nothing
      // (as in DecisionVariability).
      if (std::isnan(s) || std::isinf(threshold[t])) continue;
      const bool member = result.membership[t][static_cast<size_t>(n)] != 0;
      const bool flagged = s >= threshold[t];
      if (member) {
        ++c.member_targets, in_sum += s, c.flagged += flagged;
      } else {
        ++c.nonmember_targets, out_sum += s;
      }
      if (cls) {
        cls->scores.push_back(s), cls->member.push_back(member);
        if (member) ++cls->members, cls->flagged += flagged;
      }
    }
    if (c.member_targets + c.nonmember_targets == 0) continue;  // the population, or unscored
    if (cls) ++cls->candidates;
    if (c.member_targets > 0) c.member_score = in_sum / static_cast<double>(c.member_targets);
    if (c.nonmember_targets > 0) c.nonmember_score = out_sum / static_cast<double>(c.nonmember_targets);
    if (c.member_targets > 0) e.ranked.push_back(c);
  }
  auto share = [](const CandidateExposure& c) { return static_cast<double>(c.flagged) / static_cast<double>(c.member_targets); };
  std::stable_sort(e.ranked.begin(), e.ranked.end(), [&](const CandidateExposure& a, const CandidateExposure& b) {
    if (share(a) != share(b)) return share(a) > share(b);
    return a.member_score > b.member_score;
  });
  for (auto& [label, p] : by_class) {
    ClassExposure c;
    c.label = label;
    c.candidates = p.candidates;
    c.member_pairs = p.members;
    c.nonmember_pairs = static_cast<int64_t>(p.member.size()) - p.members;
    if (p.members > 0) c.flagged = static_cast<double>(p.flagged) / static_cast<double>(p.members);
    if (p.members > 0 && c.nonmember_pairs > 0) c.auc = auc(roc_curve(p.scores, p.member));
    e.classes.push_back(c);
  }
  return e;
}

Extremes extremes(const Exposure& e, int64_t k) {
  Extremes x;
  const size_t n = e.ranked.size(), shown = std::min(n / 2 + n % 2, static_cast<size_t>(std::max<int64_t>(0, k)));
  for (size_t i = 0; i < shown; ++i) x.most.push_back(&e.ranked[i]);
  for (size_t i = 0; i < shown && n - 1 - i >= shown; ++i) x.least.push_back(&e.ranked[n - 1 - i]);
  return x;
}

}  // namespace lira
