// Writes the corpus of broken datasets that tests/e2e/bad_corpus.sh feeds to `lira run`:
// one directory per case under DIR, and DIR/cases.txt with one line per case:
//   directory|data.dataset|data.candidates|text the error must contain|another one
// and DIR/cifar10_small, a well-formed CIFAR-10 of 200 training images.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "idx_writer.hpp"

namespace fs = std::filesystem;
using lira::testing::idx_bytes;
using lira::testing::write_file;

namespace {

std::string g_root;
std::ofstream g_cases;

std::string make_case(const std::string& name, const std::string& dataset, int candidates, const std::string& expect1,
                      const std::string& expect2) {
  const std::string dir = g_root + "/" + name;
  fs::create_directories(dir);
  g_cases << name << "|" << dataset << "|" << candidates << "|" << expect1 << "|" << expect2 << "\n";
  return dir;
}

std::vector<uint8_t> cifar(int n, int label_bytes, int bad_label_at = -1) {
  std::vector<uint8_t> b;
  for (int i = 0; i < n; ++i) {
    for (int l = 0; l < label_bytes; ++l) b.push_back(i == bad_label_at ? 11 : static_cast<uint8_t>(i % 10));
    for (int p = 0; p < 3072; ++p) b.push_back(static_cast<uint8_t>(i + p));
  }
  return b;
}

void write_cifar10(const std::string& dir, int per_batch, int bad_label_at = -1) {
  for (int k = 1; k <= 5; ++k)
    write_file(dir + "/data_batch_" + std::to_string(k) + ".bin", cifar(per_batch, 1, k == 3 ? bad_label_at : -1), false);
  write_file(dir + "/test_batch.bin", cifar(per_batch, 1), false);
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  fs::create_directories(g_root);
  g_cases.open(g_root + "/cases.txt");

  // IDX (MNIST layout)
  auto d = make_case("idx_truncated_gzip", "mnist", 100, "train-images-idx3-ubyte.gz", "truncated");
  lira::testing::write_synthetic_dataset(d, 200, 50);
  fs::resize_file(d + "/train-images-idx3-ubyte.gz", fs::file_size(d + "/train-images-idx3-ubyte.gz") / 2);

  d = make_case("idx_short_data", "mnist", 100, "train-images-idx3-ubyte", "is truncated: its header promises");
  lira::testing::write_synthetic_dataset(d, 200, 50);
  {
    auto bytes = idx_bytes({200, 28, 28}, std::vector<uint8_t>(200 * 784 - 10, 7));
    fs::remove(d + "/train-images-idx3-ubyte.gz");
    write_file(d + "/train-images-idx3-ubyte", bytes, false);
  }
  d = make_case("idx_bad_magic", "mnist", 100, "train-labels-idx1-ubyte.gz", "bad magic number");
  lira::testing::write_synthetic_dataset(d, 200, 50);
  write_file(d + "/train-labels-idx1-ubyte.gz", {1, 2, 3, 4, 5, 6, 7, 8, 9}, true);

  d = make_case("idx_label_out_of_range", "mnist", 100, "train-labels-idx1-ubyte.gz", "label 12");
  lira::testing::write_synthetic_dataset(d, 200, 50);
  write_file(d + "/train-labels-idx1-ubyte.gz", idx_bytes({200}, std::vector<uint8_t>(200, 12)), true);

  d = make_case("idx_count_mismatch", "mnist", 100, "train-labels-idx1-ubyte.gz", "199 labels");
  lira::testing::write_synthetic_dataset(d, 200, 50);
  write_file(d + "/train-labels-idx1-ubyte.gz", idx_bytes({199}, std::vector<uint8_t>(199, 1)), true);

  d = make_case("idx_trailing_bytes", "mnist", 100, "t10k-labels-idx1-ubyte.gz", "bytes after the data");
  lira::testing::write_synthetic_dataset(d, 200, 50);
  {
    auto bytes = idx_bytes({50}, std::vector<uint8_t>(50, 1));
    bytes.push_back(0);
    write_file(d + "/t10k-labels-idx1-ubyte.gz", bytes, true);
  }
  d = make_case("idx_missing_test", "mnist", 100, "t10k-images-idx3-ubyte", "set data.path");
  lira::testing::write_synthetic_dataset(d, 200, 50);
  fs::remove(d + "/t10k-images-idx3-ubyte.gz");

  d = make_case("idx_not_enough_examples", "mnist", 300, "data.candidates", "has only 200 examples");
  lira::testing::write_synthetic_dataset(d, 200, 50);

  d = make_case("idx_wrong_rank", "mnist", 100, "train-images-idx3-ubyte.gz", "must hold images");
  lira::testing::write_synthetic_dataset(d, 200, 50);
  write_file(d + "/train-images-idx3-ubyte.gz", idx_bytes({200, 784}, std::vector<uint8_t>(200 * 784, 1)), true);

  // CIFAR binary. A well-formed one first (200 training images), for the cases where the
  // config, not the data, is wrong (not in cases.txt: bad_corpus.sh uses it by name).
  fs::create_directories(g_root + "/cifar10_small");
  write_cifar10(g_root + "/cifar10_small", 40);

  d = make_case("cifar10_truncated", "cifar10", 100, "data_batch_2.bin", "not a CIFAR binary file");
  write_cifar10(d, 40);
  fs::resize_file(d + "/data_batch_2.bin", 3073 * 40 - 100);

  d = make_case("cifar10_label_out_of_range", "cifar10", 100, "data_batch_3.bin", "label 11");
  write_cifar10(d, 40, 5);

  d = make_case("cifar100_given_cifar10_files", "cifar100", 100, "train.bin", "not a CIFAR binary file");
  write_file(d + "/train.bin", cifar(40, 1), false);
  write_file(d + "/test.bin", cifar(10, 1), false);

  d = make_case("cifar10_missing_batch", "cifar10", 100, "data_batch_4.bin", "is not in");
  write_cifar10(d, 40);
  fs::remove(d + "/data_batch_4.bin");

  // CSV
  d = make_case("csv_not_a_number", "csv", 3, "train.csv' line 3 column 2", "'abc' is not a finite number");
  write_text(d + "/train.csv", "1,2,0\n3,4,1\n5,abc,0\n7,8,1\n");
  d = make_case("csv_ragged_row", "csv", 3, "train.csv' line 2", "2 columns, the first row has 3");
  write_text(d + "/train.csv", "1,2,0\n3,1\n5,6,0\n");
  d = make_case("csv_negative_label", "csv", 3, "train.csv' line 1 column 3", "is not a non-negative integer");
  write_text(d + "/train.csv", "1,2,-1\n3,4,1\n5,6,0\n7,8,1\n");
  d = make_case("csv_empty", "csv", 3, "train.csv", "has no data rows");
  write_text(d + "/train.csv", "\n\n");
  d = make_case("csv_single_class", "csv", 3, "train.csv", "single class");
  write_text(d + "/train.csv", "1,2,0\n3,4,0\n5,6,0\n7,8,0\n");
  return 0;
}
