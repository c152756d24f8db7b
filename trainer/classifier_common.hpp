// What the classifier task (classifier_task.cpp) uses beside its models: the splits as
// tensors on the device, and a model's signals from its logits.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "common/config.hpp"
#include "common/results_layout.hpp"
#include "common/signal.hpp"
#include "data/dataset.hpp"

namespace lira {

// Evaluation batch (candidates under a query, the test split).
constexpr int64_t kEvalBatch = 1024;
// airbench's whitening layer is initialized from the first this-many IN examples.
constexpr int64_t kWhiteningSample = 5000;

// A split's raw data on the device, owning its memory: uint8 images or float features
// [count, example_shape...].
torch::Tensor raw_tensor(const Split& s, torch::Device device);
// A split's labels, int64 [count], on the device.
torch::Tensor label_tensor(const Split& s, torch::Device device);

// A classifier's data on the device: the candidates and the test split, raw, with their
// labels, and the dataset's normalization (per channel for images, per feature else).
struct ClassifierData {
  ClassifierData(const Dataset& d, torch::Device device);
  // raw -> raw in `dtype`, times scale, plus shift
  torch::Tensor normalize(const torch::Tensor& raw, torch::ScalarType dtype) const {
    return raw.to(dtype).mul_(scale).add_(shift);
  }
  bool images = true;
  torch::Tensor x, y, x_test, y_test, scale, shift;
};

// One model's signal arrays (logit-scaled confidence, loss, and as configured the
// probability statistics and the logits), filled query by query from its logits. A
// defended model's signals come from what it releases (defense.*).
class SignalCollector {
 public:
  SignalCollector(const Config& config, const std::vector<int64_t>& labels, int64_t classes, int64_t queries);
  // z: the logits [N, classes] of every candidate under query q, float32, contiguous, on
  // the CPU. Query 0 also gives the training accuracy on the IN candidates of `keep`.
  void add(int64_t q, const torch::Tensor& z, const std::vector<uint8_t>& keep);
  // Moves the arrays and the training accuracy into `result`.
  void finish(ModelResult& result);

 private:
  const std::vector<int64_t>& labels_;
  int64_t n_, a_, classes_;
  bool probabilities_, logits_;
  ReleasePolicy release_;
  SignalArray conf_, loss_, max_prob_, entropy_, all_logits_;
  std::vector<double> released_;
  double train_accuracy_ = 0;
};

}  // namespace lira
