// The per-example membership signals of a classifier, computed in float64 from logits.
//
// docs/results-format.md, /signals: the logit-scaled confidence of the true class
//   phi = log p_y - log(sum_{y' != y} p_y') = z_y - logsumexp_{y' != y} z_y'
// must never be computed as log(p / (1 - p)) from saturated probabilities: it is exactly
// the confident members, the interesting ones, whose p rounds to 1. Both logsumexps are
// taken around their own maximum and with log1p, so phi and the loss stay exact for
// logits of any magnitude (|z| ~ 1e4) and for losses down to the smallest doubles.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lira {

struct ClassifierSignal {
  double logit_confidence;  // phi, see above
  double loss;              // cross-entropy: logsumexp(z) - z_y
};

// logits: the C >= 2 raw outputs for one example; label in [0, C).
ClassifierSignal classifier_signal(std::span<const float> logits, int64_t label);
ClassifierSignal classifier_signal(std::span<const double> logits, int64_t label);

// The largest softmax probability and the entropy (nats) of the softmax distribution, in
// float64 around the maximum logit: the shadow-model attack's extra features.
struct ProbabilityStats {
  double max_probability;
  double entropy;
};
ProbabilityStats probability_stats(std::span<const float> logits);

// Defenses that change what a model releases (defense.*, docs/privacy.md). The attacker
// sees a probability vector q instead of the logits, and every signal is computed from q:
//  - softmax p in float64 around the largest logit;
//  - label_only: q is the one-hot vector of the predicted class (the first largest logit);
//  - top_k: the k largest p_j are released (ties: the lower class), the rest of the mass is
//    read as spread evenly over the C - k other classes;
//  - round_decimals d: each released p_j is rounded to d decimals (half away from zero);
//    with top_k the unreleased mass is then 1 - sum of the rounded values (at least 0).
// A probability below `floor` counts as `floor`: half the last decimal (0.5 x 10^-d) when
// rounding, 0.5 for label_only (a rounding to 0 decimals), else the smallest normal double.
// So phi = log max(q_y, floor) - log max(sum_{j != y} q_j, floor) is always finite, and
// label_only gives phi = +-log 2.
struct ReleasePolicy {
  int64_t round_decimals = 0;
  int64_t top_k = 0;
  bool label_only = false;
  bool active() const { return round_decimals > 0 || top_k > 0 || label_only; }
  double floor() const;
};

// q for these logits under the policy; out has the logits' size. Throws for top_k >= C.
void released_probabilities(std::span<const float> logits, const ReleasePolicy& policy, std::span<double> out);
// The signals of a released q (see above).
ClassifierSignal released_signal(std::span<const double> q, int64_t label, double floor);
// max_j q_j and the entropy -sum q_j log q_j (0 log 0 = 0) of a released q, renormalized
// to sum 1 first (rounded values need not).
ProbabilityStats probability_stats(std::span<const double> q);

}  // namespace lira
