// Readers for the binary versions of CIFAR-10 and CIFAR-100
// (https://www.cs.toronto.edu/~kriz/cifar.html). Torch-free.
//
// CIFAR-10: data_batch_1.bin .. data_batch_5.bin, test_batch.bin; each record is 1 label
// byte and 3072 pixel bytes (1024 red, 1024 green, 1024 blue, rows of 32).
// CIFAR-100: train.bin, test.bin; each record is a coarse and a fine label byte, then
// the same 3072 pixel bytes.
#pragma once

#include <string>
#include <vector>

#include "dataset.hpp"

namespace lira {

// Concatenates the records of the given CIFAR-10 files. Throws DataError naming the file
// if it is missing, not a whole number of records, or has a label >= 10.
Split read_cifar10(const std::vector<std::string>& paths);

// One CIFAR-100 file; `coarse` selects the 20 superclass labels instead of the 100 fine.
Split read_cifar100(const std::string& path, bool coarse);

// Appends the records in `bytes` (a whole file's content, `name` for messages) to `out`:
// label_bytes label bytes (CIFAR-10: 1, CIFAR-100: 2), the label at label_index, then
// 3072 pixels. The readers above and the fuzzer use it.
void parse_cifar_records(const uint8_t* bytes, size_t size, const std::string& name, int64_t label_bytes,
                         int64_t label_index, int64_t classes, Split& out);

}  // namespace lira
