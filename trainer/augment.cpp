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
    const auto oy = torch::randint(0, 2 * crop + 1, {b}, index);
    const auto ox = torch::randint(0, 2 * crop + 1, {b}, index);
    y = crop_at(padded, oy, ox, h, w);
  }
  return y;
}

torch::Tensor crop_at(const torch::Tensor& padded, const torch::Tensor& oy, const torch::Tensor& ox, int64_t h,
                      int64_t w) {
  const int64_t b = padded.size(0), c = padded.size(1);
  const auto index = oy.options();
  const auto rows = (oy.view({b, 1}) + torch::arange(h, index).unsqueeze(0)).view({b, 1, h, 1});
  const auto cols = (ox.view({b, 1}) + torch::arange(w, index).unsqueeze(0)).view({b, 1, 1, w});
  const auto y = padded.gather(2, rows.expand({b, c, h, padded.size(3)}));
  return y.gather(3, cols.expand({b, c, h, w}));
}

void AlternatingFlipTranslate::begin_epoch(int64_t epoch) {
  const auto on = torch::TensorOptions(device_);
  if (epoch_ < 0) flip_ = torch::rand({n_}, on.dtype(torch::kFloat32)).lt(0.5);
  shifts_ = torch::randint(-pad_, pad_ + 1, {n_, 2}, on.dtype(torch::kInt64));
  epoch_ = epoch;
}

torch::Tensor AlternatingFlipTranslate::apply(const torch::Tensor& x, const torch::Tensor& positions) const {
  const int64_t b = x.size(0);
  auto y = torch::where(flip_.index_select(0, positions).view({b, 1, 1, 1}), x.flip({3}), x);
  const auto s = shifts_.index_select(0, positions);
  y = crop_at(torch::reflection_pad2d(y, {pad_, pad_, pad_, pad_}), s.select(1, 0) + pad_, s.select(1, 1) + pad_,
              x.size(2), x.size(3));
  return epoch_ % 2 == 1 ? y.flip({3}) : y;
}

std::vector<std::pair<torch::Tensor, double>> airbench94_tta_views(const torch::Tensor& x) {
  const int64_t h = x.size(2), w = x.size(3);
  const auto padded = torch::reflection_pad2d(x, {1, 1, 1, 1});
  const auto low = padded.slice(2, 0, h).slice(3, 0, w), high = padded.slice(2, 2, h + 2).slice(3, 2, w + 2);
  return {{x, 0.25}, {x.flip({3}), 0.25}, {low, 0.125}, {low.flip({3}), 0.125}, {high, 0.125}, {high.flip({3}), 0.125}};
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
