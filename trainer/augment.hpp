// Image augmentations on batches already on the device: the training augmentations
// (random flip, reflect-pad random crop) and the test-time queries (mirror, shift).
#pragma once

#include <torch/torch.h>

#include "common/config.hpp"

namespace lira {

// x: [B, C, H, W]. Each image is mirrored with probability 1/2 (flip), then translated
// by a uniform offset in [-crop, crop]^2 with reflect padding (crop > 0). Randomness
// comes from torch's default generator of x's device.
torch::Tensor augment_batch(const torch::Tensor& x, bool flip, int64_t crop);

// One test-time query: mirror, then translate by (q.dy, q.dx) with reflect padding, as
// the reference code's inference.py.
torch::Tensor apply_query(const torch::Tensor& x, const QuerySpec& q);

}  // namespace lira
