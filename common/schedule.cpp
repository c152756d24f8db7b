// Implements learning_rate.
#include "common/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace lira {

double learning_rate(const TrainingConfig& t, int64_t step, int64_t total) {
  return learning_rate_at(t, total > 0 ? static_cast<double>(step) / static_cast<double>(total) : 0.0);
}

double airbench94_lr_factor(int64_t step, int64_t total) {
  const int64_t warmup = static_cast<int64_t>(static_cast<double>(total) * 0.23);
  if (step < warmup) {
    const double f = static_cast<double>(step) / static_cast<double>(warmup);
    return (1 - f) * 0.2 + f * 1.0;
  }
  const double f = static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  return (1 - f) * 1.0 + f * 0.07;
}

double airbench94_lookahead_decay(int64_t step, int64_t total) {
  const float x = static_cast<float>(step) / static_cast<float>(total);
  const float cube = x * x * x;
  return static_cast<double>(static_cast<float>(std::pow(0.95, 5)) * cube);
}

double learning_rate_at(const TrainingConfig& t, double p) {
  const double w = t.warmup;
  const double warm = w > 0 ? std::clamp(p / w, 0.0, 1.0) : 1.0;
  if (t.schedule == "official") return t.lr * std::cos(p * 7.0 * std::numbers::pi / 16.0) * warm;
  if (p < w) return t.lr * warm;
  const double after = w < 1 ? (p - w) / (1 - w) : 1.0;  // progress after the warmup, in [0, 1)
  if (t.schedule == "cosine") return t.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * after));
  if (t.schedule == "onecycle") return t.lr * (1.0 - after);
  return t.lr;  // constant
}

}  // namespace lira
