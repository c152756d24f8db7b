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

// x [B, C, H + 2p, W + 2p] cropped back to [B, C, H, W] at per-image offsets oy, ox
// (int64 [B], each in [0, 2p]).
torch::Tensor crop_at(const torch::Tensor& padded, const torch::Tensor& oy, const torch::Tensor& ox, int64_t h,
                      int64_t w);

// airbench94's training augmentation over a training set of n images, as published:
// at epoch 0 a flip mask (each image with probability 1/2) is drawn once for the run;
// every epoch each image gets a translation (dy, dx) uniform in [-pad, pad]^2 with reflect
// padding, drawn as torch.randint(-pad, pad + 1, (n, 2)); in odd epochs the whole set is
// mirrored after the crop. Draws come from torch's generator of `device`, in the
// published order (epoch 0: mask, then shifts; the batch order is drawn after).
class AlternatingFlipTranslate {
 public:
  AlternatingFlipTranslate(int64_t n, int64_t pad, torch::Device device) : n_(n), pad_(pad), device_(device) {}
  void begin_epoch(int64_t epoch);
  // The augmented images at `positions` (int64, into the n training images) of the
  // current epoch; x holds those images, normalized.
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& positions) const;
  const torch::Tensor& flip_mask() const { return flip_; }  // bool [n]
  const torch::Tensor& shifts() const { return shifts_; }   // int64 [n, 2]: (dy, dx)

 private:
  int64_t n_, pad_, epoch_ = -1;
  torch::Device device_;
  torch::Tensor flip_, shifts_;
};

// airbench94's test-time augmentation (tta_level 2): the views of x and their weights,
// logits = sum of weight x f(view): the image and its mirror (1/4 each), and the
// reflect-pad-1 crops at [0:H, 0:W] and [2:H+2, 2:W+2], each with its mirror (1/8 each).
std::vector<std::pair<torch::Tensor, double>> airbench94_tta_views(const torch::Tensor& x);

// One test-time query: mirror, then translate by (q.dy, q.dx) with reflect padding, as
// the reference code's inference.py.
torch::Tensor apply_query(const torch::Tensor& x, const QuerySpec& q);

}  // namespace lira
