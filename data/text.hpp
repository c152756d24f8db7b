// Text records for language models (docs/datasets.md): read from plain text (one record
// per line), fortune files (records separated by lines holding "%"), or JSONL (one JSON
// object per line, the record in data.text_field), and tokenized byte-level. Torch-free.
//
// A record's tokens start with kBos, so its first byte is predicted too; a record longer
// than the model's context is truncated to context - 1 bytes. Membership is per record.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lira {

// Byte-level vocabulary: 0..255 are the bytes, 256 begins a record.
inline constexpr int32_t kBos = 256;
inline constexpr int64_t kByteVocab = 257;

std::vector<int32_t> byte_tokens(const std::string& text);  // kBos, then the bytes
std::string byte_text(const std::vector<int32_t>& tokens);  // inverse (kBos dropped)

// Ragged records: record i is tokens[offsets[i], offsets[i + 1]).
struct TokenRecords {
  std::vector<int32_t> tokens;
  std::vector<int64_t> offsets{0};
  std::vector<int64_t> zlib_bytes;  // per record: len(zlib.compress(text)), MIMIR's zlib attack
  int64_t count() const { return static_cast<int64_t>(offsets.size()) - 1; }
  int64_t length(int64_t i) const { return offsets[i + 1] - offsets[i]; }
  void add(const std::string& text, int64_t max_tokens);  // byte-level
  // A record already tokenized (begin-of-record token first); `text` is what the tokens
  // decode to after truncation, for the zlib size.
  void add_tokens(std::vector<int32_t> t, int64_t max_tokens, const std::function<std::string(const std::vector<int32_t>&)>& decode);
};

// The records of every file of a format, in a fixed order (files sorted by name), empty
// records skipped. format: text | fortunes | jsonl. `path` is a file or a directory (all
// its regular files but fortune index files *.dat and *.u8). Throws DataError.
std::vector<std::string> read_text_records(const std::string& format, const std::string& path,
                                           const std::string& text_field, std::vector<std::string>* files_read);

// Pre-tokenized llm.c shards (`path`: a .bin file or a directory of them, sorted): a
// header of 256 int32 (magic 20240520, version 1, token count), then uint16 tokens. Each
// document begins with <|endoftext|> = vocab - 1; a record is one document, that token
// first. Throws DataError for a bad header, a short file or a token >= vocab.
std::vector<std::vector<int32_t>> read_llmc_records(const std::string& path, int64_t vocab,
                                                    std::vector<std::string>* files_read);

// len(zlib.compress(text)) as Python computes it (level 6).
int64_t zlib_length(const std::string& text);

}  // namespace lira
