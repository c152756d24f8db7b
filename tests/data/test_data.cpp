// Tests of the IDX reader and the dataset loader on small files the test writes itself.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../tools/idx_writer.hpp"
#include "common/config.hpp"
#include "common/errors.hpp"
#include "data/dataset.hpp"
#include "data/idx.hpp"

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

namespace {
DataConfig data_config(const std::string& path, const std::vector<std::string>& overrides = {}) {
  std::vector<std::string> ov{"data.path=" + path, "data.dataset=mnist", "queries.mirror=false"};
  ov.insert(ov.end(), overrides.begin(), overrides.end());
  return parse_config("", "test", ov).data;
}
}  // namespace

TEST_CASE("load_dataset: candidates, test split, labels, normalization") {
  TempDir dir;
  lira::testing::write_synthetic_dataset(dir.path.string(), 50, 20);
  const auto d = load_dataset(data_config(dir.path.string(), {"data.candidates=30"}));
  CHECK(d->classes == 10);
  CHECK(d->candidates.count == 30);
  CHECK(d->candidates.example_shape == std::vector<int64_t>{1, 28, 28});
  CHECK(d->candidates.pixels.size() == 30 * 28 * 28);
  CHECK(d->test.count == 20);
  CHECK(d->candidate_index.back() == 29);
  // standard: (x / 255 - 0.1307) / 0.3081 as an affine map.
  CHECK(d->scale[0] == doctest::Approx(1.0 / (255 * 0.3081)));
  CHECK(d->shift[0] == doctest::Approx(-0.1307 / 0.3081));
  CHECK(load_dataset(data_config(dir.path.string(), {"data.candidates=30", "data.test_examples=5"}))->test.count == 5);
  const auto sym = load_dataset(data_config(dir.path.string(), {"data.candidates=30", "data.normalization=symmetric"}));
  CHECK(sym->scale[0] * 255 + sym->shift[0] == doctest::Approx(1.0));
  CHECK(sym->shift[0] == doctest::Approx(-1.0));
}

TEST_CASE("load_dataset: an index range as the pool") {
  TempDir dir;
  lira::testing::write_synthetic_dataset(dir.path.string(), 50, 20);
  const auto all = load_dataset(data_config(dir.path.string(), {"data.candidates=50"}));
  const auto part = load_dataset(data_config(dir.path.string(), {"data.candidates=10", "data.candidate_offset=35"}));
  CHECK(part->candidate_index.front() == 35);
  CHECK(part->candidates.labels[0] == all->candidates.labels[35]);
  CHECK(part->candidates.pixels[5] == all->candidates.pixels[35 * 784 + 5]);
  CHECK_THROWS_WITH_AS(load_dataset(data_config(dir.path.string(), {"data.candidates=20", "data.candidate_offset=31"})),
                       doctest::Contains("has only 50 examples"), DataError);
}

TEST_CASE("load_dataset: bad inputs name the problem") {
  TempDir dir;
  lira::testing::write_synthetic_dataset(dir.path.string(), 50, 20);
  const auto path = dir.path.string();
  CHECK_THROWS_WITH_AS(load_dataset(data_config(path, {"data.candidates=51"})), doctest::Contains("has only 50 examples"),
                       DataError);
  CHECK_THROWS_WITH_AS(load_dataset(data_config(path + "/nope")), doctest::Contains("does not exist"), DataError);
  // A label outside the 10 classes.
  write_file(dir.file("train-labels-idx1-ubyte.gz"), idx_bytes({50}, std::vector<uint8_t>(50, 12)), true);
  CHECK_THROWS_WITH_AS(load_dataset(data_config(path, {"data.candidates=10"})), doctest::Contains("label 12"), DataError);
  // Image and label counts that disagree.
  write_file(dir.file("train-labels-idx1-ubyte.gz"), idx_bytes({49}, std::vector<uint8_t>(49, 1)), true);
  CHECK_THROWS_WITH_AS(load_dataset(data_config(path, {"data.candidates=10"})), doctest::Contains("49 labels"), DataError);
  fs::remove(dir.file("train-labels-idx1-ubyte.gz"));
  CHECK_THROWS_WITH_AS(load_dataset(data_config(path, {"data.candidates=10"})), doctest::Contains("train-labels-idx1-ubyte"),
                       DataError);
}

namespace {
// CIFAR records: `label_bytes` label bytes, then 3072 pixels = label + position.
std::vector<uint8_t> cifar_records(int n, int label_bytes, int first_label) {
  std::vector<uint8_t> b;
  for (int i = 0; i < n; ++i) {
    for (int l = 0; l < label_bytes; ++l) b.push_back(static_cast<uint8_t>((first_label + i + l * 3) % (l ? 100 : 10)));
    for (int p = 0; p < 3072; ++p) b.push_back(static_cast<uint8_t>(i + p));
  }
  return b;
}
}  // namespace

TEST_CASE("CIFAR-10 binary batches read back, malformed ones are refused") {
  TempDir dir;
  for (int i = 1; i <= 5; ++i) write_file(dir.file("data_batch_" + std::to_string(i) + ".bin"), cifar_records(4, 1, i), false);
  write_file(dir.file("test_batch.bin"), cifar_records(3, 1, 0), false);
  const auto d = load_dataset(data_config(dir.path.string(), {"data.dataset=cifar10", "data.candidates=20"}));
  CHECK(d->classes == 10);
  CHECK(d->candidates.example_shape == std::vector<int64_t>{3, 32, 32});
  CHECK(d->candidates.count == 20);
  CHECK(d->candidates.labels[4] == 2);  // first record of data_batch_2
  CHECK(d->candidates.pixels[4 * 3072 + 1024] == static_cast<uint8_t>(1024));  // green plane of that record
  CHECK(d->test.count == 3);
  CHECK(d->scale.size() == 3);
  // A truncated batch.
  auto bytes = cifar_records(4, 1, 1);
  bytes.pop_back();
  write_file(dir.file("data_batch_3.bin"), bytes, false);
  CHECK_THROWS_WITH_AS(load_dataset(data_config(dir.path.string(), {"data.dataset=cifar10", "data.candidates=20"})),
                       doctest::Contains("data_batch_3.bin' is not a CIFAR binary file"), DataError);
  fs::remove(dir.file("data_batch_3.bin"));
  CHECK_THROWS_WITH_AS(load_dataset(data_config(dir.path.string(), {"data.dataset=cifar10", "data.candidates=20"})),
                       doctest::Contains("data_batch_3.bin"), DataError);
}

TEST_CASE("CIFAR-100 fine and coarse labels") {
  TempDir dir;
  write_file(dir.file("train.bin"), cifar_records(6, 2, 0), false);
  write_file(dir.file("test.bin"), cifar_records(2, 2, 0), false);
  const auto fine = load_dataset(data_config(dir.path.string(), {"data.dataset=cifar100", "data.candidates=6"}));
  CHECK(fine->classes == 100);
  CHECK(fine->candidates.labels[1] == 4);  // fine label byte of record 1: (0 + 1 + 3) % 100
  const auto coarse = load_dataset(
      data_config(dir.path.string(), {"data.dataset=cifar100", "data.candidates=6", "data.cifar100_labels=coarse"}));
  CHECK(coarse->classes == 20);
  CHECK(coarse->candidates.labels[1] == 1);
  // CIFAR-10 files given as CIFAR-100: 3073-byte records are not 3074-byte records.
  write_file(dir.file("train.bin"), cifar_records(6, 1, 0), false);
  CHECK_THROWS_WITH_AS(load_dataset(data_config(dir.path.string(), {"data.dataset=cifar100", "data.candidates=6"})),
                       doctest::Contains("not a CIFAR binary file"), DataError);
}

TEST_CASE("CSV tables: label column, header, standardization, test split from the rest") {
  TempDir dir;
  {
    std::ofstream f(dir.file("train.csv"));
    f << "f1,f2,label\n";
    for (int i = 0; i < 10; ++i) f << i << ", " << 2 * i + 1 << "," << i % 3 << "\n";
  }
  const auto d = load_dataset(data_config(
      dir.path.string(), {"data.dataset=csv", "data.candidates=6", "data.csv_header=true", "model.arch=mlp"}));
  CHECK(d->classes == 3);
  CHECK(d->candidates.example_shape == std::vector<int64_t>{2});
  CHECK(d->candidates.features == std::vector<float>{0, 1, 1, 3, 2, 5, 3, 7, 4, 9, 5, 11});
  CHECK(d->candidates.labels == std::vector<int64_t>{0, 1, 2, 0, 1, 2});
  CHECK(d->test.count == 4);  // no test.csv: rows 6..9
  CHECK(d->test.labels[0] == 0);
  // standard: per feature over the pool, feature 0 has mean 2.5.
  CHECK(0 * d->scale[0] + d->shift[0] + 2.5 * d->scale[0] == doctest::Approx(0.0));
  {
    std::ofstream f(dir.file("train.csv"));
    f << "1,2,0\n3,x,1\n";
  }
  CHECK_THROWS_WITH_AS(load_dataset(data_config(dir.path.string(), {"data.dataset=csv", "data.candidates=2"})),
                       doctest::Contains("line 2 column 2: 'x' is not a finite number"), DataError);
  {
    std::ofstream f(dir.file("train.csv"));
    f << "1,2,0\n3,1\n";
  }
  CHECK_THROWS_WITH_AS(load_dataset(data_config(dir.path.string(), {"data.dataset=csv", "data.candidates=2"})),
                       doctest::Contains("line 2: 2 columns, the first row has 3"), DataError);
  {
    std::ofstream f(dir.file("train.csv"));
    f << "-1,2,0\n1,3,4\n";
  }
  CHECK_THROWS_WITH_AS(
      load_dataset(data_config(dir.path.string(), {"data.dataset=csv", "data.candidates=2", "data.csv_label=first"})),
      doctest::Contains("label '-1' is not a non-negative integer"), DataError);
}
