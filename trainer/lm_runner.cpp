// Implements the GPT and the language-model JobRunner.
//
// Training packs the IN records, in a shuffled order, into windows of model.context
// tokens without splitting a record; a per-position record id makes attention
// block-diagonal (a token sees only earlier tokens of its own record) and keeps the loss
// to predictions within a record, so packing changes nothing but speed: the model trains
// on each record exactly as if it were alone in its window. Evaluation runs each
// candidate record alone (begin-of-record token first).
#include <spdlog/spdlog.h>
#include <torch/script.h>

#include <chrono>
#include <cmath>

#include "common/errors.hpp"
#include "lm.hpp"
#include "network.hpp"
#include "schedule.hpp"
#include "torch_compat.hpp"

namespace lira {
namespace {

constexpr int64_t kEvalRecords = 64;

// The model a language-model job trains: lira's GPT, or a TorchScript causal LM whose
// forward(idx [B, T]) returns logits [B, T, V] (fine-tuned from its saved weights).
class LmModel {
 public:
  virtual ~LmModel() = default;
  virtual torch::Tensor forward(const torch::Tensor& idx, const torch::Tensor& records) = 0;
  virtual std::vector<std::pair<std::string, torch::Tensor>> named_parameters() = 0;
  virtual void set_training(bool on) = 0;
  // Whether forward() honours record ids (then several records may share a window).
  virtual bool masks_records() const = 0;
};

class NativeLm final : public LmModel {
 public:
  NativeLm(const ModelConfig& m, int64_t vocab, torch::Device device) : net_(m, vocab) { net_->to(device); }
  torch::Tensor forward(const torch::Tensor& idx, const torch::Tensor& records) override {
    return net_->forward(idx, records);
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& p : net_->named_parameters()) out.emplace_back(p.key(), p.value());
    return out;
  }
  void set_training(bool on) override { net_->train(on); }
  bool masks_records() const override { return true; }

 private:
  Gpt net_;
};

class ScriptedLm final : public LmModel {
 public:
  ScriptedLm(const ModelConfig& m, int64_t vocab, torch::Device device) {
    try {
      module_ = torch::jit::load(m.torchscript_path, torch::kCPU);
    } catch (const c10::Error& e) {
      throw DataError("cannot load the TorchScript language model '" + m.torchscript_path +
                      "' (model.torchscript_path): " + e.what_without_backtrace());
    }
    if (m.torchscript_reinit) {
      torch::NoGradGuard no_grad;
      for (const auto& p : module_.named_parameters(true)) {
        auto t = p.value;
        if (t.dim() >= 2) {
          t.normal_(0.0, 0.02);
        } else if (p.name.size() >= 4 && p.name.compare(p.name.size() - 4, 4, "bias") == 0) {
          t.zero_();
        }
      }
    }
    module_.to(device);
    // It must map token ids [2, 4] to logits [2, 4, vocab] before any training starts.
    torch::NoGradGuard no_grad;
    module_.eval();
    torch::Tensor out;
    try {
      out = forward(torch::zeros({2, 4}, torch::TensorOptions(device).dtype(torch::kInt64)), {});
    } catch (const std::exception& e) {
      throw DataError("the TorchScript language model '" + m.torchscript_path +
                      "' fails on token ids [2, 4]: " + e.what());
    }
    if (out.dim() != 3 || out.size(0) != 2 || out.size(1) != 4 || out.size(2) != vocab)
      throw DataError("the TorchScript language model '" + m.torchscript_path + "' returns shape " +
                      c10::str(out.sizes()) + " for token ids [2, 4]; expected [2, 4, " + std::to_string(vocab) +
                      "] (the vocabulary of data.tokenizer)");
  }
  torch::Tensor forward(const torch::Tensor& idx, const torch::Tensor&) override {
    auto out = module_.forward({idx});
    if (!out.isTensor()) throw TrainError("the TorchScript model's forward() must return one tensor of logits");
    return out.toTensor();
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& p : module_.named_parameters(true))
      if (p.value.requires_grad()) out.emplace_back(p.name, p.value);
    return out;
  }
  void set_training(bool on) override { module_.train(on); }
  bool masks_records() const override { return false; }

 private:
  torch::jit::Module module_;
};

class LmRunner final : public JobRunner {
 public:
  LmRunner(const Config& config, std::shared_ptr<const Dataset> dataset, int threads, torch::Device device)
      : config_(config), dataset_(std::move(dataset)), threads_(threads), device_(device) {
    if (!dataset_->text || !dataset_->text_test) throw ConfigError("model.arch: gpt needs text data (data.dataset)");
    bf16_ = device_.is_cuda() && config_.training.bf16;
  }

  ModelResult run(const JobAssignment& job) override {
    const auto t0 = std::chrono::steady_clock::now();
    const auto& text = *dataset_->text;
    const int64_t n = text.count();
    if (static_cast<int64_t>(job.keep_row.size()) != n)
      throw TrainError("job for model " + std::to_string(job.model) + " has a keep row of " +
                       std::to_string(job.keep_row.size()) + " entries, expected " + std::to_string(n));
    torch::set_num_threads(threads_);
    torch::manual_seed(job.seed);
    std::unique_ptr<LmModel> model;
    if (config_.model.arch == "torchscript")
      model = std::make_unique<ScriptedLm>(config_.model, dataset_->classes, device_);
    else
      model = std::make_unique<NativeLm>(config_.model, dataset_->classes, device_);
    LmModel& net = *model;
    std::vector<int64_t> in;
    for (int64_t i = 0; i < n; ++i)
      if (job.keep_row[i]) in.push_back(i);
    train(net, in, job.model);

    ModelResult result;
    result.model = job.model;
    result.attempt = job.attempt;
    evaluate(net, job.keep_row, result);
    result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return result;
  }

 private:
  // Windows of `context` tokens packed with whole records: tokens and record ids [W, C].
  // One record per window when the model cannot mask records (TorchScript).
  void pack(const std::vector<int64_t>& order, torch::Tensor& idx, torch::Tensor& rec, bool one_per_window) const {
    const auto& text = *dataset_->text;
    const int64_t C = config_.model.context;
    std::vector<int64_t> tok, rid;
    int64_t used = 0;
    auto close_window = [&] {
      for (; used < C; ++used) tok.push_back(0), rid.push_back(-1);
      used = 0;
    };
    for (int64_t r : order) {
      const int64_t len = text.length(r);
      if (used > 0 && (one_per_window || used + len > C)) close_window();
      for (int64_t i = text.offsets[r]; i < text.offsets[r + 1]; ++i) tok.push_back(text.tokens[i]), rid.push_back(r);
      used += len;
    }
    if (used > 0) close_window();
    const int64_t windows = static_cast<int64_t>(tok.size()) / C;
    idx = torch::tensor(tok, torch::kInt64).view({windows, C});
    rec = torch::tensor(rid, torch::kInt64).view({windows, C});
  }

  void train(LmModel& net, const std::vector<int64_t>& in, int64_t model_index) const {
    const auto& t = config_.training;
    const auto named = net.named_parameters();
    auto optimizer = make_optimizer(t, named);
    std::vector<torch::Tensor> params;
    for (auto& [name, p] : named) params.push_back(p);
    const bool one_per_window = !net.masks_records();
    net.set_training(true);
    // Each epoch packs the IN records in a fresh random order. The step count comes from
    // the first epoch's packing (later ones hold a similar number of windows).
    auto shuffled = [&] {
      const auto perm = torch::randperm(static_cast<int64_t>(in.size()), torch::kInt64);
      const int64_t* p = perm.data_ptr<int64_t>();
      std::vector<int64_t> order(in.size());
      for (size_t i = 0; i < in.size(); ++i) order[i] = in[static_cast<size_t>(p[i])];
      return order;
    };
    torch::Tensor idx, rec;
    pack(shuffled(), idx, rec, one_per_window);
    const int64_t per_step = t.batch_size * t.accumulate;
    const int64_t steps_per_epoch = std::max<int64_t>(1, (idx.size(0) + per_step - 1) / per_step);
    const int64_t total_steps = t.epochs * steps_per_epoch;
    // Predictions per epoch: every IN record's tokens but its first.
    int64_t predicted = 0;
    for (int64_t r : in) predicted += dataset_->text->length(r) - 1;
    int64_t step = 0;
    for (int64_t epoch = 0; epoch < t.epochs; ++epoch) {
      if (epoch > 0) pack(shuffled(), idx, rec, one_per_window);
      idx = idx.to(device_), rec = rec.to(device_);
      const int64_t windows = idx.size(0);
      auto epoch_loss = torch::zeros({}, torch::TensorOptions(device_).dtype(torch::kFloat64));
      for (int64_t start = 0; start < windows; ++step) {
        const double lr = learning_rate(t, std::min(step, total_steps - 1), total_steps);
        for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
        optimizer->zero_grad();
        for (int64_t a = 0; a < t.accumulate && start < windows; ++a, start += t.batch_size) {
          const int64_t end = std::min(start + t.batch_size, windows);
          const auto x = idx.slice(0, start, end), r = rec.slice(0, start, end);
          // Predict position i + 1 from position i, within a record only.
          const auto valid = r.slice(1, 0, -1).eq(r.slice(1, 1)).logical_and(r.slice(1, 1).ge(0));
          torch::Tensor loss;
          {
            compat::CudaAutocast autocast(bf16_);
            const auto logits = net.forward(x, r).slice(1, 0, -1).to(torch::kFloat32);
            const auto nll = torch::nn::functional::cross_entropy(
                logits.reshape({-1, logits.size(-1)}), x.slice(1, 1).reshape({-1}),
                torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
            const auto mask = valid.reshape({-1}).to(torch::kFloat32);
            const auto sum = (nll * mask).sum();
            loss = sum / mask.sum().clamp_min(1.0);
            epoch_loss += sum.detach().to(torch::kFloat64);
          }
          (loss / static_cast<double>(t.accumulate)).backward();
        }
        if (t.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, t.grad_clip);
        optimizer->step();
      }
      // One host synchronization per epoch.
      const double mean = epoch_loss.item<double>() / static_cast<double>(std::max<int64_t>(1, predicted));
      if (!std::isfinite(mean))
        throw TrainError("model " + std::to_string(model_index) + ": training loss became " + std::to_string(mean) +
                         " in epoch " + std::to_string(epoch + 1) + "; lower training.lr");
      spdlog::debug("model {} epoch {}/{}: loss {:.4f} per token", model_index, epoch + 1, t.epochs, mean);
    }
  }

  // Per-token statistics of every record of `records`, each run alone; calls
  // visit(record, stats over its predicted tokens, correct predictions).
  template <class Visit>
  void per_record(LmModel& net, const TokenRecords& records, Visit visit) const {
    torch::NoGradGuard no_grad;
    net.set_training(false);
    for (int64_t first = 0; first < records.count(); first += kEvalRecords) {
      const int64_t last = std::min(records.count(), first + kEvalRecords);
      int64_t T = 0;
      for (int64_t r = first; r < last; ++r) T = std::max(T, records.length(r));
      const int64_t B = last - first;
      std::vector<int64_t> tok(static_cast<size_t>(B * T), 0), rid(static_cast<size_t>(B * T), -1);
      for (int64_t r = first; r < last; ++r)
        for (int64_t i = 0; i < records.length(r); ++i) {
          tok[(r - first) * T + i] = records.tokens[records.offsets[r] + i];
          rid[(r - first) * T + i] = 0;
        }
      const auto x = torch::tensor(tok, torch::kInt64).view({B, T}).to(device_);
      const auto rr = torch::tensor(rid, torch::kInt64).view({B, T}).to(device_);
      const auto logits = net.forward(x, rr).to(torch::kFloat32).to(torch::kCPU);
      const auto xc = x.to(torch::kCPU);
      for (int64_t r = first; r < last; ++r) {
        const int64_t len = records.length(r);
        if (len < 2) {
          visit(r, TokenStats{}, 0);
          continue;
        }
        const auto z = logits[r - first].slice(0, 0, len - 1);
        const auto target = xc[r - first].slice(0, 1, len);
        const int64_t correct = z.argmax(-1).eq(target).sum().item<int64_t>();
        visit(r, token_stats(z, target), correct);
      }
    }
  }

  void evaluate(LmModel& net, const std::vector<uint8_t>& keep, ModelResult& result) const {
    const auto& text = *dataset_->text;
    const int64_t n = text.count(), S = text.offsets.back();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    SignalArray conf{"logit_confidence", {n, 1}, std::vector<float>(static_cast<size_t>(n))};
    SignalArray loss{"loss", {n, 1}, std::vector<float>(static_cast<size_t>(n))};
    SignalArray lp{"token_logprob", {S}, std::vector<float>(static_cast<size_t>(S), nan)};
    SignalArray mu{"token_mu", {S}, std::vector<float>(static_cast<size_t>(S), nan)};
    SignalArray sigma{"token_sigma", {S}, std::vector<float>(static_cast<size_t>(S), nan)};
    int64_t in_tokens = 0, in_correct = 0;
    per_record(net, text, [&](int64_t r, const TokenStats& st, int64_t correct) {
      if (!st.logprob.defined()) {
        loss.values[r] = nan, conf.values[r] = nan;
        return;
      }
      const auto* l = st.logprob.data_ptr<double>();
      const auto* m = st.mu.data_ptr<double>();
      const auto* s = st.sigma.data_ptr<double>();
      const int64_t k = st.logprob.size(0);
      double sum = 0;
      for (int64_t i = 0; i < k; ++i) {
        // Slot 0 of a record is its begin-of-record token, which nothing predicts.
        const int64_t slot = text.offsets[r] + 1 + i;
        lp.values[slot] = static_cast<float>(l[i]);
        mu.values[slot] = static_cast<float>(m[i]);
        sigma.values[slot] = static_cast<float>(s[i]);
        sum -= l[i];
      }
      loss.values[r] = static_cast<float>(sum / static_cast<double>(k));
      conf.values[r] = -loss.values[r];
      if (keep[r]) in_tokens += k, in_correct += correct;
    });
    int64_t test_tokens = 0, test_correct = 0;
    per_record(net, *dataset_->text_test, [&](int64_t, const TokenStats& st, int64_t correct) {
      if (st.logprob.defined()) test_tokens += st.logprob.size(0), test_correct += correct;
    });
    // Accuracies: of the next-token predictions, on the IN records and on the test records.
    result.train_accuracy = in_tokens ? static_cast<double>(in_correct) / static_cast<double>(in_tokens) : 0.0;
    result.test_accuracy = test_tokens ? static_cast<double>(test_correct) / static_cast<double>(test_tokens) : 0.0;
    result.signals.push_back(std::move(conf));
    result.signals.push_back(std::move(loss));
    result.signals.push_back(std::move(lp));
    result.signals.push_back(std::move(mu));
    result.signals.push_back(std::move(sigma));
  }

  Config config_;
  std::shared_ptr<const Dataset> dataset_;
  int threads_;
  torch::Device device_;
  bool bf16_ = false;
};

}  // namespace

TokenStats token_stats(const torch::Tensor& logits, const torch::Tensor& targets) {
  const auto logp = torch::log_softmax(logits.to(torch::kFloat64), -1);  // [T, V]
  const auto p = logp.exp();
  TokenStats s;
  s.logprob = logp.gather(1, targets.to(torch::kInt64).unsqueeze(1)).squeeze(1).contiguous();
  s.mu = (p * logp).sum(-1).contiguous();
  s.sigma = ((p * logp * logp).sum(-1) - s.mu * s.mu).clamp_min(0.0).sqrt().contiguous();
  return s;
}

std::unique_ptr<JobRunner> make_lm_runner(const Config& config, std::shared_ptr<const Dataset> dataset, int threads,
                                          torch::Device device, GangComm* gang) {
  if (gang && gang->size() > 1)
    throw ConfigError("parallel.ranks_per_model > 1 is not supported for model.arch: gpt yet; use 1");
  return std::make_unique<LmRunner>(config, std::move(dataset), threads, device);
}

}  // namespace lira
