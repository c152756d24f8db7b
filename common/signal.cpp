// Implements classifier_signal (see signal.hpp for the formulas and why).
#include "signal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "errors.hpp"

namespace lira {
namespace {

// log(sum_{i in S} exp(z_i)) over the indices i != skip (skip < 0: none skipped),
// computed as m + log1p(sum_{i != argmax} exp(z_i - m)) for accuracy near one term.
template <class T>
double logsumexp_excluding(std::span<const T> z, int64_t skip) {
  int64_t arg = -1;
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < static_cast<int64_t>(z.size()); ++i) {
    if (i == skip) continue;
    const double v = static_cast<double>(z[i]);
    if (arg < 0 || v > m) {
      m = v;
      arg = i;
    }
  }
  if (!std::isfinite(m)) return m;  // +inf, -inf or NaN propagate
  double rest = 0.0;
  for (int64_t i = 0; i < static_cast<int64_t>(z.size()); ++i) {
    if (i == skip || i == arg) continue;
    rest += std::exp(static_cast<double>(z[i]) - m);
  }
  return m + std::log1p(rest);
}

template <class T>
ClassifierSignal signal_impl(std::span<const T> z, int64_t label) {
  if (z.size() < 2) throw Error("classifier_signal: need at least 2 logits, got " + std::to_string(z.size()));
  if (label < 0 || label >= static_cast<int64_t>(z.size())) {
    throw Error("classifier_signal: label " + std::to_string(label) + " outside [0, " +
                std::to_string(z.size()) + ")");
  }
  const double zy = static_cast<double>(z[label]);
  ClassifierSignal s;
  s.logit_confidence = zy - logsumexp_excluding(z, label);
  s.loss = logsumexp_excluding(z, -1) - zy;
  return s;
}

}  // namespace

ClassifierSignal classifier_signal(std::span<const float> logits, int64_t label) {
  return signal_impl(logits, label);
}
ClassifierSignal classifier_signal(std::span<const double> logits, int64_t label) {
  return signal_impl(logits, label);
}

ProbabilityStats probability_stats(std::span<const float> logits) {
  if (logits.empty()) throw Error("probability_stats: no logits");
  double m = logits[0];
  for (float z : logits) m = std::max(m, static_cast<double>(z));
  double sum = 0, weighted = 0;  // sum e^(z - m) and sum e^(z - m) (z - m)
  for (float z : logits) {
    const double d = static_cast<double>(z) - m;
    const double e = std::exp(d);
    sum += e;
    weighted += e * d;
  }
  // p_i = e_i / sum; entropy = -sum p_i log p_i = log(sum) - weighted / sum.
  return {1.0 / sum, std::log(sum) - weighted / sum};
}

}  // namespace lira
