// Implements the CSV reader: strict parsing, every error located.
#include "csv_table.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/errors.hpp"

namespace lira {
namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

Split read_csv_table(const std::string& path, const CsvFormat& format) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw DataError("dataset file '" + path + "' does not exist or is not a regular file");
  std::ifstream in(path);
  if (!in) throw DataError("cannot open dataset file '" + path + "': " + std::strerror(errno));
  return parse_csv_table(in, path, format);
}

Split parse_csv_table(std::istream& in, const std::string& path, const CsvFormat& format) {
  Split s;
  int64_t width = -1;
  std::string line;
  int64_t line_no = 0;
  std::vector<std::string> cells;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1 && format.header) continue;
    if (trim(line).empty()) continue;
    cells.clear();
    size_t start = 0;
    for (;;) {
      const size_t comma = line.find(',', start);
      cells.push_back(trim(std::string_view(line).substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    const auto where = "'" + path + "' line " + std::to_string(line_no);
    if (cells.size() < 2) throw DataError(where + ": needs at least one feature and a label");
    if (width < 0) width = static_cast<int64_t>(cells.size());
    if (static_cast<int64_t>(cells.size()) != width)
      throw DataError(where + ": " + std::to_string(cells.size()) + " columns, the first row has " +
                      std::to_string(width));
    const size_t label_col = format.label_first ? 0 : cells.size() - 1;
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string& cell = cells[c];
      if (c == label_col) {
        int64_t label = -1;
        auto r = std::from_chars(cell.data(), cell.data() + cell.size(), label);
        if (r.ec != std::errc() || r.ptr != cell.data() + cell.size() || label < 0)
          throw DataError(where + " column " + std::to_string(c + 1) + ": label '" + cell +
                          "' is not a non-negative integer");
        s.labels.push_back(label);
      } else {
        char* end = nullptr;
        errno = 0;
        const float v = std::strtof(cell.c_str(), &end);
        if (cell.empty() || end != cell.c_str() + cell.size() || errno == ERANGE || !std::isfinite(v))
          throw DataError(where + " column " + std::to_string(c + 1) + ": '" + cell + "' is not a finite number");
        s.features.push_back(v);
      }
    }
    ++s.count;
  }
  if (in.bad()) throw DataError("cannot read dataset file '" + path + "'");
  if (s.count == 0) throw DataError("'" + path + "' has no data rows");
  s.example_shape = {width - 1};
  return s;
}

}  // namespace lira
