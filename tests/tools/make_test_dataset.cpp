// Writes a small synthetic dataset in the MNIST IDX layout into a directory, for the
// end-to-end tests: make_test_dataset DIR [TRAIN_COUNT] [TEST_COUNT]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "idx_writer.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [TRAIN_COUNT] [TEST_COUNT]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const auto train = static_cast<uint32_t>(argc > 2 ? std::atoi(argv[2]) : 600);
  const auto test = static_cast<uint32_t>(argc > 3 ? std::atoi(argv[3]) : 200);
  std::filesystem::create_directories(dir);
  lira::testing::write_synthetic_dataset(dir, train, test);
  return 0;
}
