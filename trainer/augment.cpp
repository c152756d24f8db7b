// Implements the augmentations with batched tensor ops (no per-image loops), so they
// cost little next to a training step on CPU and on GPU.
#include "augment.hpp"

#include <algorithm>
#include <cstdlib>

namespace lira {

torch::Tensor augment_batch(const torch::Tensor& x, bool flip, int64_t crop) {
  torch::Tensor y = x;
  const auto b = x.size(0);
  if (flip) {
    const auto mask = torch::rand({b}, x.options().dtype(torch::kFloat32)).lt(0.5).view({b, 1, 1, 1});
    y = torch::where(mask, y.flip({3}), y);
  }
  if (crop > 0) {
    const int64_t h = x.size(2), w = x.size(3);
    const auto padded = torch::reflection_pad2d(y, {crop, crop, crop, crop});
    const auto index = x.options().dtype(torch::kInt64);
    const auto oy = torch::randint(0, 2 * crop + 1, {b, 1}, index);
    const auto ox = torch::randint(0, 2 * crop + 1, {b, 1}, index);
    const auto rows = (oy + torch::arange(h, index).unsqueeze(0)).view({b, 1, h, 1});
    const auto cols = (ox + torch::arange(w, index).unsqueeze(0)).view({b, 1, 1, w});
    y = padded.gather(2, rows.expand({b, x.size(1), h, padded.size(3)}));
    y = y.gather(3, cols.expand({b, x.size(1), h, w}));
  }
  return y;
}

torch::Tensor apply_query(const torch::Tensor& x, const QuerySpec& q) {
  torch::Tensor y = q.mirror ? x.flip({3}) : x;
  if (q.dy == 0 && q.dx == 0) return y;
  const int64_t s = std::max(std::abs(q.dy), std::abs(q.dx));
  const int64_t h = x.size(2), w = x.size(3);
  const auto padded = torch::reflection_pad2d(y, {s, s, s, s});
  return padded.slice(2, s + q.dy, s + q.dy + h).slice(3, s + q.dx, s + q.dx + w);
}

}  // namespace lira
