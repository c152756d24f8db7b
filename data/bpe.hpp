// GPT-2-style byte-level byte-pair encoding from a user's vocab.json and merges.txt (the
// files of any GPT-2 tokenizer). Torch-free.
//
// Text is split into pre-tokens as GPT-2's pattern does ('s|'t|'re|'ve|'m|'ll|'d|
// ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+), each pre-token's bytes are mapped to
// GPT-2's printable stand-ins, and the merges are applied lowest rank first. Exact for
// ASCII text; bytes >= 0x80 count as letters (GPT-2 asks Unicode, so a non-ASCII
// punctuation mark or digit may split differently). Decoding is exact for any bytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace lira {

class BpeTokenizer {
 public:
  // Throws DataError naming the file for a missing or malformed vocabulary or merges file,
  // or a vocabulary that lacks one of the 256 byte symbols.
  BpeTokenizer(const std::string& vocab_json, const std::string& merges_txt);

  std::vector<int32_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int32_t>& tokens) const;  // unknown ids are skipped
  int64_t vocab_size() const { return static_cast<int64_t>(id_to_bytes_.size()); }
  // The id of "<|endoftext|>" (GPT-2: 50256), or -1 when the vocabulary has none.
  int32_t end_of_text() const { return eot_; }

  // GPT-2's pre-tokenization, as byte ranges of `text`.
  static std::vector<std::string> pretokenize(const std::string& text);

 private:
  std::vector<int32_t> encode_word(const std::string& word) const;

  std::unordered_map<std::string, int32_t> token_to_id_;  // stand-in string -> id
  std::vector<std::string> id_to_bytes_;                 // id -> raw bytes
  std::map<std::pair<std::string, std::string>, int32_t> ranks_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;  // pre-token -> ids (one thread)
  std::string byte_symbol_[256];  // byte -> its stand-in (UTF-8)
  int32_t eot_ = -1;
};

}  // namespace lira
