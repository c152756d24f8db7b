// Implements the libtorch JobRunner: train one reference model on its IN candidates, then
// compute every candidate's signals under every query.
//
// Determinism: each job seeds torch's default generator with its own seed before it
// builds the model, and draws every batch order from it; one process runs one job at a
// time. So a job's signals depend only on (config, seed, keep row, thread count), not on
// which worker runs it or when.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

#include "common/errors.hpp"
#include "common/signal.hpp"
#include "models.hpp"
#include "torch_compat.hpp"
#include "trainer.hpp"

namespace lira {
namespace {

constexpr int64_t kEvalBatch = 1024;

// uint8 pixels -> normalized float tensor [count, C, H, W].
torch::Tensor to_tensor(const ImageSet& s, const Dataset& d) {
  auto t = torch::from_blob(const_cast<uint8_t*>(s.pixels.data()), {s.count, s.channels, s.height, s.width},
                            torch::kUInt8)
               .to(torch::kFloat32)
               .div_(255.0);
  for (int64_t c = 0; c < s.channels; ++c) {
    t.select(1, c).sub_(d.mean.at(c)).div_(d.stddev.at(c));
  }
  return t.contiguous();
}

torch::Tensor to_labels(const ImageSet& s) {
  return torch::from_blob(const_cast<int64_t*>(s.labels.data()), {s.count}, torch::kInt64).clone();
}

// The query transforms (test-time augmentations), in Config::query_names() order.
torch::Tensor apply_query(const std::string& query, const torch::Tensor& x) {
  if (query == "identity") return x;
  if (query == "mirror") return x.flip({3});
  throw Error("unknown query '" + query + "'");
}

class TorchRunner final : public JobRunner {
 public:
  TorchRunner(const Config& config, std::shared_ptr<const Dataset> dataset, int threads)
      : config_(config), dataset_(std::move(dataset)), threads_(threads), queries_(config.query_names()) {
    x_ = to_tensor(dataset_->candidates, *dataset_);
    y_ = to_labels(dataset_->candidates);
    x_test_ = to_tensor(dataset_->test, *dataset_);
    y_test_ = to_labels(dataset_->test);
  }

  ModelResult run(const JobAssignment& job) override {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t n = dataset_->candidates.count;
    if (static_cast<int64_t>(job.keep_row.size()) != n)
      throw TrainError("job for model " + std::to_string(job.model) + " has a keep row of " +
                       std::to_string(job.keep_row.size()) + " entries, expected " + std::to_string(n));
    // Per job, from the thread that runs it: OpenMP's thread count is per calling thread.
    torch::set_num_threads(threads_);
    torch::manual_seed(job.seed);

    const auto& d = dataset_->candidates;
    auto model = build_model(config_.model, d.channels, d.height, d.width, dataset_->classes);
    train(*model, in_indices(job.keep_row), job.model);

    ModelResult result;
    result.model = job.model;
    result.attempt = job.attempt;
    evaluate(*model, job.keep_row, result);
    result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return result;
  }

 private:
  torch::Tensor in_indices(const std::vector<uint8_t>& keep) const {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < static_cast<int64_t>(keep.size()); ++i)
      if (keep[i]) idx.push_back(i);
    return torch::tensor(idx, torch::kInt64);
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model) const {
    const auto& t = config_.training;
    if (t.optimizer == "adam")
      return std::make_unique<torch::optim::Adam>(model.parameters(),
                                                  torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay));
    return std::make_unique<torch::optim::SGD>(
        model.parameters(),
        torch::optim::SGDOptions(t.lr).momentum(t.momentum).nesterov(t.nesterov).weight_decay(t.weight_decay));
  }

  void train(torch::nn::SequentialImpl& model, const torch::Tensor& in_idx, int64_t model_index) const {
    const auto& t = config_.training;
    auto optimizer = make_optimizer(model);
    model.train();
    const int64_t n_in = in_idx.size(0);
    for (int64_t epoch = 0; epoch < t.epochs; ++epoch) {
      const auto order = in_idx.index_select(0, torch::randperm(n_in, torch::kInt64));
      auto epoch_loss = torch::zeros({}, torch::kFloat64);
      for (int64_t start = 0; start < n_in; start += t.batch_size) {
        const auto batch = order.slice(0, start, std::min(start + t.batch_size, n_in));
        const auto x = x_.index_select(0, batch);
        const auto y = y_.index_select(0, batch);
        optimizer->zero_grad();
        auto loss = torch::nn::functional::cross_entropy(model.forward(x), y);
        loss.backward();
        optimizer->step();
        epoch_loss += loss.detach().to(torch::kFloat64) * batch.size(0);
      }
      const double mean_loss = epoch_loss.item<double>() / static_cast<double>(n_in);
      if (!std::isfinite(mean_loss))
        throw TrainError("model " + std::to_string(model_index) + ": training loss became " +
                         std::to_string(mean_loss) + " in epoch " + std::to_string(epoch + 1) +
                         "; lower training.lr");
      spdlog::debug("model {} epoch {}/{}: loss {:.4f}", model_index, epoch + 1, t.epochs, mean_loss);
    }
  }

  torch::Tensor logits(torch::nn::SequentialImpl& model, const torch::Tensor& x) const {
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < x.size(0); s += kEvalBatch)
      parts.push_back(model.forward(x.slice(0, s, std::min(s + kEvalBatch, x.size(0)))));
    return torch::cat(parts).to(torch::kFloat32).contiguous();
  }

  void evaluate(torch::nn::SequentialImpl& model, const std::vector<uint8_t>& keep, ModelResult& result) const {
    torch::NoGradGuard no_grad;
    model.eval();
    const int64_t n = x_.size(0);
    const int64_t a = static_cast<int64_t>(queries_.size());
    SignalArray conf{"logit_confidence", {n, a}, std::vector<float>(static_cast<size_t>(n * a))};
    SignalArray loss{"loss", {n, a}, std::vector<float>(static_cast<size_t>(n * a))};
    const int64_t classes = dataset_->classes;
    for (int64_t q = 0; q < a; ++q) {
      const auto z = logits(model, apply_query(queries_[q], x_));
      const float* zp = z.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) {
        const auto s = classifier_signal(std::span<const float>(zp + i * classes, classes), dataset_->candidates.labels[i]);
        conf.values[i * a + q] = static_cast<float>(s.logit_confidence);
        loss.values[i * a + q] = static_cast<float>(s.loss);
      }
      if (q == 0) {
        // Training accuracy on the model's IN candidates, first query (identity if enabled).
        const auto correct = z.argmax(1).eq(y_);
        const auto in = torch::from_blob(const_cast<uint8_t*>(keep.data()), {n}, torch::kUInt8).to(torch::kBool);
        result.train_accuracy =
            correct.logical_and(in).sum().item<double>() / std::max<double>(1.0, in.sum().item<double>());
      }
    }
    const auto zt = logits(model, x_test_);
    result.test_accuracy = zt.argmax(1).eq(y_test_).to(torch::kFloat64).mean().item<double>();
    result.signals.push_back(std::move(conf));
    result.signals.push_back(std::move(loss));
  }

  Config config_;
  std::shared_ptr<const Dataset> dataset_;
  int threads_;
  std::vector<std::string> queries_;
  torch::Tensor x_, y_, x_test_, y_test_;
};

}  // namespace

std::unique_ptr<JobRunner> make_torch_runner(const Config& config, std::shared_ptr<const Dataset> dataset,
                                             int threads) {
  if (threads < 1) throw Error("make_torch_runner: threads must be >= 1");
  return std::make_unique<TorchRunner>(config, std::move(dataset), threads);
}

TorchInfo torch_info() {
  TorchInfo info;
  info.version = compat::torch_version();
  info.cuda_compiled = compat::cuda_compiled();
  info.cuda_available = info.cuda_compiled && torch::cuda::is_available();
  std::string p = at::get_parallel_info();
  for (auto& ch : p)
    if (ch == '\n') ch = ';';
  info.parallel_info = p;
  return info;
}

}  // namespace lira
