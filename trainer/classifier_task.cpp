// The classifier task (task.hpp): image and table data, every native architecture and
// TorchScript classifiers; signals per candidate and query (logit-scaled confidence,
// loss, and optionally probabilities and logits).
//
// K models at once: one model is its single network (models.cpp, or a TorchScript
// module); a pack of K > 1 is the fused network of K single networks, each built alone
// with its seed (fused_network.hpp), one network K times as wide. Each model keeps its
// own draws: with K > 1, torch's default generators are swapped to the model's state
// around every draw it makes (initial weights, batch orders, augmentations), so a model
// draws exactly what it would draw alone with its seed. Its batches are its own; a pack
// pads the shorter batches (a model's last one) and masks the padding out of the loss.
#include <ATen/Context.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <mutex>
#include <optional>

#include "augment.hpp"
#include "classifier_common.hpp"
#include "common/config_rules.hpp"
#include "common/errors.hpp"
#include "common/recipes.hpp"
#include "fused_network.hpp"
#include "network.hpp"
#include "task.hpp"
#include "torch_compat.hpp"
#include "trainer.hpp"

namespace lira {
namespace {

// queries.batchnorm train: chunks of 5000, as the official inference.py (the statistics,
// and so the signals, depend on the chunk).
constexpr int64_t kTrainModeEvalBatch = 5000;

// One model's draws: torch's default generators (the CPU's, and the training device's)
// as they would stand in a run of this model alone. Loaded around every draw it makes.
class Draws {
 public:
  explicit Draws(torch::Device device) : device_(device) {}
  void save() {
    cpu_ = get(torch::kCPU);
    if (device_.is_cuda()) device_state_ = get(device_);
  }
  void load() const {
    set(torch::kCPU, cpu_);
    if (device_.is_cuda()) set(device_, device_state_);
  }

 private:
  static torch::Tensor get(torch::Device d) {
    at::Generator g = at::globalContext().defaultGenerator(d);
    std::lock_guard<std::mutex> lock(g.mutex());
    return g.get_state();
  }
  static void set(torch::Device d, const torch::Tensor& state) {
    at::Generator g = at::globalContext().defaultGenerator(d);
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_state(state);
  }
  torch::Device device_;
  torch::Tensor cpu_, device_state_;
};

// One model of the K: its draws, IN set and this epoch's batch order.
struct Member {
  explicit Member(torch::Device device) : draws(device) {}
  Draws draws;
  torch::Tensor in_idx, order;
  torch::Tensor positions;                          // airbench94: this epoch's order, as positions in the IN set
  std::optional<AlternatingFlipTranslate> augment;  // airbench94's
};

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
    // The CUDA layout of a pack (fused_network.hpp); LIRA_TEST_GROUPED_PACKS: on the CPU too (tests).
    grouped_ = cuda || std::getenv("LIRA_TEST_GROUPED_PACKS") != nullptr;
    spdlog::debug("classifier: bf16 {}, channels_last {}", bf16_, channels_last_);
    const auto& recipe = recipe_of(config_);
    alternating_flip_ = recipe.alternating_flip, summed_loss_ = recipe.summed_loss, tta_ = recipe.tta;
    const double smoothing = recipe.label_smoothing >= 0 ? recipe.label_smoothing : config_.training.label_smoothing;
    none_options_ = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(smoothing).reduction(torch::kNone);
    mean_options_ = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(smoothing);
  }

  const char* name() const override { return "classifier"; }
  int64_t candidates() const override { return dataset_->candidates.count; }

  void build(const std::vector<Lane>& lanes) override {
    const auto k = static_cast<int64_t>(lanes.size());
    if (k < 1) throw Error("classifier task: no models to build");
    if (k > 1)
      if (const auto why = pack_limits(config_); !why.empty()) throw ConfigError("parallel.models_per_job: " + why[0]);
    width_ = k;
    own_draws_ = k > 1;
    members_.clear();
    single_.reset(), fused_.reset();
    std::vector<std::unique_ptr<Network>> nets;
    for (const auto& lane : lanes) {
      members_.emplace_back(device_);
      auto& m = members_.back();
      m.in_idx = torch::tensor(lane.in, torch::kInt64).to(device_);
      torch::manual_seed(lane.seed);
      NetworkInputs inputs{dataset_->candidates.example_shape, dataset_->classes, {}};
      if (config_.model.arch == "airbench" || config_.model.arch == "airbench94")
        inputs.init_sample = normalize(x_.index_select(0, m.in_idx.slice(0, 0, kWhiteningSample)));
      nets.push_back(build_network(config_.model, inputs));
      if (k == 1) nets.back()->to(device_, channels_last_);
      if (alternating_flip_) m.augment.emplace(m.in_idx.size(0), 2, device_);
      if (own_draws_) m.draws.save();
    }
    if (k == 1) {
      single_ = std::move(nets[0]);
    } else {
      fused_ = std::make_unique<FusedNetwork>(config_.model, nets, device_, grouped_);
    }
  }

  bool stacked() const override { return fused_ != nullptr; }
  NamedTensors parameters() override {
    if (single_) return unique_parameters(single_->named_parameters());
    NamedTensors out;
    for (auto& e : fused_->state())
      if (e.trainable) out.emplace_back(e.name, e.value);
    return out;
  }
  std::vector<torch::Tensor> buffers() override {
    if (single_) return single_->buffers();
    std::vector<torch::Tensor> out;
    for (auto& e : fused_->state())
      if (e.buffer) out.push_back(e.value);
    return out;
  }
  void set_training(bool on) override { single_ ? single_->set_training(on) : fused_->set_training(on); }
  NamedTensors state() override {
    if (single_) return single_->state();
    NamedTensors out;
    for (auto& e : fused_->state()) out.emplace_back(e.name, e.value);
    return out;
  }
  std::vector<torch::Tensor> state_before_data_init() override {
    return single_ ? single_->state_before_data_init() : fused_->state_before_data_init();
  }
  int64_t examples(int64_t lane) const override { return members_.at(static_cast<size_t>(lane)).in_idx.size(0); }
  std::pair<torch::Tensor, torch::Tensor> last_batch() const override { return last_batch_; }

  int64_t begin_epoch(int64_t lane, int64_t epoch) override {
    auto& m = members_.at(static_cast<size_t>(lane));
    const int64_t n_in = m.in_idx.size(0);
    if (own_draws_) m.draws.load();
    if (alternating_flip_) {
      // airbench94's published order: augmentation draws, then the batch order on the
      // device (batches_per_epoch drops its last partial batch).
      m.augment->begin_epoch(epoch);
      m.positions = torch::randperm(n_in, torch::TensorOptions(device_).dtype(torch::kInt64));
      m.order = m.in_idx.index_select(0, m.positions);
    } else {
      m.order = m.in_idx.index_select(0, torch::randperm(n_in, torch::kInt64).to(device_));
    }
    if (own_draws_) m.draws.save();
    return batches_per_epoch(config_, n_in);
  }

  StepLoss loss(const std::vector<int64_t>& batch, int rank, int ranks) override {
    const auto& t = config_.training;
    const int64_t k = width_;
    StepLoss out;
    out.items.assign(static_cast<size_t>(k), 0.0);
    // Each model's batch (augmented whole on every rank of a gang, so that the random
    // draws are one rank's), then this rank's shard of it.
    std::vector<torch::Tensor> xs(static_cast<size_t>(k)), ys(static_cast<size_t>(k));
    std::vector<int64_t> rows(static_cast<size_t>(k), 0);
    int64_t longest = 0;
    for (int64_t j = 0; j < k; ++j) {
      if (batch[static_cast<size_t>(j)] < 0) continue;
      auto& m = members_[static_cast<size_t>(j)];
      const int64_t n_in = m.order.size(0), start = batch[static_cast<size_t>(j)] * t.batch_size;
      const int64_t end = std::min(start + t.batch_size, n_in);
      const auto idx = m.order.slice(0, start, end);
      auto x = normalize(x_.index_select(0, idx));
      if (alternating_flip_) {
        x = m.augment->apply(x, m.positions.slice(0, start, end));
      } else if (augments()) {
        if (own_draws_) m.draws.load();
        x = augment_batch(x, t.augment_flip, t.augment_crop);
        if (own_draws_) m.draws.save();
      }
      auto y = y_.index_select(0, idx);
      if (k == 1) last_batch_ = {x, y};
      const int64_t b = idx.size(0), lo = b * rank / ranks, hi = b * (rank + 1) / ranks;
      out.items[static_cast<size_t>(j)] = static_cast<double>(b);
      xs[static_cast<size_t>(j)] = x.slice(0, lo, hi), ys[static_cast<size_t>(j)] = y.slice(0, lo, hi);
      rows[static_cast<size_t>(j)] = hi - lo;
      longest = std::max(longest, hi - lo);
    }
    const auto f64 = torch::TensorOptions(device_).dtype(torch::kFloat64);
    if (longest == 0) {
      out.sums = torch::zeros({k}, f64);
      return out;
    }
    // Pad every model's shard to the longest; the padding is masked out of the loss.
    bool padded = false;
    for (int64_t j = 0; j < k; ++j) {
      auto& x = xs[static_cast<size_t>(j)];
      auto& y = ys[static_cast<size_t>(j)];
      const int64_t pad = longest - rows[static_cast<size_t>(j)];
      if (pad == 0) continue;
      padded = true;
      std::vector<int64_t> shape{pad};
      for (auto s : dataset_->candidates.example_shape) shape.push_back(s);
      const auto xpad = torch::zeros(shape, torch::TensorOptions(device_).dtype(compute_));
      const auto ypad = torch::zeros({pad}, torch::TensorOptions(device_).dtype(torch::kInt64));
      x = x.defined() ? torch::cat({x, xpad}) : xpad;
      y = y.defined() ? torch::cat({y, ypad}) : ypad;
    }
    compat::CudaAutocast autocast(bf16_);
    if (single_ && ranks == 1 && !summed_loss_) {
      // One model on one rank: torch's mean reduction, as a single network always trained
      // (label smoothing rounds its gradient differently summed, then divided).
      out.loss = torch::nn::functional::cross_entropy(single_->forward(xs[0]).to(compute_), ys[0], mean_options_);
      out.sums = (out.loss.detach().to(torch::kFloat64) * out.items[0]).reshape({1});
      return out;
    }
    const auto z = (single_ ? single_->forward(xs[0]).unsqueeze(0) : fused_->forward_own(xs, rows)).to(compute_);
    auto ce = torch::nn::functional::cross_entropy(z.reshape({k * longest, -1}), torch::cat(ys), none_options_)
                  .view({k, longest});
    if (padded) {
      const auto counts = torch::tensor(rows, torch::kInt64).to(device_);
      const auto mask = torch::arange(longest, torch::TensorOptions(device_).dtype(torch::kInt64)).unsqueeze(0) <
                        counts.unsqueeze(1);  // [K, B]
      ce = torch::where(mask, ce, torch::zeros_like(ce));
    }
    const auto sums = ce.sum(1);  // [K]
    // The batch's sum (airbench94's, as published) or its mean (a gang's shard: its sum
    // over the whole batch's size).
    if (summed_loss_) {
      out.loss = sums.sum();
    } else {
      const auto sizes = torch::tensor(out.items, torch::kFloat64).clamp_min(1.0).to(device_).to(sums.scalar_type());
      out.loss = (sums / sizes).sum();
    }
    out.sums = sums.detach().to(torch::kFloat64);
    return out;
  }

  void clear(int64_t lane) override {
    if (!fused_) return;
    torch::NoGradGuard no_grad;
    for (auto& e : fused_->state()) {
      const bool var = e.name.size() >= 11 && e.name.compare(e.name.size() - 11, 11, "running_var") == 0;
      e.value[lane].fill_(var ? 1.0 : 0.0);
    }
  }

  Network* network() override { return single_.get(); }

  std::pair<torch::Tensor, torch::Tensor> examples_at(const torch::Tensor& positions) override {
    const auto idx = members_.at(0).in_idx.index_select(0, positions.to(device_));
    auto x = normalize(x_.index_select(0, idx));
    const auto& t = config_.training;
    if (augments()) x = augment_batch(x, t.augment_flip, t.augment_crop);
    auto y = y_.index_select(0, idx);
    last_batch_ = {x, y};
    return {x, y};
  }

  torch::Tensor example_losses(const torch::Tensor& logits, const torch::Tensor& labels) override {
    return torch::nn::functional::cross_entropy(logits.to(compute_), labels, none_options_);
  }

  std::vector<double> validation_losses() override {
    torch::NoGradGuard no_grad;
    set_training(false);
    const auto z = logits(x_val_, nullptr);
    std::vector<double> out;
    for (int64_t j = 0; j < width_; ++j)
      out.push_back(
          torch::nn::functional::cross_entropy(z[j].to(torch::kFloat64), y_val_.to(torch::kCPU)).item<double>());
    return out;
  }

  void evaluate(const std::vector<const std::vector<uint8_t>*>& keep,
                const std::vector<ModelResult*>& results) override {
    torch::NoGradGuard no_grad;
    // queries.batchnorm: train is the reference code's inference (batch statistics). A
    // forward pass in training mode also moves BatchNorm's running statistics; they are
    // restored afterwards, so the test accuracy below sees the trained model's.
    const bool train_mode = config_.queries.batchnorm == "train";
    std::vector<torch::Tensor> saved;
    if (train_mode)
      for (auto& b : buffers()) saved.push_back(b.clone());
    set_training(train_mode);
    const int64_t a = static_cast<int64_t>(queries_.size());
    std::vector<SignalCollector> signals;
    for (int64_t j = 0; j < width_; ++j) signals.emplace_back(config_, dataset_->candidates.labels, dataset_->classes, a);
    for (int64_t q = 0; q < a; ++q) {
      const auto z = logits(x_, images_ ? &queries_[q] : nullptr);
      for (int64_t j = 0; j < width_; ++j)
        if (results[static_cast<size_t>(j)]) signals[static_cast<size_t>(j)].add(q, z[j].contiguous(), *keep[static_cast<size_t>(j)]);
    }
    if (train_mode) {
      auto live = buffers();
      for (size_t i = 0; i < live.size(); ++i) live[i].copy_(saved[i]);
    }
    set_training(false);  // test accuracy always with running statistics
    // airbench94 reports its published test-time augmentation's accuracy.
    const auto zt = tta_ ? tta_logits(x_test_) : logits(x_test_, nullptr);
    const auto correct = zt.argmax(2).eq(y_test_.to(torch::kCPU).unsqueeze(0)).to(torch::kFloat64).mean(1);
    for (int64_t j = 0; j < width_; ++j) {
      if (!results[static_cast<size_t>(j)]) continue;
      results[static_cast<size_t>(j)]->test_accuracy = correct[j].item<double>();
      signals[static_cast<size_t>(j)].finish(*results[static_cast<size_t>(j)]);
    }
  }

 private:
  torch::Tensor normalize(const torch::Tensor& raw) const {
    auto x = raw.to(compute_).mul_(scale_).add_(shift_);
    return channels_last_ && single_ ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
  }

  // Whether training batches get the generic recipe's flip and crop.
  bool augments() const {
    const auto& t = config_.training;
    return images_ && (t.augment_flip || t.augment_crop > 0);
  }

  // The same inputs through every model: [K, B, classes].
  torch::Tensor forward_shared(const torch::Tensor& x) {
    return single_ ? single_->forward(x).unsqueeze(0) : fused_->forward_shared(x);
  }

  // Logits [K, n, classes] in fp32 on the CPU, batch by batch (no autocast: the signals
  // need fp32).
  torch::Tensor logits(const torch::Tensor& raw, const QuerySpec* query) {
    std::vector<torch::Tensor> parts;
    const int64_t chunk = config_.queries.batchnorm == "train" ? kTrainModeEvalBatch : kEvalBatch;
    for (int64_t s = 0; s < raw.size(0); s += chunk) {
      auto x = normalize(raw.slice(0, s, std::min(s + chunk, raw.size(0))));
      if (query) x = apply_query(x, *query);
      parts.push_back(forward_shared(x).to(torch::kFloat32));
      if (progress_) progress_();
    }
    return torch::cat(parts, 1).to(torch::kCPU).contiguous();
  }

  // airbench94's test-time augmentation: the weighted sum of the logits of its views.
  torch::Tensor tta_logits(const torch::Tensor& raw) {
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < raw.size(0); s += kEvalBatch) {
      const auto x = normalize(raw.slice(0, s, std::min(s + kEvalBatch, raw.size(0))));
      torch::Tensor z;
      for (const auto& [view, weight] : airbench94_tta_views(x)) {
        const auto zv = forward_shared(view.contiguous()).to(torch::kFloat32) * weight;
        z = z.defined() ? z + zv : zv;
      }
      parts.push_back(z);
      if (progress_) progress_();
    }
    return torch::cat(parts, 1).to(torch::kCPU).contiguous();
  }

  Config config_;
  std::shared_ptr<const Dataset> dataset_;
  std::function<void()> progress_;  // beats to the job process's rank (TrainerContext::progress)
  torch::Device device_;
  std::vector<QuerySpec> queries_;
  bool images_ = true, bf16_ = false, channels_last_ = false, grouped_ = false;
  bool alternating_flip_ = false, summed_loss_ = false, tta_ = false;  // the recipe's (common/recipes.hpp)
  bool own_draws_ = false;  // K > 1: each model's draws swapped in around its draws
  // Inputs and training losses in torch's default dtype: float32, or float64 when a tool
  // sets it (tests/tools/recipe_steps --float64 for the step-equivalence check).
  torch::ScalarType compute_ = torch::typeMetaToScalarType(torch::get_default_dtype());
  std::pair<torch::Tensor, torch::Tensor> last_batch_;
  torch::Tensor x_, y_, x_test_, y_test_, x_val_, y_val_, scale_, shift_;
  torch::nn::functional::CrossEntropyFuncOptions none_options_, mean_options_;
  std::vector<Member> members_;
  std::unique_ptr<Network> single_;       // K = 1
  std::unique_ptr<FusedNetwork> fused_;  // K > 1
};

}  // namespace

std::unique_ptr<Task> make_classifier_task(const TrainerContext& context, torch::Device device) {
  return std::make_unique<ClassifierTask>(context, device);
}

}  // namespace lira
