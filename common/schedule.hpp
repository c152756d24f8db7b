// Learning-rate schedules (training.schedule, training.warmup), as a pure function of the
// step, so they are unit-tested without libtorch.
#pragma once

#include <cstdint>

#include "common/config.hpp"

namespace lira {

// Learning rate for step `step` (0-based) of `total` optimizer steps. With progress
// p = step / total and warmup fraction w:
//   constant: lr * min(1, p / w)
//   cosine:   lr * p / w during warmup, then lr * (1 + cos(pi (p - w) / (1 - w))) / 2
//   official: lr * cos(7 pi p / 16) * clip(p / w, 0, 1)   (tensorflow/privacy mi_lira_2021)
//   onecycle: lr * p / w up to the peak, then linearly down to 0 at the end
// (a warmup of 0 means none).
double learning_rate(const TrainingConfig& training, int64_t step, int64_t total);

}  // namespace lira
