// Writes a small synthetic dataset into a directory, for the end-to-end tests and the
// GPU benchmarks: make_test_dataset DIR [TRAIN_COUNT] [TEST_COUNT] [idx|cifar10]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "idx_writer.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [TRAIN_COUNT] [TEST_COUNT] [idx|cifar10]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const auto train = static_cast<uint32_t>(argc > 2 ? std::atoi(argv[2]) : 600);
  const auto test = static_cast<uint32_t>(argc > 3 ? std::atoi(argv[3]) : 200);
  std::filesystem::create_directories(dir);
  const std::string format = argc > 4 ? argv[4] : "idx";
  if (format == "cifar10") {
    lira::testing::write_synthetic_cifar10(dir, train, test);
  } else if (format == "idx") {
    lira::testing::write_synthetic_dataset(dir, train, test);
  } else {
    std::fprintf(stderr, "unknown format '%s': idx or cifar10\n", format.c_str());
    return 2;
  }
  return 0;
}
