// PNG encoding of a dataset example, for the pictures of `lira report` (the examples
// that leak most, as they are). Torch-free; zlib does the deflate.
#pragma once

#include <cstdint>
#include <string>

namespace lira {

// One image in the datasets' layout, uint8 [channels, height, width] (channels 1 or 3),
// as PNG bytes (8-bit grayscale or RGB), each pixel drawn as a scale x scale block so that
// 28 x 28 images stay legible as thumbnails without the viewer's smoothing. Throws
// std::invalid_argument for other channel counts, an empty image or scale < 1.
std::string encode_png(const uint8_t* pixels, int64_t channels, int64_t height, int64_t width, int scale = 1);

}  // namespace lira
