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

double ReleasePolicy::floor() const {
  if (round_decimals > 0) return 0.5 * std::pow(10.0, -static_cast<double>(round_decimals));
  if (label_only) return 0.5;
  return std::numeric_limits<double>::min();
}

void released_probabilities(std::span<const float> logits, const ReleasePolicy& policy, std::span<double> out) {
  const auto c = static_cast<int64_t>(logits.size());
  if (c < 2 || out.size() != logits.size())
    throw Error("released_probabilities: need >= 2 logits and an output of their size");
  if (policy.top_k >= c)
    throw Error("released_probabilities: defense.top_k " + std::to_string(policy.top_k) + " must be below the " +
                std::to_string(c) + " classes");
  int64_t arg = 0;
  for (int64_t j = 1; j < c; ++j)
    if (logits[j] > logits[arg]) arg = j;
  if (policy.label_only) {
    std::fill(out.begin(), out.end(), 0.0);
    out[arg] = 1.0;
    return;
  }
  const double m = logits[arg];
  double sum = 0;
  for (int64_t j = 0; j < c; ++j) sum += out[j] = std::exp(static_cast<double>(logits[j]) - m);
  for (auto& v : out) v /= sum;
  const double scale = std::pow(10.0, static_cast<double>(policy.round_decimals));
  auto round = [&](double v) { return policy.round_decimals > 0 ? std::round(v * scale) / scale : v; };
  if (policy.top_k <= 0) {
    for (auto& v : out) v = round(v);
    return;
  }
  std::vector<int64_t> order(static_cast<size_t>(c));
  for (int64_t j = 0; j < c; ++j) order[j] = j;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return out[a] > out[b]; });
  double released = 0, unreleased = 0;
  for (int64_t r = 0; r < c; ++r) {
    double& v = out[order[r]];
    if (r < policy.top_k) {
      v = round(v);
      released += v;
    } else {
      unreleased += v;
    }
  }
  // Without rounding the attacker's 1 - sum(released) is exactly the unreleased mass;
  // summing that mass directly keeps it exact where 1 - sum would cancel.
  const double rest = policy.round_decimals > 0 ? std::max(0.0, 1.0 - released) : unreleased;
  for (int64_t r = policy.top_k; r < c; ++r) out[order[r]] = rest / static_cast<double>(c - policy.top_k);
}

ClassifierSignal released_signal(std::span<const double> q, int64_t label, double floor) {
  if (label < 0 || label >= static_cast<int64_t>(q.size()))
    throw Error("released_signal: label " + std::to_string(label) + " outside [0, " + std::to_string(q.size()) + ")");
  double others = 0;
  for (int64_t j = 0; j < static_cast<int64_t>(q.size()); ++j)
    if (j != label) others += q[j];
  const double qy = std::max(q[label], floor);
  return {std::log(qy) - std::log(std::max(others, floor)), -std::log(qy)};
}

ProbabilityStats probability_stats(std::span<const double> q) {
  double sum = 0, top = 0;
  for (double v : q) sum += v, top = std::max(top, v);
  if (!(sum > 0)) throw Error("probability_stats: released probabilities sum to 0");
  double entropy = 0;
  for (double v : q)
    if (v > 0) entropy -= v / sum * std::log(v / sum);
  return {top / sum, entropy};
}

}  // namespace lira
