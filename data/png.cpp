// Implements data/png.hpp: signature, IHDR, one IDAT (zlib stream of filter-0 scanlines),
// IEND; each chunk with its CRC-32 (PNG specification, ISO/IEC 15948).
#include "png.hpp"

#include <zlib.h>

#include <stdexcept>
#include <vector>

namespace lira {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_chunk(std::string& out, const char type[4], const std::string& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.append(type, 4);
  out += data;
  const auto* typed = reinterpret_cast<const Bytef*>(out.data() + start);
  put_u32(out, static_cast<uint32_t>(crc32(0L, typed, static_cast<uInt>(out.size() - start))));
}

}  // namespace

std::string encode_png(const uint8_t* pixels, int64_t channels, int64_t height, int64_t width, int scale) {
  if (channels != 1 && channels != 3) throw std::invalid_argument("encode_png: 1 or 3 channels, not " + std::to_string(channels));
  if (height <= 0 || width <= 0 || scale < 1 || height * scale > 65535 || width * scale > 65535)
    throw std::invalid_argument("encode_png: bad size " + std::to_string(height) + "x" + std::to_string(width) + " at scale " +
                                std::to_string(scale));
  const int64_t H = height * scale, W = width * scale, plane = height * width;
  // Scanlines: a filter byte (0: none), then the pixels interleaved (RGB) from the planes.
  std::vector<uint8_t> raw;
  raw.reserve(static_cast<size_t>(H * (1 + W * channels)));
  for (int64_t y = 0; y < H; ++y) {
    raw.push_back(0);
    const int64_t sy = y / scale;
    for (int64_t x = 0; x < W; ++x)
      for (int64_t c = 0; c < channels; ++c) raw.push_back(pixels[c * plane + sy * width + x / scale]);
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, raw.data(), static_cast<uLong>(raw.size()), 9) != Z_OK)
    throw std::runtime_error("encode_png: zlib compress2 failed");
  packed.resize(packed_size);

  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string header;
  put_u32(header, static_cast<uint32_t>(W));
  put_u32(header, static_cast<uint32_t>(H));
  header.push_back(8);                                        // bit depth
  header.push_back(static_cast<char>(channels == 3 ? 2 : 0));  // color type: RGB or gray
  header.append(3, '\0');                                     // deflate, filter set 0, no interlace
  put_chunk(out, "IHDR", header);
  put_chunk(out, "IDAT", packed);
  put_chunk(out, "IEND", "");
  return out;
}

}  // namespace lira
