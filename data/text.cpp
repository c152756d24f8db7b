// Implements the text records.
#include "text.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/errors.hpp"

namespace lira {
namespace fs = std::filesystem;

std::vector<int32_t> byte_tokens(const std::string& text) {
  std::vector<int32_t> t;
  t.reserve(text.size() + 1);
  t.push_back(kBos);
  for (unsigned char c : text) t.push_back(c);
  return t;
}

std::string byte_text(const std::vector<int32_t>& tokens) {
  std::string s;
  for (int32_t t : tokens)
    if (t >= 0 && t < 256) s += static_cast<char>(t);
  return s;
}

int64_t zlib_length(const std::string& text) {
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  std::vector<Bytef> out(size);
  if (compress2(out.data(), &size, reinterpret_cast<const Bytef*>(text.data()), static_cast<uLong>(text.size()),
                Z_DEFAULT_COMPRESSION) != Z_OK)
    throw DataError("zlib failed to compress a record");
  return static_cast<int64_t>(size);
}

void TokenRecords::add(const std::string& text, int64_t max_tokens) { add_tokens(byte_tokens(text), max_tokens, byte_text); }

void TokenRecords::add_tokens(std::vector<int32_t> t, int64_t max_tokens,
                              const std::function<std::string(const std::vector<int32_t>&)>& decode) {
  if (max_tokens > 1 && static_cast<int64_t>(t.size()) > max_tokens) t.resize(static_cast<size_t>(max_tokens));
  tokens.insert(tokens.end(), t.begin(), t.end());
  offsets.push_back(static_cast<int64_t>(tokens.size()));
  // The text the model sees (after truncation) is what the zlib attack compares against.
  zlib_bytes.push_back(zlib_length(decode(t)));
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

void records_of(const std::string& format, const std::string& file, const std::string& field,
                std::vector<std::string>& out) {
  const auto text = read_file(file);
  if (format == "text") {
    for (auto& l : lines_of(text))
      if (!blank(l)) out.push_back(l);
  } else if (format == "fortunes") {
    std::string record;
    for (auto& l : lines_of(text)) {
      if (l == "%") {
        if (!blank(record)) out.push_back(record);
        record.clear();
      } else {
        record += (record.empty() ? "" : "\n") + l;
      }
    }
    if (!blank(record)) out.push_back(record);
  } else {  // jsonl
    int64_t line_no = 0;
    for (auto& l : lines_of(text)) {
      ++line_no;
      if (blank(l)) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(l);
      } catch (const std::exception& e) {
        throw DataError("'" + file + "' line " + std::to_string(line_no) + ": not JSON: " + e.what());
      }
      if (!j.is_object() || !j.contains(field) || !j[field].is_string())
        throw DataError("'" + file + "' line " + std::to_string(line_no) + ": no string field '" + field +
                        "' (data.text_field)");
      const auto s = j[field].get<std::string>();
      if (!blank(s)) out.push_back(s);
    }
  }
}

}  // namespace

std::vector<std::vector<int32_t>> read_llmc_records(const std::string& path, int64_t vocab,
                                                    std::vector<std::string>* files_read) {
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file(ec) && e.path().extension() == ".bin") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
  }
  if (files.empty()) throw DataError("no llm.c .bin shards at '" + path + "'; set data.path to a shard or a directory");
  const int32_t eot = static_cast<int32_t>(vocab - 1);
  std::vector<std::vector<int32_t>> records;
  for (const auto& f : files) {
    const auto bytes = read_file(f);
    int32_t header[256] = {};
    if (bytes.size() < sizeof header) throw DataError("'" + f + "' is shorter than an llm.c header (1024 bytes)");
    std::memcpy(header, bytes.data(), sizeof header);
    if (header[0] != 20240520 || header[1] != 1)
      throw DataError("'" + f + "' is not an llm.c token shard (magic " + std::to_string(header[0]) + ", version " +
                      std::to_string(header[1]) + "; want 20240520, 1)");
    const auto count = static_cast<size_t>(header[2]);
    if (bytes.size() != sizeof header + 2 * count)
      throw DataError("'" + f + "' holds " + std::to_string((bytes.size() - sizeof header) / 2) +
                      " tokens but its header says " + std::to_string(count) + ": truncated or damaged");
    for (size_t i = 0; i < count; ++i) {
      uint16_t t;
      std::memcpy(&t, bytes.data() + sizeof header + 2 * i, 2);
      if (t >= vocab)
        throw DataError("'" + f + "': token " + std::to_string(t) + " at position " + std::to_string(i) +
                        " is not below data.vocab_size " + std::to_string(vocab));
      if (t == eot || records.empty()) records.emplace_back();
      records.back().push_back(t);
    }
  }
  // A document before the first <|endoftext|> gets one, like the others.
  if (!records.empty() && records.front().front() != eot) records.front().insert(records.front().begin(), eot);
  std::erase_if(records, [](const std::vector<int32_t>& r) { return r.size() < 2; });
  if (files_read) *files_read = files;
  return records;
}

std::vector<std::string> read_text_records(const std::string& format, const std::string& path,
                                           const std::string& text_field, std::vector<std::string>* files_read) {
  if (format != "text" && format != "fortunes" && format != "jsonl")
    throw DataError("unknown text format '" + format + "'");
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec)) {
      const auto name = e.path().filename().string();
      const auto ext = e.path().extension().string();
      if (!e.is_regular_file(ec) || name.empty() || name[0] == '.') continue;
      if (format == "fortunes" && (ext == ".dat" || ext == ".u8")) continue;  // strfile's index files
      files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
  }
  if (files.empty())
    throw DataError("no " + format + " files at '" + path + "'; set data.path to a file or a directory of them" +
                    (format == "fortunes" ? " (Debian: apt-get install fortunes)" : ""));
  std::vector<std::string> records;
  for (const auto& f : files) records_of(format, f, text_field, records);
  if (files_read) *files_read = files;
  return records;
}

}  // namespace lira
