// Binary logistic regression fitted by Newton's method (IRLS) with a small ridge penalty on
// the weights, for the shadow-model attack's few features. Features are standardized
// internally; predict() returns the logit w.x + b (higher = class 1).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lira {

class LogisticRegression {
 public:
  // x: rows of `features` values, row-major; y: 0/1 labels. Throws ScoreError when a
  // class is missing.
  void fit(std::span<const double> x, std::span<const uint8_t> y, int64_t features, double ridge = 1e-4,
           int max_iterations = 50);
  double predict(std::span<const double> row) const;
  // Weights and intercept on the original (unstandardized) feature scale.
  std::vector<double> weights() const;
  double intercept() const;
  int iterations() const { return iterations_; }

 private:
  std::vector<double> mean_, scale_, w_;  // w_: standardized weights, then the bias
  int iterations_ = 0;
};

}  // namespace lira
