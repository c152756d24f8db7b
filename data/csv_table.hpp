// Reader for tabular datasets distributed as CSV (Purchase-100, Texas-100, ...): one row
// per example, numeric features and one integer label column. Torch-free.
#pragma once

#include <istream>
#include <string>

#include "dataset.hpp"

namespace lira {

struct CsvFormat {
  bool label_first = false;  // label in the first column (else the last)
  bool header = false;       // skip the first line
};

// Rows of `path` as a table split: features float [count, F], labels int64 >= 0.
// Throws DataError naming the file, line and column of the first malformed value,
// a row of the wrong width, or a negative or non-integer label.
Split read_csv_table(const std::string& path, const CsvFormat& format);

// The same from a stream; `name` names it in messages (the reader above and the fuzzer).
Split parse_csv_table(std::istream& in, const std::string& name, const CsvFormat& format);

}  // namespace lira
