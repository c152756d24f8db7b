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

}  // namespace lira
