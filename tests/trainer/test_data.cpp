// Tests of the IDX reader and the dataset loader on small files the test writes itself.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "../tools/idx_writer.hpp"
#include "common/errors.hpp"
#include "trainer/dataset.hpp"
#include "trainer/idx.hpp"

using namespace lira;
using lira::testing::idx_bytes;
using lira::testing::write_file;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("lira-data-test-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  static inline int n = 0;
};
}  // namespace

TEST_CASE("IDX files read back, plain and gzipped") {
  TempDir dir;
  const std::vector<uint8_t> data{1, 2, 3, 4, 5, 6};
  for (bool gz : {false, true}) {
    const auto path = dir.file(gz ? "a.gz" : "a");
    write_file(path, idx_bytes({2, 3}, data), gz);
    const auto a = read_idx(path);
    CHECK(a.dims == std::vector<int64_t>{2, 3});
    CHECK(a.data == data);
  }
}

TEST_CASE("malformed IDX files get errors naming the file and the problem") {
  TempDir dir;
  const auto good = idx_bytes({2, 3}, {1, 2, 3, 4, 5, 6});
  auto expect = [&](std::vector<uint8_t> bytes, const char* what, bool gz = false) {
    const auto path = dir.file("bad");
    write_file(path, bytes, gz);
    CHECK_THROWS_WITH_AS(read_idx(path), doctest::Contains(what), DataError);
    CHECK_THROWS_WITH_AS(read_idx(path), doctest::Contains(path.c_str()), DataError);
  };
  expect({good.begin(), good.end() - 1}, "truncated");
  expect({good.begin(), good.begin() + 6}, "truncated inside its IDX header");
  auto extra = good;
  extra.push_back(9);
  expect(extra, "bytes after the data");
  auto magic = good;
  magic[0] = 7;
  expect(magic, "bad magic number");
  auto type = good;
  type[2] = 0x0D;
  expect(type, "not supported");
  expect({0, 0}, "only 2 bytes");
  CHECK_THROWS_WITH_AS(read_idx(dir.file("missing")), doctest::Contains("does not exist"), DataError);
}

TEST_CASE("a gzip file cut short is reported as corrupt or truncated") {
  TempDir dir;
  std::vector<uint8_t> big(20000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 31);
  write_file(dir.file("x.gz"), idx_bytes({100, 200}, big), true);
  const auto size = fs::file_size(dir.file("x.gz"));
  fs::resize_file(dir.file("x.gz"), size / 2);
  CHECK_THROWS_AS(read_idx(dir.file("x.gz")), DataError);
}

TEST_CASE("load_dataset: candidates, test split, labels, normalization constants") {
  TempDir dir;
  lira::testing::write_synthetic_dataset(dir.path.string(), 50, 20);
  DataConfig c{"fashion-mnist", dir.path.string(), 30, 0};
  const auto d = load_dataset(c);
  CHECK(d->classes == 10);
  CHECK(d->candidates.count == 30);
  CHECK(d->candidates.height == 28);
  CHECK(d->candidates.pixels.size() == 30 * 28 * 28);
  CHECK(d->test.count == 20);
  CHECK(d->candidate_index.back() == 29);
  CHECK(d->mean.size() == 1);
  c.test_examples = 5;
  CHECK(load_dataset(c)->test.count == 5);
}

TEST_CASE("load_dataset: bad inputs name the problem") {
  TempDir dir;
  lira::testing::write_synthetic_dataset(dir.path.string(), 50, 20);
  CHECK_THROWS_WITH_AS(load_dataset({"fashion-mnist", dir.path.string(), 51, 0}),
                       doctest::Contains("has only 50 examples"), DataError);
  CHECK_THROWS_WITH_AS(load_dataset({"fashion-mnist", (dir.path / "nope").string(), 10, 0}),
                       doctest::Contains("is not a directory"), DataError);
  // A label outside the 10 classes.
  write_file(dir.file("train-labels-idx1-ubyte.gz"), idx_bytes({50}, std::vector<uint8_t>(50, 12)), true);
  CHECK_THROWS_WITH_AS(load_dataset({"fashion-mnist", dir.path.string(), 10, 0}), doctest::Contains("label 12"),
                       DataError);
  // Image and label counts that disagree.
  write_file(dir.file("train-labels-idx1-ubyte.gz"), idx_bytes({49}, std::vector<uint8_t>(49, 1)), true);
  CHECK_THROWS_WITH_AS(load_dataset({"fashion-mnist", dir.path.string(), 10, 0}), doctest::Contains("49 labels"),
                       DataError);
  fs::remove(dir.file("train-labels-idx1-ubyte.gz"));
  CHECK_THROWS_WITH_AS(load_dataset({"fashion-mnist", dir.path.string(), 10, 0}),
                       doctest::Contains("train-labels-idx1-ubyte"), DataError);
}
