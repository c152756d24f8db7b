// data/png.hpp: the bytes decode (zlib inflate, filter 0) to the pixels put in, at scale.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/png.hpp"

namespace {

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

struct Decoded {
  uint32_t width = 0, height = 0;
  int color = -1;
  std::vector<uint8_t> raw;  // filter byte + pixels, per row
};

// A reader of exactly what encode_png writes, checking every chunk's CRC.
Decoded decode(const std::string& png) {
  REQUIRE(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  Decoded d;
  std::string idat;
  for (size_t at = 8; at < png.size();) {
    const uint32_t len = be32(png, at);
    const std::string type = png.substr(at + 4, 4), body = png.substr(at + 8, len);
    const auto crc = crc32(0L, reinterpret_cast<const Bytef*>(png.data() + at + 4), len + 4);
    CHECK(be32(png, at + 8 + len) == crc);
    if (type == "IHDR") d.width = be32(body, 0), d.height = be32(body, 4), d.color = uint8_t(body[9]);
    if (type == "IDAT") idat += body;
    at += 12 + len;
  }
  const int channels = d.color == 2 ? 3 : 1;
  uLongf size = d.height * (1 + d.width * channels);
  d.raw.resize(size);
  REQUIRE(uncompress(d.raw.data(), &size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) == Z_OK);
  CHECK(size == d.raw.size());
  return d;
}

}  // namespace

TEST_CASE("encode_png: grayscale at scale 2 decodes to the pixels, each a 2x2 block") {
  const std::vector<uint8_t> px = {0, 50, 100, 150, 200, 250};  // 2 rows x 3 columns
  const auto d = decode(lira::encode_png(px.data(), 1, 2, 3, 2));
  CHECK(d.width == 6);
  CHECK(d.height == 4);
  CHECK(d.color == 0);
  for (uint32_t y = 0; y < 4; ++y) {
    CHECK(d.raw[y * 7] == 0);  // filter: none
    for (uint32_t x = 0; x < 6; ++x) CHECK(d.raw[y * 7 + 1 + x] == px[(y / 2) * 3 + x / 2]);
  }
}

TEST_CASE("encode_png: RGB interleaves the planes") {
  // [3, 1, 2]: red plane {10, 11}, green {20, 21}, blue {30, 31}.
  const std::vector<uint8_t> px = {10, 11, 20, 21, 30, 31};
  const auto d = decode(lira::encode_png(px.data(), 3, 1, 2));
  CHECK(d.color == 2);
  const std::vector<uint8_t> want = {0, 10, 20, 30, 11, 21, 31};
  CHECK(d.raw == want);
}

TEST_CASE("encode_png: refuses what it cannot draw") {
  const std::vector<uint8_t> px(16, 0);
  CHECK_THROWS_AS(lira::encode_png(px.data(), 2, 2, 2), std::invalid_argument);
  CHECK_THROWS_AS(lira::encode_png(px.data(), 1, 0, 2), std::invalid_argument);
  CHECK_THROWS_AS(lira::encode_png(px.data(), 1, 2, 2, 0), std::invalid_argument);
}
