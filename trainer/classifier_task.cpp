// The classifier task (task.hpp): image and table data, every native architecture and
// TorchScript classifiers; signals per candidate and query (logit-scaled confidence,
// loss, and optionally probabilities and logits).
#include <spdlog/spdlog.h>

#include <optional>

#include "augment.hpp"
#include "classifier_common.hpp"
#include "common/config_rules.hpp"
#include "common/errors.hpp"
#include "network.hpp"
#include "recipe.hpp"
#include "task.hpp"
#include "torch_compat.hpp"
#include "trainer.hpp"

namespace lira {
namespace {

// queries.batchnorm train: chunks of 5000, as the official inference.py (the statistics,
// and so the signals, depend on the chunk).
constexpr int64_t kTrainModeEvalBatch = 5000;

class ClassifierTask final : public Task {
 public:
  ClassifierTask(const TrainerContext& c, torch::Device device)
      : config_(c.config), dataset_(c.dataset), progress_(c.progress), device_(device), queries_(config_.query_specs()) {
    const ClassifierData data(*dataset_, device_);
    images_ = data.images;
    x_ = data.x, y_ = data.y, x_test_ = data.x_test, y_test_ = data.y_test;
    scale_ = data.scale, shift_ = data.shift;
    if (const int64_t v = config_.defense.early_stopping > 0 ? config_.defense.validation_examples : 0; v > 0) {
      // Early stopping's validation split: the test split's last v examples, which the
      // test accuracy then leaves out (check_config_with_data, run at every entry point
      // through dataset_for, leaves some to test on).
      const int64_t keep = x_test_.size(0) - v;
      x_val_ = x_test_.slice(0, keep), y_val_ = y_test_.slice(0, keep);
      x_test_ = x_test_.slice(0, 0, keep), y_test_ = y_test_.slice(0, 0, keep);
    }
    const bool cuda = device_.is_cuda();
    bf16_ = cuda && config_.training.bf16;
    channels_last_ = cuda && config_.training.channels_last && images_ && config_.model.arch != "mlp";
    spdlog::debug("classifier: bf16 {}, channels_last {}", bf16_, channels_last_);
    const auto& t = config_.training;
    airbench94_ = config_.model.arch == "airbench94";
    const double smoothing = airbench94_ ? Airbench94Hyp::kLabelSmoothing : t.label_smoothing;
    loss_options_ = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(smoothing);
    sum_options_ = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(smoothing).reduction(torch::kSum);
    none_options_ = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(smoothing).reduction(torch::kNone);
  }

  const char* name() const override { return "classifier"; }
  int64_t candidates() const override { return dataset_->candidates.count; }

  void build(const std::vector<int64_t>& in) override {
    in_idx_ = torch::tensor(in, torch::kInt64).to(device_);
    NetworkInputs inputs{dataset_->candidates.example_shape, dataset_->classes, {}};
    if (config_.model.arch == "airbench" || airbench94_)
      inputs.init_sample = normalize(x_.index_select(0, in_idx_.slice(0, 0, kWhiteningSample)));
    net_ = build_network(config_.model, inputs);
    net_->to(device_, channels_last_);
    if (airbench94_) airbench_augment_.emplace(in_idx_.size(0), 2, device_);
  }

  NamedTensors parameters() override { return unique_parameters(net_->named_parameters()); }
  std::vector<torch::Tensor> buffers() override { return net_->buffers(); }
  void set_training(bool on) override { net_->set_training(on); }
  NamedTensors state() override { return net_->state(); }
  std::vector<torch::Tensor> state_before_data_init() override { return net_->state_before_data_init(); }
  int64_t examples() const override { return in_idx_.size(0); }
  std::pair<torch::Tensor, torch::Tensor> last_batch() const override { return last_batch_; }

  int64_t begin_epoch(int64_t epoch) override {
    const int64_t n_in = in_idx_.size(0);
    if (airbench94_) {
      // Published order: augmentation draws, then the batch order on the device; the last
      // partial batch is dropped.
      airbench_augment_->begin_epoch(epoch);
      positions_ = torch::randperm(n_in, torch::TensorOptions(device_).dtype(torch::kInt64));
      order_ = in_idx_.index_select(0, positions_);
    } else {
      order_ = in_idx_.index_select(0, torch::randperm(n_in, torch::kInt64).to(device_));
    }
    return batches_per_epoch(config_, n_in);
  }

  ShardLoss loss(int64_t batch_index, int rank, int ranks) override {
    const auto& t = config_.training;
    const int64_t n_in = order_.size(0), start = batch_index * t.batch_size;
    const auto batch = order_.slice(0, start, std::min(start + t.batch_size, n_in));
    auto x = normalize(x_.index_select(0, batch));
    // Augmented for the whole batch on every rank of a gang, so the random draws are
    // the same as on one rank; then each rank keeps its shard.
    if (airbench94_)
      x = airbench_augment_->apply(x, positions_.slice(0, start, std::min(start + t.batch_size, n_in)));
    else if (images_ && (t.augment_flip || t.augment_crop > 0))
      x = augment_batch(x, t.augment_flip, t.augment_crop);
    auto y = y_.index_select(0, batch);
    last_batch_ = {x, y};
    const int64_t b = batch.size(0);
    ShardLoss out;
    out.items = static_cast<double>(b);
    compat::CudaAutocast autocast(bf16_);
    if (airbench94_) {
      // The published loss: summed over the batch (and so over a gang's shards).
      const int64_t lo = b * rank / ranks, hi = b * (rank + 1) / ranks;
      if (hi <= lo) return out;
      out.loss = torch::nn::functional::cross_entropy(net_->forward(x.slice(0, lo, hi)).to(compute_),
                                                      y.slice(0, lo, hi), sum_options_);
      out.sum = out.loss.detach();
      return out;
    }
    if (ranks == 1) {
      out.loss = torch::nn::functional::cross_entropy(net_->forward(x).to(compute_), y, loss_options_);
      out.sum = out.loss.detach() * static_cast<double>(b);
      return out;
    }
    // Shard r of k; its summed loss over the whole batch's size, so the gradients summed
    // over the gang are the full batch's mean gradient.
    const int64_t lo = b * rank / ranks, hi = b * (rank + 1) / ranks;
    if (hi <= lo) return out;
    const auto sum = torch::nn::functional::cross_entropy(net_->forward(x.slice(0, lo, hi)).to(compute_),
                                                          y.slice(0, lo, hi), sum_options_);
    out.loss = sum / static_cast<double>(b);
    out.sum = sum.detach();
    return out;
  }

  Network* network() override { return net_.get(); }

  std::pair<torch::Tensor, torch::Tensor> examples_at(const torch::Tensor& positions) override {
    const auto idx = in_idx_.index_select(0, positions.to(device_));
    auto x = normalize(x_.index_select(0, idx));
    const auto& t = config_.training;
    if (images_ && (t.augment_flip || t.augment_crop > 0)) x = augment_batch(x, t.augment_flip, t.augment_crop);
    auto y = y_.index_select(0, idx);
    last_batch_ = {x, y};
    return {x, y};
  }

  torch::Tensor example_losses(const torch::Tensor& logits, const torch::Tensor& labels) override {
    return torch::nn::functional::cross_entropy(logits.to(compute_), labels, none_options_);
  }

  double validation_loss() override {
    torch::NoGradGuard no_grad;
    net_->set_training(false);
    const auto z = logits(x_val_, nullptr);
    return torch::nn::functional::cross_entropy(z.to(torch::kFloat64), y_val_.to(torch::kCPU)).item<double>();
  }

  void evaluate(const std::vector<uint8_t>& keep, ModelResult& result) override {
    torch::NoGradGuard no_grad;
    Network& net = *net_;
    // queries.batchnorm: train is the reference code's inference (batch statistics). A
    // forward pass in training mode also moves BatchNorm's running statistics; they are
    // restored afterwards, so the test accuracy below sees the trained model's.
    const bool train_mode = config_.queries.batchnorm == "train";
    std::vector<torch::Tensor> saved;
    if (train_mode)
      for (auto& b : net.buffers()) saved.push_back(b.clone());
    net.set_training(train_mode);
    const int64_t a = static_cast<int64_t>(queries_.size());
    SignalCollector signals(config_, dataset_->candidates.labels, dataset_->classes, a);
    for (int64_t q = 0; q < a; ++q) signals.add(q, logits(x_, images_ ? &queries_[q] : nullptr), keep);
    if (train_mode) {
      auto live = net.buffers();
      for (size_t i = 0; i < live.size(); ++i) live[i].copy_(saved[i]);
    }
    net.set_training(false);  // test accuracy always with running statistics
    // airbench94 reports its published test-time augmentation's accuracy.
    const auto zt = airbench94_ ? tta_logits(x_test_) : logits(x_test_, nullptr);
    result.test_accuracy = zt.argmax(1).eq(y_test_.to(torch::kCPU)).to(torch::kFloat64).mean().item<double>();
    signals.finish(result);
  }

 private:
  torch::Tensor normalize(const torch::Tensor& raw) const {
    auto x = raw.to(compute_).mul_(scale_).add_(shift_);
    return channels_last_ ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
  }

  // Logits in fp32 on the CPU, batch by batch (no autocast: the signals need fp32).
  torch::Tensor logits(const torch::Tensor& raw, const QuerySpec* query) const {
    std::vector<torch::Tensor> parts;
    const int64_t chunk = config_.queries.batchnorm == "train" ? kTrainModeEvalBatch : kEvalBatch;
    for (int64_t s = 0; s < raw.size(0); s += chunk) {
      auto x = normalize(raw.slice(0, s, std::min(s + chunk, raw.size(0))));
      if (query) x = apply_query(x, *query);
      parts.push_back(net_->forward(x).to(torch::kFloat32));
      if (progress_) progress_();
    }
    return torch::cat(parts).to(torch::kCPU).contiguous();
  }

  // airbench94's test-time augmentation: the weighted sum of the logits of its views.
  torch::Tensor tta_logits(const torch::Tensor& raw) const {
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < raw.size(0); s += kEvalBatch) {
      const auto x = normalize(raw.slice(0, s, std::min(s + kEvalBatch, raw.size(0))));
      torch::Tensor z;
      for (const auto& [view, weight] : airbench94_tta_views(x)) {
        const auto zv = net_->forward(view.contiguous()).to(torch::kFloat32) * weight;
        z = z.defined() ? z + zv : zv;
      }
      parts.push_back(z);
    }
    return torch::cat(parts).to(torch::kCPU).contiguous();
  }

  Config config_;
  std::shared_ptr<const Dataset> dataset_;
  std::function<void()> progress_;  // beats to the job process's rank (TrainerContext::progress)
  torch::Device device_;
  std::vector<QuerySpec> queries_;
  bool images_ = true, bf16_ = false, channels_last_ = false, airbench94_ = false;
  // Inputs and training losses in torch's default dtype: float32, or float64 when a tool
  // sets it (tests/tools/recipe_steps --float64 for the step-equivalence check).
  torch::ScalarType compute_ = torch::typeMetaToScalarType(torch::get_default_dtype());
  std::optional<AlternatingFlipTranslate> airbench_augment_;
  torch::Tensor positions_;  // airbench94: this epoch's order, as positions in the IN set
  std::pair<torch::Tensor, torch::Tensor> last_batch_;
  torch::Tensor x_, y_, x_test_, y_test_, x_val_, y_val_, scale_, shift_;
  torch::nn::functional::CrossEntropyFuncOptions loss_options_, sum_options_, none_options_;
  std::unique_ptr<Network> net_;
  torch::Tensor in_idx_, order_;
};

}  // namespace

std::unique_ptr<Task> make_classifier_task(const TrainerContext& context, torch::Device device) {
  return std::make_unique<ClassifierTask>(context, device);
}

}  // namespace lira
