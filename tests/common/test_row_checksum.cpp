// The row checksum: fed in pieces it equals the whole row's (how readers that stream
// candidate blocks verify a row), and it changes with any one value, order included.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "common/row_checksum.hpp"

using namespace lira;

TEST_CASE("a row checksum fed in blocks of any size equals the whole row's, and any change shows") {
  std::vector<float> row(1001);
  for (size_t i = 0; i < row.size(); ++i) row[i] = std::sin(static_cast<float>(i)) * 10;
  const uint64_t whole = RowChecksum::of(row.data(), row.size());
  CHECK(whole != 0);
  for (size_t block : {1, 2, 3, 7, 64, 1000}) {
    RowChecksum c;
    for (size_t i = 0; i < row.size(); i += block) c.update(row.data() + i, std::min(block, row.size() - i));
    CHECK(c.value() == whole);
  }
  auto changed = row;
  changed[500] = std::nextafter(changed[500], 100.0f);  // one bit
  CHECK(RowChecksum::of(changed.data(), changed.size()) != whole);
  auto swapped = row;
  std::swap(swapped[3], swapped[4]);
  CHECK(RowChecksum::of(swapped.data(), swapped.size()) != whole);
  CHECK(RowChecksum::of(row.data(), row.size() - 1) != whole);  // a shorter row
  const std::vector<float> nan_row(8, NAN);  // the fill of a row never written
  CHECK(RowChecksum::of(nan_row.data(), nan_row.size()) != 0);
}
