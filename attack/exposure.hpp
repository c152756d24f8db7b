// Which candidates leak: one attack's per-example scores across targets, turned into a
// ranking of the candidates and a summary per class (`lira report`, docs/scoring.md
// "Exposure").
//
// A candidate is exposed when the attack flags it as a member where it is one. For each
// candidate, over the targets that trained on it: the share of them whose decision at the
// report's decision FPR flags it (each target's threshold: the highest-TPR ROC point at
// FPR <= decision_fpr, as in DecisionVariability), and its mean score; over the targets that
// did not train on it, its mean score too (the gap between the two is what the attack
// sees). Candidates rank by the flagged share, then by the mean member score.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "scorer.hpp"

namespace lira {

struct CandidateExposure {
  int64_t candidate = 0;
  int64_t label = -1;  // -1: the file has no labels
  int64_t member_targets = 0, nonmember_targets = 0;  // targets with a score, by membership
  int64_t flagged = 0;  // member targets that flag it at the decision FPR
  double member_score = std::numeric_limits<double>::quiet_NaN();     // mean over member targets
  double nonmember_score = std::numeric_limits<double>::quiet_NaN();  // mean over the others
};

struct ClassExposure {
  int64_t label = 0;
  int64_t candidates = 0;      // with a score for at least one target
  int64_t member_pairs = 0, nonmember_pairs = 0;  // (target, candidate) pairs
  double auc = std::numeric_limits<double>::quiet_NaN();      // within the class, pooled over targets
  double flagged = std::numeric_limits<double>::quiet_NaN();  // share of member pairs flagged
};

struct Exposure {
  size_t attack = 0;  // index into the report's attacks
  double fpr = 0;     // the decision FPR
  // Every candidate that is a member of at least one target, most exposed first.
  std::vector<CandidateExposure> ranked;
  std::vector<ClassExposure> classes;  // by label; empty without labels
};

// The exposure under the scored attack `attack` (an index into result.report.attacks),
// at the report's decision FPR. labels: [N] or empty. canary: [N] or empty; audit
// canaries (deliberately mislabeled or noise) are ranked but left out of the classes.
Exposure compute_exposure(const ScoreResult& result, size_t attack, const std::vector<int64_t>& labels,
                          const std::vector<uint8_t>& canary = {});

// The k most exposed candidates (most first) and the k least (least first): the ones a
// report shows. Fewer when fewer are ranked; never one candidate in both lists.
struct Extremes {
  std::vector<const CandidateExposure*> most, least;
};
Extremes extremes(const Exposure& e, int64_t k);

}  // namespace lira
