// Implements the byte-level BPE tokenizer.
#include "bpe.hpp"

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/errors.hpp"

namespace lira {
namespace {

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }
bool is_other(unsigned char c) { return !is_space(c) && !is_digit(c) && !is_letter(c); }

// UTF-8 characters of s.
std::vector<std::string> characters(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace

std::vector<std::string> BpeTokenizer::pretokenize(const std::string& s) {
  std::vector<std::string> out;
  const size_t n = s.size();
  auto at = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  for (size_t i = 0; i < n;) {
    if (s[i] == '\'') {
      bool matched = false;
      for (const char* c : {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) {
        const std::string k = c;
        if (s.compare(i, k.size(), k) == 0) {
          out.push_back(k);
          i += k.size();
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    const size_t j = i + (s[i] == ' ' ? 1 : 0);
    size_t k = j;
    if (j < n && is_letter(at(j))) {
      while (k < n && is_letter(at(k))) ++k;
    } else if (j < n && is_digit(at(j))) {
      while (k < n && is_digit(at(k))) ++k;
    } else if (j < n && is_other(at(j))) {
      while (k < n && is_other(at(k))) ++k;
    } else {
      // Whitespace: a run followed by a non-space leaves its last character to the next
      // pre-token (\s+(?!\S)); a single one, or a run at the end, stands alone (\s+).
      k = i;
      while (k < n && is_space(at(k))) ++k;
      if (k < n && k - i > 1) --k;
    }
    out.push_back(s.substr(i, k - i));
    i = k;
  }
  return out;
}

BpeTokenizer::BpeTokenizer(const std::string& vocab_json, const std::string& merges_txt) {
  // GPT-2's byte stand-ins: printable bytes are themselves, the rest 256, 257, ...
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    byte_symbol_[b] = utf8(printable ? static_cast<uint32_t>(b) : next++);
  }
  std::unordered_map<std::string, int> symbol_byte;
  for (int b = 0; b < 256; ++b) symbol_byte[byte_symbol_[b]] = b;

  std::ifstream vf(vocab_json);
  if (!vf) throw DataError("cannot read the BPE vocabulary '" + vocab_json + "' (data.bpe_vocab)");
  nlohmann::json vocab;
  try {
    vf >> vocab;
  } catch (const std::exception& e) {
    throw DataError("'" + vocab_json + "' is not JSON: " + e.what());
  }
  if (!vocab.is_object()) throw DataError("'" + vocab_json + "' must map token strings to ids");
  int64_t max_id = -1;
  for (auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > std::numeric_limits<int32_t>::max())
      throw DataError("'" + vocab_json + "': token '" + token + "' has no valid id");
    max_id = std::max(max_id, id.get<int64_t>());
    token_to_id_[token] = static_cast<int32_t>(id.get<int64_t>());
  }
  id_to_bytes_.assign(static_cast<size_t>(max_id + 1), std::string());
  for (const auto& [token, id] : token_to_id_) {
    if (token == "<|endoftext|>") {
      eot_ = id;
      continue;
    }
    std::string bytes;
    for (const auto& ch : characters(token)) {
      const auto it = symbol_byte.find(ch);
      if (it == symbol_byte.end()) {
        bytes.clear();
        break;  // a special token: decodes to nothing
      }
      bytes += static_cast<char>(it->second);
    }
    id_to_bytes_[static_cast<size_t>(id)] = bytes;
  }
  for (int b = 0; b < 256; ++b)
    if (!token_to_id_.count(byte_symbol_[b]))
      throw DataError("'" + vocab_json + "' lacks the symbol of byte " + std::to_string(b) +
                      ": not a byte-level BPE vocabulary");

  std::ifstream mf(merges_txt);
  if (!mf) throw DataError("cannot read the BPE merges '" + merges_txt + "' (data.bpe_merges)");
  std::string line;
  int32_t rank = 0;
  int64_t line_no = 0;
  while (std::getline(mf, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    const auto space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 >= line.size())
      throw DataError("'" + merges_txt + "' line " + std::to_string(line_no) + ": expected two symbols");
    ranks_.emplace(std::make_pair(line.substr(0, space), line.substr(space + 1)), rank++);
  }
}

std::vector<int32_t> BpeTokenizer::encode_word(const std::string& word) const {
  std::vector<std::string> parts;
  for (unsigned char c : word) parts.push_back(byte_symbol_[c]);
  while (parts.size() > 1) {
    int32_t best = std::numeric_limits<int32_t>::max();
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      const auto it = ranks_.find({parts[i], parts[i + 1]});
      if (it != ranks_.end() && it->second < best) best = it->second, at = i;
    }
    if (best == std::numeric_limits<int32_t>::max()) break;
    // Merge every occurrence of the best pair, left to right.
    const std::string a = parts[at], b = parts[at + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < parts.size();) {
      if (i + 1 < parts.size() && parts[i] == a && parts[i + 1] == b) {
        merged.push_back(a + b);
        i += 2;
      } else {
        merged.push_back(parts[i++]);
      }
    }
    parts = std::move(merged);
  }
  std::vector<int32_t> ids;
  for (const auto& p : parts) {
    const auto it = token_to_id_.find(p);
    if (it != token_to_id_.end()) {
      ids.push_back(it->second);
    } else {
      // A merge whose result is not in the vocabulary: fall back to its bytes.
      for (const auto& ch : characters(p)) ids.push_back(token_to_id_.at(ch));
    }
  }
  return ids;
}

std::vector<int32_t> BpeTokenizer::encode(const std::string& text) const {
  std::vector<int32_t> ids;
  for (const auto& w : pretokenize(text)) {
    auto it = cache_.find(w);
    if (it == cache_.end()) it = cache_.emplace(w, encode_word(w)).first;
    ids.insert(ids.end(), it->second.begin(), it->second.end());
  }
  return ids;
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& tokens) const {
  std::string s;
  for (int32_t t : tokens)
    if (t >= 0 && static_cast<size_t>(t) < id_to_bytes_.size()) s += id_to_bytes_[static_cast<size_t>(t)];
  return s;
}

}  // namespace lira
