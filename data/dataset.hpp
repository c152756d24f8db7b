// The datasets a run trains on, loaded once per process and shared by every job.
// Torch-free: raw pixels stay uint8 and the normalization is a per-channel affine map
// (scale, shift) that the trainer applies on the device, batch by batch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "text.hpp"

namespace lira {

// One split: images (uint8 [count, C, H, W]) or table rows (float [count, F]).
struct Split {
  int64_t count = 0;
  std::vector<int64_t> example_shape;  // [C, H, W] for images, [F] for tables
  std::vector<uint8_t> pixels;         // images only
  std::vector<float> features;         // tables only
  std::vector<int64_t> labels;         // [count]
  bool is_image() const { return example_shape.size() == 3; }
  int64_t example_size() const {
    int64_t n = 1;
    for (auto d : example_shape) n *= d;
    return n;
  }
  // The examples [first, first + n) as a new split.
  Split slice(int64_t first, int64_t n) const;
};

struct Dataset {
  std::string name;
  int64_t classes = 0;
  // Normalized value = raw * scale[c] + shift[c], per channel (images) or feature (tables).
  std::vector<float> scale, shift;
  Split candidates;                       // the candidate pool, N examples
  std::vector<int64_t> candidate_index;   // their indices in the training split
  Split test;                             // the held-out examples for test accuracy
  // Text data (data.dataset text, fortunes, jsonl): the candidate records, tokenized
  // (candidates.count records, labels all 0, classes = the vocabulary), and the test records.
  std::shared_ptr<const TokenRecords> text, text_test;
  // The files read, one line each: "name size bytes fnv1a64 hash". Part of the results
  // file's fingerprint: resuming with other data is refused.
  std::string identity;
};

// The stand-in for model.arch: synthetic, which reads no data: N candidates of class 0,
// no pixels, and an identity that says so.
std::shared_ptr<const Dataset> synthetic_dataset(int64_t candidates);

// "name size bytes fnv1a64 0123abcd..." for one file (its raw bytes).
std::string file_identity(const std::string& path);

// Loads the dataset named by config (data.*). Throws DataError naming the file and the
// problem: a missing or corrupt file, labels out of range, or a candidate range beyond
// the training split.
std::shared_ptr<const Dataset> load_dataset(const DataConfig& config);

// The rules between the config and the data it read (airbench94 on 3x32x32 images only,
// defense.top_k below the number of classes, ...); throws ConfigError. Every entry point
// that trains runs it (app/run_command.hpp dataset_for), before any model.
void check_config_with_data(const Config& config, const Dataset& data);

// The names of a dataset's classes in label order (fashion-mnist, mnist, cifar10); empty
// for the others, whose labels are shown as numbers.
std::vector<std::string> class_names(const std::string& dataset);

}  // namespace lira
