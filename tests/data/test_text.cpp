// Text records: the byte tokenizer, the three text formats, truncation, zlib sizes as
// Python computes them, and the text dataset's pool and test split.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/errors.hpp"
#include "data/dataset.hpp"
#include "data/bpe.hpp"
#include "data/text.hpp"

using namespace lira;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("lira-text-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return (path / name).string();
  }
};

}  // namespace

TEST_CASE("byte tokens round-trip any bytes, behind a begin-of-record token") {
  const std::string s = std::string("caf\xc3\xa9 \x00\xff\n\t", 10) + "end";
  const auto t = byte_tokens(s);
  REQUIRE(t.size() == s.size() + 1);
  CHECK(t[0] == kBos);
  CHECK(t[4] == 0xc3);
  CHECK(t[7] == 0);
  CHECK(t[8] == 0xff);
  CHECK(byte_text(t) == s);
}

TEST_CASE("zlib sizes equal Python's len(zlib.compress(text))") {
  CHECK(zlib_length("Hello, hello, hello: zlib compresses repeats.") == 43);
  CHECK(zlib_length("\"If it ain't broke, don't fix it.\"\n\t\t-- Bert Lantz") == 54);
}

TEST_CASE("fortune files, plain lines and JSONL give their records in file order") {
  TempDir d;
  d.write("b", "second file\n%\n");
  d.write("a", "one\n  -- A\n%\n%\ntwo\n%\nthree");
  d.write("a.dat", "binary index");
  std::vector<std::string> files;
  const auto f = read_text_records("fortunes", d.path.string(), "text", &files);
  CHECK(f == std::vector<std::string>{"one\n  -- A", "two", "three", "second file"});
  CHECK(files.size() == 2);  // a.dat, strfile's index, is skipped
  fs::remove(d.path / "a"), fs::remove(d.path / "b"), fs::remove(d.path / "a.dat");
  const auto plain = d.write("p.txt", "x\n\n  \ny z\r\n");
  CHECK(read_text_records("text", plain, "text", nullptr) == std::vector<std::string>{"x", "y z"});
  const auto jl = d.write("j.jsonl", "{\"text\": \"a\\nb\", \"n\": 1}\n\n{\"body\": \"c\", \"text\": \"d\"}\n");
  CHECK(read_text_records("jsonl", jl, "text", nullptr) == std::vector<std::string>{"a\nb", "d"});
  CHECK_THROWS_WITH_AS(read_text_records("jsonl", jl, "body", nullptr), doctest::Contains("line 1: no string field 'body'"),
                       DataError);
  const auto bad = d.write("bad.jsonl", "{\"text\": \"ok\"}\nnot json\n");
  CHECK_THROWS_WITH_AS(read_text_records("jsonl", bad, "text", nullptr), doctest::Contains("line 2: not JSON"), DataError);
  CHECK_THROWS_AS(read_text_records("fortunes", (d.path / "missing").string(), "text", nullptr), DataError);
}

TEST_CASE("records are truncated to max_tokens and the pool and the test records do not overlap") {
  TokenRecords r;
  r.add("abcdef", 4);
  r.add("xy", 4);
  CHECK(r.count() == 2);
  CHECK(r.offsets == std::vector<int64_t>{0, 4, 7});
  CHECK(byte_text({r.tokens.begin(), r.tokens.begin() + 4}) == "abc");
  CHECK(r.zlib_bytes[0] == zlib_length("abc"));

  TempDir d;
  std::string text;
  for (int i = 0; i < 30; ++i) text += "fortune number " + std::to_string(i) + "\n%\n";
  d.write("f", text);
  DataConfig c;
  c.dataset = "fortunes";
  c.path = d.path.string();
  c.candidates = 20;
  c.candidate_offset = 5;
  c.test_examples = 8;
  c.max_tokens = 12;
  const auto data = load_dataset(c);
  REQUIRE(data->text);
  CHECK(data->classes == kByteVocab);
  CHECK(data->candidates.count == 20);
  CHECK(data->text->count() == 20);
  CHECK(data->text_test->count() == 8);  // records 25..29, then 4..2
  CHECK(byte_text({data->text->tokens.begin(), data->text->tokens.begin() + data->text->offsets[1]}) == "fortune num");
  CHECK(data->candidate_index.front() == 5);
  c.candidates = 40;
  CHECK_THROWS_WITH_AS(load_dataset(c), doctest::Contains("holds 30 fortunes records"), DataError);
}

namespace {

// GPT-2's printable stand-in of each byte, as UTF-8 (the vocabulary's alphabet).
std::string stand_in(int b) {
  static std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    uint32_t next = 256;
    for (int x = 0; x < 256; ++x) {
      const bool printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255);
      const uint32_t cp = printable ? static_cast<uint32_t>(x) : next++;
      std::string s;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
      t[x] = s;
    }
    return t;
  }();
  return table[static_cast<size_t>(b)];
}

// A tiny byte-level BPE vocabulary: the 256 byte symbols (ids 0..255 by byte), four
// merges (Ġ t, h e, Ġt he, i n -> ids 256..259) and <|endoftext|> (260).
std::pair<std::string, std::string> write_tiny_bpe(const TempDir& d) {
  std::string vocab = "{";
  for (int b = 0; b < 256; ++b) {
    std::string key;
    for (unsigned char c : stand_in(b)) {
      if (c == '"' || c == '\\') key += '\\';
      key += static_cast<char>(c);
    }
    vocab += "\"" + key + "\": " + std::to_string(b) + ",";
  }
  const std::string G = stand_in(' ');  // "Ġ"
  vocab += "\"" + G + "t\": 256, \"he\": 257, \"" + G + "the\": 258, \"in\": 259, \"<|endoftext|>\": 260}";
  return {d.write("vocab.json", vocab), d.write("merges.txt", "#version: 0.2\n" + G + " t\nh e\n" + G + "t he\ni n\n")};
}

}  // namespace

TEST_CASE("GPT-2 pre-tokenization: contractions, words with their space, digits, punctuation, whitespace runs") {
  using V = std::vector<std::string>;
  CHECK(BpeTokenizer::pretokenize("Hello world's 123 test!!  \n x") ==
        V{"Hello", " world", "'s", " 123", " test", "!!", "  \n", " x"});
  CHECK(BpeTokenizer::pretokenize("the thin in the\n\nend") == V{"the", " thin", " in", " the", "\n", "\n", "end"});
  CHECK(BpeTokenizer::pretokenize("I'll go 'now'  ") == V{"I", "'ll", " go", " '", "now", "'", "  "});
  CHECK(BpeTokenizer::pretokenize("a\tb") == V{"a", "\t", "b"});
  CHECK(BpeTokenizer::pretokenize("") == V{});
}

TEST_CASE("BPE on a tiny vocabulary: merges by rank, exact round trips, clear errors") {
  TempDir d;
  const auto [vpath, mpath] = write_tiny_bpe(d);
  const BpeTokenizer bpe(vpath, mpath);
  CHECK(bpe.vocab_size() == 261);
  CHECK(bpe.end_of_text() == 260);
  const auto ids = bpe.encode("the thin in the");
  // "the" -> t, he;  " thin" -> Ġt, h, in;  " in" -> Ġ, in;  " the" -> Ġthe
  CHECK(ids == std::vector<int32_t>{'t', 257, 256, 'h', 259, ' ', 259, 258});
  CHECK(bpe.decode(ids) == "the thin in the");
  // Any bytes round-trip, including invalid UTF-8 and control characters.
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  all += " the\xff\xfe in\r\n\x01";
  CHECK(bpe.decode(bpe.encode(all)) == all);
  CHECK_THROWS_WITH_AS(BpeTokenizer(d.write("v2.json", "{\"a\": 0}"), mpath), doctest::Contains("lacks the symbol of byte 0"),
                       DataError);
  CHECK_THROWS_WITH_AS(BpeTokenizer(vpath, d.write("m2.txt", "#version\nabc\n")), doctest::Contains("line 2"), DataError);
  CHECK_THROWS_AS(BpeTokenizer((d.path / "none.json").string(), mpath), DataError);
}

TEST_CASE("a text dataset with the BPE tokenizer: <|endoftext|> first, the vocabulary as classes") {
  TempDir d;
  const auto [vpath, mpath] = write_tiny_bpe(d);
  fs::create_directories(d.path / "text");
  std::ofstream(d.path / "text" / "lines.txt") << "the thin in the\nin the end\nthe\nthin\n";
  DataConfig c;
  c.dataset = "text";
  c.path = (d.path / "text").string();
  c.candidates = 2;
  c.test_examples = 2;
  c.max_tokens = 6;
  c.tokenizer = "bpe";
  c.bpe_vocab = vpath;
  c.bpe_merges = mpath;
  const auto data = load_dataset(c);
  CHECK(data->classes == 261);
  const auto& t = *data->text;
  // "the thin in the" -> EOT t he Ġt h in Ġ in Ġthe, truncated to 6 tokens.
  CHECK(std::vector<int32_t>(t.tokens.begin(), t.tokens.begin() + t.offsets[1]) ==
        std::vector<int32_t>{260, 't', 257, 256, 'h', 259});
  CHECK(t.zlib_bytes[0] == zlib_length("the thin"));
  CHECK(data->identity.find("vocab.json") != std::string::npos);  // the tokenizer is part of the fingerprint
}

TEST_CASE("llm.c token shards: documents split at <|endoftext|>, header and tokens checked") {
  TempDir d;
  auto shard = [&](const std::string& name, std::vector<uint16_t> tokens, int32_t magic = 20240520, int32_t extra = 0) {
    int32_t header[256] = {};
    header[0] = magic, header[1] = 1, header[2] = static_cast<int32_t>(tokens.size()) + extra;
    std::string bytes(reinterpret_cast<const char*>(header), sizeof header);
    bytes.append(reinterpret_cast<const char*>(tokens.data()), tokens.size() * 2);
    return d.write(name, bytes);
  };
  const auto good = shard("a.bin", {7, 50256, 10, 11, 50256, 12, 13, 14, 50256, 15, 50256});
  const auto r = read_llmc_records(good, 50257, nullptr);
  REQUIRE(r.size() == 4);
  CHECK(r[0] == std::vector<int32_t>{50256, 7});  // a leading document gets its <|endoftext|>
  CHECK(r[1] == std::vector<int32_t>{50256, 10, 11});
  CHECK(r[2] == std::vector<int32_t>{50256, 12, 13, 14});
  CHECK(r[3] == std::vector<int32_t>{50256, 15});  // the trailing lone <|endoftext|> is no record
  CHECK_THROWS_WITH_AS(read_llmc_records(shard("m.bin", {1}, 1234), 50257, nullptr), doctest::Contains("magic 1234"),
                       DataError);
  CHECK_THROWS_WITH_AS(read_llmc_records(shard("t.bin", {1, 2}, 20240520, 5), 50257, nullptr),
                       doctest::Contains("truncated"), DataError);
  CHECK_THROWS_WITH_AS(read_llmc_records(shard("v.bin", {50256, 60000}), 50257, nullptr),
                       doctest::Contains("token 60000 at position 1"), DataError);
  DataConfig c;
  c.dataset = "llmc";
  c.path = good;
  c.candidates = 2;
  c.candidate_offset = 1;
  c.test_examples = 1;
  c.max_tokens = 3;
  c.vocab_size = 50257;
  c.tokenizer = "byte";
  const auto data = load_dataset(c);
  CHECK(data->classes == 50257);
  CHECK(data->text->tokens == std::vector<int32_t>{50256, 10, 11, 50256, 12, 13});  // truncated to 3
  CHECK(data->text_test->count() == 1);
}
