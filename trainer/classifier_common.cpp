// Implements the classifier's shared pieces (classifier_common.hpp).
#include "classifier_common.hpp"

#include <algorithm>
#include <span>

namespace lira {

torch::Tensor raw_tensor(const Split& s, torch::Device device) {
  std::vector<int64_t> shape{s.count};
  shape.insert(shape.end(), s.example_shape.begin(), s.example_shape.end());
  torch::Tensor t = s.is_image()
                        ? torch::from_blob(const_cast<uint8_t*>(s.pixels.data()), shape, torch::kUInt8)
                        : torch::from_blob(const_cast<float*>(s.features.data()), shape, torch::kFloat32);
  return t.to(device).clone();  // own the memory (to() is a no-op on CPU)
}

torch::Tensor label_tensor(const Split& s, torch::Device device) {
  return torch::from_blob(const_cast<int64_t*>(s.labels.data()), {s.count}, torch::kInt64).to(device).clone();
}

ClassifierData::ClassifierData(const Dataset& d, torch::Device device)
    : images(d.candidates.is_image()),
      x(raw_tensor(d.candidates, device)),
      y(label_tensor(d.candidates, device)),
      x_test(raw_tensor(d.test, device)),
      y_test(label_tensor(d.test, device)) {
  std::vector<int64_t> view{1, static_cast<int64_t>(d.scale.size())};
  if (images) view.insert(view.end(), {1, 1});
  scale = torch::tensor(d.scale).view(view).to(device);
  shift = torch::tensor(d.shift).view(view).to(device);
}

SignalCollector::SignalCollector(const Config& config, const std::vector<int64_t>& labels, int64_t classes,
                                 int64_t queries)
    : labels_(labels),
      n_(static_cast<int64_t>(labels.size())),
      a_(queries),
      classes_(classes),
      probabilities_(config.signals.probabilities),
      logits_(config.signals.logits),
      release_{config.defense.round_decimals, config.defense.top_k, config.defense.label_only},
      conf_{"logit_confidence", {n_, a_}, std::vector<float>(static_cast<size_t>(n_ * a_))},
      loss_{"loss", {n_, a_}, std::vector<float>(static_cast<size_t>(n_ * a_))},
      max_prob_{"max_probability", {n_, a_}, {}},
      entropy_{"entropy", {n_, a_}, {}},
      all_logits_{"logits", {n_, a_, classes_}, {}},
      released_(static_cast<size_t>(classes)) {
  if (probabilities_) max_prob_.values.resize(n_ * a_), entropy_.values.resize(n_ * a_);
  if (logits_) all_logits_.values.resize(static_cast<size_t>(n_ * a_ * classes_));
}

void SignalCollector::add(int64_t q, const torch::Tensor& z, const std::vector<uint8_t>& keep) {
  const float* zp = z.data_ptr<float>();
  const double floor = release_.floor();
  const bool released = release_.active();
  for (int64_t i = 0; i < n_; ++i) {
    const std::span<const float> zi(zp + i * classes_, classes_);
    if (released) released_probabilities(zi, release_, released_);
    const auto s = released ? released_signal(released_, labels_[i], floor) : classifier_signal(zi, labels_[i]);
    conf_.values[i * a_ + q] = static_cast<float>(s.logit_confidence);
    loss_.values[i * a_ + q] = static_cast<float>(s.loss);
    if (probabilities_) {
      const auto ps = released ? probability_stats(std::span<const double>(released_)) : probability_stats(zi);
      max_prob_.values[i * a_ + q] = static_cast<float>(ps.max_probability);
      entropy_.values[i * a_ + q] = static_cast<float>(ps.entropy);
    }
    if (logits_) std::copy(zi.begin(), zi.end(), all_logits_.values.begin() + (i * a_ + q) * classes_);
  }
  if (q == 0) {
    // Training accuracy on the model's IN candidates, under the first query.
    int64_t correct = 0, in = 0;
    const auto pred = z.argmax(1);
    const int64_t* pp = pred.data_ptr<int64_t>();
    for (int64_t i = 0; i < n_; ++i)
      if (keep[i]) ++in, correct += pp[i] == labels_[i];
    train_accuracy_ = in ? static_cast<double>(correct) / static_cast<double>(in) : 0.0;
  }
}

void SignalCollector::finish(ModelResult& result) {
  result.train_accuracy = train_accuracy_;
  result.signals.push_back(std::move(conf_));
  result.signals.push_back(std::move(loss_));
  if (probabilities_) {
    result.signals.push_back(std::move(max_prob_));
    result.signals.push_back(std::move(entropy_));
  }
  if (logits_) result.signals.push_back(std::move(all_logits_));
}

}  // namespace lira
