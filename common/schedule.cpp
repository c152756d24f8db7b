// Implements learning_rate.
#include "common/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace lira {

double learning_rate(const TrainingConfig& t, int64_t step, int64_t total) {
  const double p = total > 0 ? static_cast<double>(step) / static_cast<double>(total) : 0.0;
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
