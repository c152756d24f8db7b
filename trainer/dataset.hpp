// The image datasets a run trains on, loaded once per process and shared by every job.
// Torch-free: pixels stay uint8 here; the trainer normalizes them into tensors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.hpp"

namespace lira {

struct ImageSet {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // [count, channels, height, width]
  std::vector<int64_t> labels;  // [count], each in [0, classes)
};

struct Dataset {
  std::string name;
  int64_t classes = 0;
  std::vector<double> mean, stddev;  // per channel, applied to pixels / 255
  ImageSet candidates;               // the first data.candidates training examples
  std::vector<int64_t> candidate_index;  // their indices in the training split
  ImageSet test;                     // the test examples used for test accuracy
};

// Loads the dataset named by config.data. Throws DataError naming the file and the
// problem: a missing or corrupt file, labels out of range, or fewer training examples
// than data.candidates.
std::shared_ptr<const Dataset> load_dataset(const DataConfig& config);

}  // namespace lira
