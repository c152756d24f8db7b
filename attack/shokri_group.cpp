// The shadow-model classifier (Shokri et al. 2017): per (model, candidate) features --
// mean loss and mean logit-scaled confidence over the queries, plus the mean max
// probability and entropy when the file has /signals/max_probability and /signals/entropy
// -- from reference models with known membership train a logistic regression (one for all
// classes, on a seeded sample of at most --shokri-samples pairs), which then scores the
// targets' features. Pass 1 draws the sample; pass 2 applies the classifier.
#include <algorithm>
#include <cmath>
#include <string>

#include "attacks.hpp"
#include "common/rng.hpp"
#include "logistic.hpp"

namespace lira {
namespace {

class ShokriGroup final : public AttackGroup {
 public:
  explicit ShokriGroup(const ScoreSetup& setup) : s_(setup) {
    features_ = {"loss", "logit_confidence"};
    for (const char* extra : {"max_probability", "entropy"})
      if (s_.has(extra)) features_.push_back(extra);
    // Train on references that are never targets (for leave-one-out: the non-target models).
    for (int64_t r : s_.base)
      if (std::find(s_.targets.begin(), s_.targets.end(), r) == s_.targets.end()) train_models_.push_back(r);
    const double pairs = static_cast<double>(train_models_.size()) * static_cast<double>(s_.candidates);
    rate_ = pairs > 0 ? std::min(1.0, static_cast<double>(s_.shokri.samples) / pairs) : 0.0;
  }
  std::vector<AttackId> ids() const override { return {AttackId::kShokri}; }
  std::vector<std::string> signals() const override { return features_; }
  bool needs_first_pass() const override { return true; }

  // Single-threaded on purpose: the sample and its order (hence the fit, to the last bit)
  // depend only on the seed. Hashing each pair is cheap next to the attacks' pass 2.
  void observe(const SignalBlock& b) override {
    const auto ptrs = pointers(b);
    const uint64_t threshold = rate_ >= 1.0 ? UINT64_MAX : static_cast<uint64_t>(rate_ * 18446744073709551616.0);
    std::vector<double> row(features_.size());
    for (int64_t j = 0; j < b.count; ++j) {
      const int64_t n = b.n0 + j;
      if (s_.in_population(n)) continue;  // OUT of every model: would skew the classes
      for (int64_t m : train_models_) {
        if (derive_seed(s_.seed, 4, static_cast<uint64_t>(m * s_.candidates + n)) > threshold) continue;
        features(ptrs, b.count, m, j, row);
        x_.insert(x_.end(), row.begin(), row.end());
        y_.push_back(b.in(m, j));
      }
    }
  }

  void prepare() override { model_.fit(x_, y_, static_cast<int64_t>(features_.size())); }

  void score(const SignalBlock& b, const std::vector<ScoreMatrix*>& out) override {
    const auto ptrs = pointers(b);
    const int64_t d = static_cast<int64_t>(features_.size());
#pragma omp parallel
    {
      std::vector<double> row(d);
#pragma omp for schedule(static)
      for (int64_t j = 0; j < b.count; ++j)
        for (size_t ti = 0; ti < s_.targets.size(); ++ti) {
          features(ptrs, b.count, s_.targets[ti], j, row);
          out[0]->at(static_cast<int64_t>(ti), b.n0 + j) = model_.predict(row);
        }
    }
  }

  std::vector<std::string> notes() const override {
    std::string w;
    const auto weights = model_.weights();
    for (size_t k = 0; k < weights.size(); ++k) w += (k ? ", " : "") + features_[k] + " " + std::to_string(weights[k]);
    return {"shokri: logistic regression on " + std::to_string(y_.size()) + " (reference model, candidate) pairs of " +
            std::to_string(train_models_.size()) + (train_models_.size() == 1 ? " model, " : " models, ") + std::to_string(model_.iterations()) +
            " Newton steps; weights: " + w};
  }

 private:
  std::vector<const float*> pointers(const SignalBlock& b) const {
    std::vector<const float*> p;
    for (const auto& f : features_) p.push_back(b.get(f));
    return p;
  }
  void features(const std::vector<const float*>& ptrs, int64_t count, int64_t m, int64_t j, std::vector<double>& row) const {
    const int64_t A = s_.queries;
    for (size_t k = 0; k < ptrs.size(); ++k) {
      double sum = 0;
      for (int64_t a = 0; a < A; ++a) sum += ptrs[k][(m * count + j) * A + a];
      row[k] = sum / static_cast<double>(A);
    }
  }

  const ScoreSetup& s_;
  std::vector<std::string> features_;
  std::vector<int64_t> train_models_;
  double rate_ = 0;
  std::vector<double> x_;
  std::vector<uint8_t> y_;
  LogisticRegression model_;
};

}  // namespace

std::unique_ptr<AttackGroup> make_shokri_group(const ScoreSetup& setup) { return std::make_unique<ShokriGroup>(setup); }

}  // namespace lira
