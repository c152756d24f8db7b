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
// The same at progress p in [0, 1) (the official recipe counts it in examples:
// (epoch N + offset of the batch in its epoch) / (epochs N), as tensorflow/privacy does).
double learning_rate_at(const TrainingConfig& training, double progress);

// airbench94's learning-rate factor at step t of T (LambdaLR, stepped after each step, so
// step 0 trains at 0.2): linear 0.2 -> 1 over the first floor(0.23 T) steps, then 1 -> 0.07.
double airbench94_lr_factor(int64_t step, int64_t total);
// airbench94's lookahead decay after step t of T (t a multiple of 5): 0.95^5 (t / T)^3,
// in float32 arithmetic as published (torch.arange(T + 1) / T, cubed, times 0.95^5).
double airbench94_lookahead_decay(int64_t step, int64_t total);

}  // namespace lira
