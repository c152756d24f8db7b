// The language-model task (task.hpp): lira's GPT or a TorchScript causal LM on text
// records, per-token and per-record signals (docs/language-models.md).
//
// Training packs the IN records, in a shuffled order, into windows of model.context
// tokens without splitting a record; a per-position record id makes attention
// block-diagonal (a token sees only earlier tokens of its own record), restarts the
// positions at every record and keeps the loss to predictions within a record, so packing
// changes nothing but speed: the model trains on each record exactly as if it were alone
// in its window. A TorchScript model cannot take record ids, so it gets one record per
// window. Evaluation runs each candidate record alone (begin-of-record token first) and
// computes the per-token statistics where the logits are.
#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/errors.hpp"
#include "lm.hpp"
#include "task.hpp"
#include "torch_compat.hpp"
#include "trainer.hpp"

namespace lira {
namespace {

// Logits per evaluation batch: records per batch shrink with the vocabulary and the
// records' length, so a 50,257-token vocabulary does not need gigabytes per batch.
constexpr int64_t kEvalRecords = 64;
constexpr int64_t kEvalLogits = int64_t{1} << 26;

class NativeLm final : public LmModel {
 public:
  NativeLm(const ModelConfig& m, int64_t vocab, torch::Device device) : net_(m, vocab) { net_->to(device); }
  torch::Tensor forward(const torch::Tensor& idx, const torch::Tensor& records) override {
    return net_->forward(idx, records);
  }
  NamedTensors named_parameters() override {
    NamedTensors out;
    for (auto& p : net_->named_parameters()) out.emplace_back(p.key(), p.value());
    return out;
  }
  std::vector<torch::Tensor> buffers() override { return net_->buffers(); }
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
      for (auto& [name, t] : unique_parameters(all_parameters())) {
        if (t.dim() >= 2) {
          t.normal_(0.0, 0.02);
        } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
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
  NamedTensors named_parameters() override {
    NamedTensors out;
    for (auto& [name, p] : all_parameters())
      if (p.requires_grad()) out.emplace_back(name, p);
    return out;
  }
  std::vector<torch::Tensor> buffers() override {
    std::vector<torch::Tensor> out;
    for (const auto& b : module_.buffers(/*recurse=*/true)) out.push_back(b);
    return out;
  }
  void set_training(bool on) override { module_.train(on); }
  bool masks_records() const override { return false; }

 private:
  NamedTensors all_parameters() {
    NamedTensors out;
    for (const auto& p : module_.named_parameters(/*recurse=*/true)) out.emplace_back(p.name, p.value);
    return out;
  }
  torch::jit::Module module_;
};

class LmTask final : public Task {
 public:
  LmTask(const TrainerContext& c, torch::Device device) : config_(c.config), dataset_(c.dataset), progress_(c.progress), device_(device) {
    if (!dataset_->text || !dataset_->text_test)
      throw ConfigError("model.arch: " + config_.model.arch + " as a language model needs text data (data.dataset)");
    bf16_ = device_.is_cuda() && config_.training.bf16;
    loss_options_ = torch::nn::functional::CrossEntropyFuncOptions()
                        .reduction(torch::kNone)
                        .label_smoothing(config_.training.label_smoothing);
  }

  const char* name() const override { return "language model"; }
  int64_t candidates() const override { return dataset_->text->count(); }

  void build(const std::vector<Lane>& lanes) override {
    if (lanes.size() != 1)
      throw ConfigError("parallel.models_per_job: a language model trains one model per job (its forward pass has no "
                        "model axis); set it to 1");
    width_ = 1;
    in_ = lanes[0].in;
    torch::manual_seed(lanes[0].seed);
    model_ = make_lm_model(config_.model, dataset_->classes, device_);
  }
  NamedTensors parameters() override { return unique_parameters(model_->named_parameters()); }
  std::vector<torch::Tensor> buffers() override { return model_->buffers(); }
  void set_training(bool on) override { model_->set_training(on); }

  // Each epoch packs the IN records in a fresh random order.
  int64_t begin_epoch(int64_t, int64_t) override {
    const auto perm = torch::randperm(static_cast<int64_t>(in_.size()), torch::kInt64);
    const int64_t* p = perm.data_ptr<int64_t>();
    std::vector<int64_t> order(in_.size());
    for (size_t i = 0; i < in_.size(); ++i) order[i] = in_[static_cast<size_t>(p[i])];
    torch::Tensor idx, rec;
    pack_windows(*dataset_->text, order, config_.model.context, !model_->masks_records(), idx, rec, predicted_);
    idx_ = idx.to(device_), rec_ = rec.to(device_);
    const int64_t windows = idx_.size(0), b = config_.training.batch_size;
    return (windows + b - 1) / b;
  }

  StepLoss loss(const std::vector<int64_t>& batches, int rank, int ranks) override {
    const int64_t b = config_.training.batch_size, windows = idx_.size(0), batch = batches.at(0);
    StepLoss out;
    out.items.assign(1, 0.0);
    out.sums = torch::zeros({1}, torch::TensorOptions(device_).dtype(torch::kFloat64));
    if (batch < 0) return out;
    const int64_t start = batch * b, end = std::min(start + b, windows);
    for (int64_t w = start; w < end; ++w) out.items[0] += static_cast<double>(predicted_[static_cast<size_t>(w)]);
    // Shard r of k: a slice of the batch's windows.
    const int64_t lo = start + (end - start) * rank / ranks, hi = start + (end - start) * (rank + 1) / ranks;
    if (hi <= lo) return out;
    const auto x = idx_.slice(0, lo, hi), r = rec_.slice(0, lo, hi);
    // Predict position i + 1 from position i, within a record only.
    const auto valid = r.slice(1, 0, -1).eq(r.slice(1, 1)).logical_and(r.slice(1, 1).ge(0));
    compat::CudaAutocast autocast(bf16_);
    const auto logits = model_->forward(x, r).slice(1, 0, -1).to(torch::kFloat32);
    const auto nll = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                                          x.slice(1, 1).reshape({-1}), loss_options_);
    const auto sum = (nll * valid.reshape({-1}).to(torch::kFloat32)).sum();
    out.loss = sum / std::max(1.0, out.items[0]);
    out.sums = sum.detach().to(torch::kFloat64).reshape({1});
    return out;
  }

  void evaluate(const std::vector<const std::vector<uint8_t>*>& keeps, const std::vector<ModelResult*>& results) override {
    if (!results.at(0)) return;
    const auto& keep = *keeps.at(0);
    ModelResult& result = *results[0];
    const auto& text = *dataset_->text;
    const int64_t n = text.count(), S = text.offsets.back();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    SignalArray conf{"logit_confidence", {n, 1}, std::vector<float>(static_cast<size_t>(n))};
    SignalArray loss{"loss", {n, 1}, std::vector<float>(static_cast<size_t>(n))};
    SignalArray lp{"token_logprob", {S}, std::vector<float>(static_cast<size_t>(S), nan)};
    SignalArray mu{"token_mu", {S}, std::vector<float>(static_cast<size_t>(S), nan)};
    SignalArray sigma{"token_sigma", {S}, std::vector<float>(static_cast<size_t>(S), nan)};
    int64_t in_tokens = 0, in_correct = 0;
    per_record(text, [&](int64_t r, const double* l, const double* m, const double* s, const uint8_t* ok, int64_t k) {
      if (k == 0) {
        loss.values[r] = nan, conf.values[r] = nan;
        return;
      }
      double sum = 0;
      int64_t correct = 0;
      for (int64_t i = 0; i < k; ++i) {
        // Slot 0 of a record is its begin-of-record token, which nothing predicts.
        const int64_t slot = text.offsets[r] + 1 + i;
        lp.values[slot] = static_cast<float>(l[i]);
        mu.values[slot] = static_cast<float>(m[i]);
        sigma.values[slot] = static_cast<float>(s[i]);
        sum -= l[i];
        correct += ok[i];
      }
      loss.values[r] = static_cast<float>(sum / static_cast<double>(k));
      conf.values[r] = -loss.values[r];
      if (keep[r]) in_tokens += k, in_correct += correct;
    });
    int64_t test_tokens = 0, test_correct = 0;
    per_record(*dataset_->text_test, [&](int64_t, const double*, const double*, const double*, const uint8_t* ok,
                                         int64_t k) {
      test_tokens += k;
      for (int64_t i = 0; i < k; ++i) test_correct += ok[i];
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

 private:
  // Per-token statistics of every record of `records`, each run alone; calls
  // visit(record, logprob, mu, sigma, correct, k) with its k predicted tokens' values.
  template <class Visit>
  void per_record(const TokenRecords& records, Visit visit) {
    torch::NoGradGuard no_grad;
    model_->set_training(false);
    const int64_t vocab = dataset_->classes;
    for (int64_t first = 0; first < records.count();) {
      if (progress_) progress_();
      int64_t last = first, T = 0;
      while (last < records.count() && last - first < kEvalRecords) {
        const int64_t t = std::max(T, records.length(last));
        if (last > first && (last - first + 1) * t * vocab > kEvalLogits) break;
        T = t, ++last;
      }
      const int64_t B = last - first;
      std::vector<int64_t> tok(static_cast<size_t>(B * T), 0), rid(static_cast<size_t>(B * T), -1);
      std::vector<int64_t> rows, targets;  // flat positions [B * T) that predict a token, and the tokens
      for (int64_t r = first; r < last; ++r) {
        const int64_t len = records.length(r), base = (r - first) * T;
        for (int64_t i = 0; i < len; ++i) {
          tok[base + i] = records.tokens[records.offsets[r] + i];
          rid[base + i] = 0;
          if (i + 1 < len) rows.push_back(base + i), targets.push_back(records.tokens[records.offsets[r] + i + 1]);
        }
      }
      const auto x = torch::tensor(tok, torch::kInt64).view({B, T}).to(device_);
      const auto rr = torch::tensor(rid, torch::kInt64).view({B, T}).to(device_);
      const auto logits = model_->forward(x, rr);
      TokenStats st;
      torch::Tensor correct;
      if (!rows.empty()) {
        const auto at = torch::tensor(rows, torch::kInt64).to(device_);
        const auto z = logits.reshape({B * T, logits.size(-1)}).index_select(0, at);
        const auto target = torch::tensor(targets, torch::kInt64).to(device_);
        st = token_stats(z, target);
        correct = z.argmax(-1).eq(target).to(torch::kUInt8).to(torch::kCPU).contiguous();
        st.logprob = st.logprob.to(torch::kCPU).contiguous();
        st.mu = st.mu.to(torch::kCPU).contiguous();
        st.sigma = st.sigma.to(torch::kCPU).contiguous();
      }
      int64_t offset = 0;
      for (int64_t r = first; r < last; ++r) {
        const int64_t k = std::max<int64_t>(0, records.length(r) - 1);
        if (k == 0) {
          visit(r, nullptr, nullptr, nullptr, nullptr, 0);
          continue;
        }
        visit(r, st.logprob.data_ptr<double>() + offset, st.mu.data_ptr<double>() + offset,
              st.sigma.data_ptr<double>() + offset, correct.data_ptr<uint8_t>() + offset, k);
        offset += k;
      }
      first = last;
    }
  }

  Config config_;
  std::shared_ptr<const Dataset> dataset_;
  std::function<void()> progress_;  // beats to the job process's rank (TrainerContext::progress)
  torch::Device device_;
  bool bf16_ = false;
  torch::nn::functional::CrossEntropyFuncOptions loss_options_;
  std::unique_ptr<LmModel> model_;
  std::vector<int64_t> in_;
  torch::Tensor idx_, rec_;
  std::vector<int64_t> predicted_;  // per window of the current epoch: tokens predicted
};

}  // namespace

std::unique_ptr<LmModel> make_lm_model(const ModelConfig& m, int64_t vocab, torch::Device device) {
  if (m.arch == "torchscript") return std::make_unique<ScriptedLm>(m, vocab, device);
  return std::make_unique<NativeLm>(m, vocab, device);
}

void pack_windows(const TokenRecords& text, const std::vector<int64_t>& order, int64_t context, bool one_per_window,
                  torch::Tensor& idx, torch::Tensor& rec, std::vector<int64_t>& predicted) {
  const int64_t C = context;
  std::vector<int64_t> tok, rid;
  predicted.clear();
  int64_t used = 0, count = 0;
  auto close_window = [&] {
    for (; used < C; ++used) tok.push_back(0), rid.push_back(-1);
    used = 0;
    predicted.push_back(count);
    count = 0;
  };
  for (int64_t r : order) {
    const int64_t len = text.length(r);
    if (used > 0 && (one_per_window || used + len > C)) close_window();
    for (int64_t i = text.offsets[r]; i < text.offsets[r + 1]; ++i) tok.push_back(text.tokens[i]), rid.push_back(r);
    used += len;
    count += std::max<int64_t>(0, len - 1);
  }
  if (used > 0) close_window();
  const int64_t windows = static_cast<int64_t>(tok.size()) / C;
  idx = torch::tensor(tok, torch::kInt64).view({windows, C});
  rec = torch::tensor(rid, torch::kInt64).view({windows, C});
}

namespace {

// On the CPU: one fused pass per row over float32 logits with float64 arithmetic -- the
// max, then exp(z - max) once per entry (kept), then log p, mu and the second moment --
// instead of eight float64 tensor passes over [K, V]. Rows in parallel.
TokenStats token_stats_cpu(const torch::Tensor& logits, const torch::Tensor& targets) {
  const auto z = logits.to(torch::kFloat32).contiguous();
  const auto t = targets.to(torch::kInt64).contiguous();
  const int64_t K = z.size(0), V = z.size(1);
  TokenStats out;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  out.logprob = torch::empty({K}, opts), out.mu = torch::empty({K}, opts), out.sigma = torch::empty({K}, opts);
  const float* zp = z.data_ptr<float>();
  const int64_t* tp = t.data_ptr<int64_t>();
  double *lp = out.logprob.data_ptr<double>(), *mu = out.mu.data_ptr<double>(), *sg = out.sigma.data_ptr<double>();
  at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
    std::vector<double> e(static_cast<size_t>(V));
    for (int64_t k = k0; k < k1; ++k) {
      const float* row = zp + k * V;
      double m = row[0];
      for (int64_t v = 1; v < V; ++v) m = std::max(m, static_cast<double>(row[v]));
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += (e[v] = std::exp(static_cast<double>(row[v]) - m));
      const double lse = m + std::log(sum), inv = 1.0 / sum;
      double first = 0, second = 0;
      for (int64_t v = 0; v < V; ++v) {
        const double l = static_cast<double>(row[v]) - lse, pl = e[v] * inv * l;
        first += pl;
        second += pl * l;
      }
      lp[k] = static_cast<double>(row[tp[k]]) - lse;
      mu[k] = first;
      sg[k] = std::sqrt(std::max(0.0, second - first * first));
    }
  });
  return out;
}

}  // namespace

TokenStats token_stats(const torch::Tensor& logits, const torch::Tensor& targets) {
  const int64_t K = logits.size(0), V = logits.size(-1);
  if (!logits.is_cuda()) return token_stats_cpu(logits, targets);
  // On the GPU: float64 tensor ops in row chunks of ~16M values, where the logits are.
  const int64_t rows = std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(1, V));
  std::vector<torch::Tensor> lp, mu, sg;
  for (int64_t s = 0; s < K; s += rows) {
    const auto z = logits.slice(0, s, std::min(K, s + rows)).to(torch::kFloat64);
    const auto logp = torch::log_softmax(z, -1);
    const auto plogp = logp.exp() * logp;
    const auto m = plogp.sum(-1);
    lp.push_back(logp.gather(1, targets.slice(0, s, std::min(K, s + rows)).to(torch::kInt64).unsqueeze(1)).squeeze(1));
    sg.push_back(((plogp * logp).sum(-1) - m * m).clamp_min(0.0).sqrt());
    mu.push_back(m);
  }
  TokenStats out;
  const auto opts = logits.options().dtype(torch::kFloat64);
  out.logprob = K ? torch::cat(lp).contiguous() : torch::zeros({0}, opts);
  out.mu = K ? torch::cat(mu).contiguous() : torch::zeros({0}, opts);
  out.sigma = K ? torch::cat(sg).contiguous() : torch::zeros({0}, opts);
  return out;
}

std::unique_ptr<Task> make_lm_task(const TrainerContext& context, torch::Device device) {
  return std::make_unique<LmTask>(context, device);
}

}  // namespace lira
