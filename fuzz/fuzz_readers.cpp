// libFuzzer target: the dataset readers (IDX, CIFAR records, CSV). The first input byte
// picks the reader; any input must be read or refused with a DataError.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "common/errors.hpp"
#include "data/cifar.hpp"
#include "data/csv_table.hpp"
#include "data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t which = data[0] % 4;
  ++data, --size;
  try {
    switch (which) {
      case 0:
        lira::parse_idx(data, size, "fuzz.idx");
        break;
      case 1: {
        lira::Split s;
        lira::parse_cifar_records(data, size, "fuzz.bin", 1, 0, 10, s);
        break;
      }
      case 2: {
        lira::Split s;
        lira::parse_cifar_records(data, size, "fuzz.bin", 2, 1, 100, s);
        break;
      }
      default: {
        std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
        lira::parse_csv_table(in, "fuzz.csv", {size % 2 == 0, size % 3 == 0});
        break;
      }
    }
  } catch (const lira::DataError&) {
  }
  return 0;
}
