// Implements the libtorch JobRunner: train one reference model on its IN candidates with
// the configured recipe, then compute every candidate's signals under every query.
//
// Determinism: each job seeds torch's generators with its own seed before it builds the
// model, and draws every batch order and augmentation from them; one process runs one
// job at a time. So on CPU a job's signals depend only on (config, seed, keep row, thread
// count), not on which worker runs it or when. (CUDA kernels are not bitwise
// reproducible; see docs/determinism in docs/architecture.md.)
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <cmath>

#include "augment.hpp"
#include "common/errors.hpp"
#include "common/signal.hpp"
#include "nccl/nccl_gang.hpp"
#include "lm.hpp"
#include "network.hpp"
#include "schedule.hpp"
#include "torch_compat.hpp"
#include "trainer.hpp"

namespace lira {
namespace {

constexpr int64_t kEvalBatch = 1024;
constexpr int64_t kWhiteningSample = 5000;

torch::Device resolve_device(const Config& config, int device_index, int workers_on_node) {
  const std::string& wanted = config.training.device;
  const bool have_gpu = torch::cuda::is_available();
  if (wanted == "cuda" && !have_gpu)
    throw ConfigError(std::string("training.device is cuda, but ") +
                      (compat::cuda_compiled() ? "no GPU is visible to this process"
                                               : "this libtorch was built without CUDA (see lira --version); "
                                                 "build against a CUDA libtorch or use training.device: cpu"));
  if (wanted == "cpu" || !have_gpu) return torch::kCPU;
  const int count = static_cast<int>(torch::cuda::device_count());
  const int64_t per_gpu = config.parallel.ranks_per_gpu;
  if (workers_on_node > count * per_gpu)
    throw ConfigError(std::to_string(workers_on_node) + " worker ranks on this node, but " + std::to_string(count) +
                      " GPU(s) x parallel.ranks_per_gpu " + std::to_string(per_gpu) + " = " +
                      std::to_string(count * per_gpu) + " slots: start fewer ranks per node or raise "
                      "parallel.ranks_per_gpu");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device_index % count));
}

// Raw split data as tensors on the device: uint8 images or float features.
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

// Exponential moving average of parameters and floating-point buffers, debiased as
// objax's ExponentialMovingAverage(debias=True) in the official LiRA code.
class WeightAverage {
 public:
  WeightAverage(std::vector<torch::Tensor> live, double decay) : live_(std::move(live)), decay_(decay) {
    torch::NoGradGuard no_grad;
    for (auto& t : live_) shadow_.push_back(torch::zeros_like(t));
  }
  void update() {
    torch::NoGradGuard no_grad;
    ++updates_;
    for (size_t i = 0; i < live_.size(); ++i) shadow_[i].mul_(decay_).add_(live_[i].detach(), 1.0 - decay_);
  }
  // Replaces the live values by the debiased averages.
  void apply() {
    if (updates_ == 0) return;
    torch::NoGradGuard no_grad;
    const double debias = 1.0 - std::pow(decay_, static_cast<double>(updates_));
    for (size_t i = 0; i < live_.size(); ++i) live_[i].copy_(shadow_[i] / debias);
  }

 private:
  std::vector<torch::Tensor> live_, shadow_;
  double decay_;
  int64_t updates_ = 0;
};

// Debian's libtorch does its CPU matrix products through libblas.so.3, which is the
// unoptimised reference BLAS unless an optimised one is installed: profiling the
// quickstart found 97% of its time in the reference sgemm_, 19x slower than OpenBLAS
// (docs/performance.md). Says so once, with the fix.
void warn_if_reference_blas() {
  static bool checked = false;
  if (checked) return;
  checked = true;
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (!sgemm || dladdr(sgemm, &info) == 0 || !info.dli_fname) return;
  std::error_code ec;
  const auto real = std::filesystem::canonical(info.dli_fname, ec).string();
  if (!ec && real.find("/blas/libblas.so") != std::string::npos)
    spdlog::warn("CPU training uses the reference BLAS ({}), ~10x slower than an optimised one: install "
                 "libopenblas0-openmp (scripts/install-deps.sh does)",
                 real);
}

class TorchRunner final : public JobRunner {
 public:
  TorchRunner(const Config& config, std::shared_ptr<const Dataset> dataset, int threads, int device_index,
              GangComm* gang, int workers_on_node)
      : config_(config),
        dataset_(std::move(dataset)),
        threads_(threads),
        device_(resolve_device(config, device_index, workers_on_node)),
        gang_(gang && gang->size() > 1 ? gang : nullptr),
        queries_(config.query_specs()) {
    const auto& d = *dataset_;
    images_ = d.candidates.is_image();
    x_ = raw_tensor(d.candidates, device_);
    y_ = label_tensor(d.candidates, device_);
    x_test_ = raw_tensor(d.test, device_);
    y_test_ = label_tensor(d.test, device_);
    const int64_t channels = static_cast<int64_t>(d.scale.size());
    std::vector<int64_t> view{1, channels};
    if (images_) view.insert(view.end(), {1, 1});
    scale_ = torch::tensor(d.scale).view(view).to(device_);
    shift_ = torch::tensor(d.shift).view(view).to(device_);
    const bool cuda = device_.is_cuda();
    bf16_ = cuda && config.training.bf16;
    channels_last_ = cuda && config.training.channels_last && images_ && config.model.arch != "mlp";
    spdlog::debug("trainer: device {}, bf16 {}, channels_last {}", device_.str(), bf16_, channels_last_);
    if (gang_ && cuda && !nccl_version().empty() && gang_devices_distinct()) {
      // Gradients and weights stay on the GPU: NCCL over the gang, bootstrapped by MPI.
      nccl_ = make_nccl_gang(*gang_, device_.index(), std::chrono::seconds(config.parallel.collective_timeout));
      spdlog::info("{}: NCCL {} on {}", nccl_->name(), nccl_version(), device_.str());
    }
    if (!cuda) warn_if_reference_blas();
  }

  bool broken() const override { return gang_ && (gang_->broken() || (nccl_ && nccl_->broken())); }

  ModelResult run(const JobAssignment& job) override {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t n = dataset_->candidates.count;
    if (static_cast<int64_t>(job.keep_row.size()) != n)
      throw TrainError("job for model " + std::to_string(job.model) + " has a keep row of " +
                       std::to_string(job.keep_row.size()) + " entries, expected " + std::to_string(n));
    // Per job, from the thread that runs it: OpenMP's thread count is per calling thread.
    torch::set_num_threads(threads_);
    torch::manual_seed(job.seed);

    const auto in_idx = in_indices(job.keep_row);
    NetworkInputs inputs{dataset_->candidates.example_shape, dataset_->classes, {}};
    if (config_.model.arch == "airbench")
      inputs.init_sample = normalize(x_.index_select(0, in_idx.slice(0, 0, kWhiteningSample)));
    auto net = build_network(config_.model, inputs);
    net->to(device_, channels_last_);
    if (gang_) broadcast_weights(*net);
    train(*net, in_idx, job.model);

    ModelResult result;
    result.model = job.model;
    result.attempt = job.attempt;
    if (gang_ && gang_->rank() != 0) return result;  // the leader evaluates and reports
    evaluate(*net, job.keep_row, result);
    result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return result;
  }

 private:
  torch::Tensor in_indices(const std::vector<uint8_t>& keep) const {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < static_cast<int64_t>(keep.size()); ++i)
      if (keep[i]) idx.push_back(i);
    return torch::tensor(idx, torch::kInt64).to(device_);
  }

  torch::Tensor normalize(const torch::Tensor& raw) const {
    auto x = raw.to(torch::kFloat32).mul_(scale_).add_(shift_);
    return channels_last_ ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer(Network& net) const {
    return lira::make_optimizer(config_.training, net.named_parameters());
  }

  void train(Network& net, const torch::Tensor& in_idx, int64_t model_index) const {
    const auto& t = config_.training;
    auto optimizer = make_optimizer(net);
    std::unique_ptr<WeightAverage> ema;
    if (t.ema > 0) {
      std::vector<torch::Tensor> state;
      for (auto& [name, p] : net.named_parameters()) state.push_back(p);
      for (auto& b : net.buffers())
        if (b.is_floating_point()) state.push_back(b);
      ema = std::make_unique<WeightAverage>(state, t.ema);
    }
    const auto loss_options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(t.label_smoothing);
    const auto sum_options =
        torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(t.label_smoothing).reduction(torch::kSum);
    net.set_training(true);
    const int64_t n_in = in_idx.size(0);
    const int64_t steps_per_epoch = (n_in + t.batch_size - 1) / t.batch_size;
    const int64_t total_steps = t.epochs * steps_per_epoch;
    int64_t step = 0;
    for (int64_t epoch = 0; epoch < t.epochs; ++epoch) {
      const auto order = in_idx.index_select(0, torch::randperm(n_in, torch::kInt64).to(device_));
      auto epoch_loss = torch::zeros({}, torch::TensorOptions(device_).dtype(torch::kFloat64));
      for (int64_t start = 0; start < n_in; start += t.batch_size, ++step) {
        const auto batch = order.slice(0, start, std::min(start + t.batch_size, n_in));
        auto x = normalize(x_.index_select(0, batch));
        // Augmented for the whole batch on every rank of a gang, so the random draws are
        // the same as on one rank; then each rank keeps its shard.
        if (images_ && (t.augment_flip || t.augment_crop > 0)) x = augment_batch(x, t.augment_flip, t.augment_crop);
        auto y = y_.index_select(0, batch);
        const double lr = learning_rate(t, step, total_steps);
        for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
        optimizer->zero_grad();
        if (!gang_) {
          torch::Tensor loss;
          {
            compat::CudaAutocast autocast(bf16_);
            loss = torch::nn::functional::cross_entropy(net.forward(x).to(torch::kFloat32), y, loss_options);
          }
          loss.backward();
          epoch_loss += loss.detach().to(torch::kFloat64) * static_cast<double>(batch.size(0));
        } else {
          // Shard r of k; the loss is the shard's sum over the whole batch's size, so the
          // gradients summed over the gang are the full batch's mean gradient.
          const int64_t b = batch.size(0), k = gang_->size(), r = gang_->rank();
          const int64_t lo = b * r / k, hi = b * (r + 1) / k;
          if (hi > lo) {
            torch::Tensor loss;
            {
              compat::CudaAutocast autocast(bf16_);
              loss = torch::nn::functional::cross_entropy(net.forward(x.slice(0, lo, hi)).to(torch::kFloat32),
                                                          y.slice(0, lo, hi), sum_options) /
                     static_cast<double>(b);
            }
            loss.backward();
            epoch_loss += loss.detach().to(torch::kFloat64) * static_cast<double>(b);
          }
          allreduce_gradients(net);
        }
        optimizer->step();
        if (ema) ema->update();
      }
      double mean_loss = epoch_loss.item<double>() / static_cast<double>(n_in);  // one sync per epoch
      if (gang_) {
        // Every rank sees the same epoch loss, so all of them stop together on a NaN.
        double total = mean_loss;
        gang_->allreduce_sum(&total, 1, "all-reduce of the epoch loss");
        mean_loss = total;
      }
      if (!std::isfinite(mean_loss))
        throw TrainError("model " + std::to_string(model_index) + ": training loss became " +
                         std::to_string(mean_loss) + " in epoch " + std::to_string(epoch + 1) + "; lower training.lr");
      spdlog::debug("model {} epoch {}/{}: loss {:.4f}", model_index, epoch + 1, t.epochs, mean_loss);
    }
    if (ema) ema->apply();
  }

  // Whether the gang's ranks use distinct GPUs (NCCL cannot put two ranks of one
  // communicator on one GPU). Collective over the gang.
  bool gang_devices_distinct() const {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    const auto id = std::hash<std::string>{}(std::string(host) + ":" + std::to_string(device_.index())) % (1ULL << 52);
    std::vector<double> ids(static_cast<size_t>(gang_->size()), 0.0);
    ids[static_cast<size_t>(gang_->rank())] = static_cast<double>(id);
    gang_->allreduce_sum(ids.data(), ids.size(), "exchange of the gang's GPUs");
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) == ids.end()) return true;
    if (gang_->rank() == 0)
      spdlog::warn("{}: ranks share a GPU (parallel.ranks_per_gpu > 1), which NCCL cannot: gradients go through MPI "
                   "on the host",
                   gang_->name());
    return false;
  }

  // The leader's parameters and buffers on every rank of the gang (the seeds agree too;
  // this makes it so whatever the initialization draws).
  void broadcast_weights(Network& net) const {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> state;
    for (auto& [name, p] : net.named_parameters()) state.push_back(p);
    for (auto& b : net.buffers()) state.push_back(b);
    for (auto& t : state) {
      auto& comm = tensor_comm();
      const bool host = !comm.device_memory() || !t.is_cuda();
      auto buf = host ? t.detach().to(torch::kCPU).contiguous().clone() : t.detach().contiguous().clone();
      comm.broadcast(buf.data_ptr(), static_cast<size_t>(buf.numel()) * buf.element_size(),
                       "broadcast of the initial weights");
      t.copy_(buf);
    }
  }

  // Sums the gradients over the gang, in flat float32 buckets of at most kBucket elements.
  void allreduce_gradients(Network& net) const {
    constexpr int64_t kBucket = 8 << 20;
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> grads;
    for (auto& [name, p] : net.named_parameters()) {
      if (!p.requires_grad()) continue;
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);  // an empty shard, or an unused parameter
      grads.push_back(p.grad());
    }
    auto& comm = tensor_comm();
    const bool host = !comm.device_memory() || !device_.is_cuda();
    for (size_t first = 0; first < grads.size();) {
      size_t last = first;
      int64_t n = 0;
      while (last < grads.size() && (n == 0 || n + grads[last].numel() <= kBucket)) n += grads[last++].numel();
      std::vector<torch::Tensor> flat;
      for (size_t i = first; i < last; ++i) flat.push_back(grads[i].flatten().to(torch::kFloat32));
      auto bucket = torch::cat(flat);
      if (host) bucket = bucket.to(torch::kCPU).contiguous();
      comm.allreduce_sum(bucket.data_ptr<float>(), static_cast<size_t>(bucket.numel()), "all-reduce of gradients");
      if (host) bucket = bucket.to(device_);
      int64_t offset = 0;
      for (size_t i = first; i < last; ++i) {
        const int64_t m = grads[i].numel();
        grads[i].copy_(bucket.slice(0, offset, offset + m).view_as(grads[i]));
        offset += m;
      }
      first = last;
    }
  }

  // Logits in fp32 on the CPU, batch by batch (no autocast: the signals need fp32).
  torch::Tensor logits(Network& net, const torch::Tensor& raw, const QuerySpec* query) const {
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < raw.size(0); s += kEvalBatch) {
      auto x = normalize(raw.slice(0, s, std::min(s + kEvalBatch, raw.size(0))));
      if (query) x = apply_query(x, *query);
      parts.push_back(net.forward(x).to(torch::kFloat32));
    }
    return torch::cat(parts).to(torch::kCPU).contiguous();
  }

  void evaluate(Network& net, const std::vector<uint8_t>& keep, ModelResult& result) const {
    torch::NoGradGuard no_grad;
    net.set_training(config_.queries.batchnorm == "train");  // "train": the reference code's inference
    const int64_t n = x_.size(0);
    const int64_t a = static_cast<int64_t>(queries_.size());
    const int64_t classes = dataset_->classes;
    SignalArray conf{"logit_confidence", {n, a}, std::vector<float>(static_cast<size_t>(n * a))};
    SignalArray loss{"loss", {n, a}, std::vector<float>(static_cast<size_t>(n * a))};
    const bool probabilities = config_.signals.probabilities, keep_logits = config_.signals.logits;
    SignalArray max_prob{"max_probability", {n, a}, {}}, entropy{"entropy", {n, a}, {}};
    SignalArray all_logits{"logits", {n, a, classes}, {}};
    if (probabilities) max_prob.values.resize(n * a), entropy.values.resize(n * a);
    if (keep_logits) all_logits.values.resize(static_cast<size_t>(n * a * classes));
    const auto& labels = dataset_->candidates.labels;
    for (int64_t q = 0; q < a; ++q) {
      const auto z = logits(net, x_, images_ ? &queries_[q] : nullptr);
      const float* zp = z.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) {
        const std::span<const float> zi(zp + i * classes, classes);
        const auto s = classifier_signal(zi, labels[i]);
        conf.values[i * a + q] = static_cast<float>(s.logit_confidence);
        loss.values[i * a + q] = static_cast<float>(s.loss);
        if (probabilities) {
          const auto ps = probability_stats(zi);
          max_prob.values[i * a + q] = static_cast<float>(ps.max_probability);
          entropy.values[i * a + q] = static_cast<float>(ps.entropy);
        }
        if (keep_logits) std::copy(zi.begin(), zi.end(), all_logits.values.begin() + (i * a + q) * classes);
      }
      if (q == 0) {
        // Training accuracy on the model's IN candidates, under the first query.
        int64_t correct = 0, in = 0;
        const auto pred = z.argmax(1);
        const int64_t* pp = pred.data_ptr<int64_t>();
        for (int64_t i = 0; i < n; ++i)
          if (keep[i]) ++in, correct += pp[i] == labels[i];
        result.train_accuracy = in ? static_cast<double>(correct) / static_cast<double>(in) : 0.0;
      }
    }
    net.set_training(false);  // test accuracy always with running statistics
    const auto zt = logits(net, x_test_, nullptr);
    result.test_accuracy = zt.argmax(1).eq(y_test_.to(torch::kCPU)).to(torch::kFloat64).mean().item<double>();
    result.signals.push_back(std::move(conf));
    result.signals.push_back(std::move(loss));
    if (probabilities) {
      result.signals.push_back(std::move(max_prob));
      result.signals.push_back(std::move(entropy));
    }
    if (keep_logits) result.signals.push_back(std::move(all_logits));
  }

  Config config_;
  std::shared_ptr<const Dataset> dataset_;
  int threads_;
  torch::Device device_;
  GangComm* gang_ = nullptr;  // set when training in a gang of more than one rank
  std::unique_ptr<GangComm> nccl_;  // the same gang over NCCL, on CUDA builds with NCCL
  GangComm& tensor_comm() const { return nccl_ ? *nccl_ : *gang_; }
  std::vector<QuerySpec> queries_;
  bool images_ = true, bf16_ = false, channels_last_ = false;
  torch::Tensor x_, y_, x_test_, y_test_, scale_, shift_;
};

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainingConfig& t,
                                                     const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  // Weight decay on conv and linear weights only, unless training.decay_all.
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& [name, p] : named) (t.decay_all || p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto groups = [&](auto make_options) {
    std::vector<torch::optim::OptimizerParamGroup> g;
    if (!decay.empty()) g.emplace_back(decay, make_options(t.weight_decay));
    if (!no_decay.empty()) g.emplace_back(no_decay, make_options(0.0));
    return g;
  };
  if (t.optimizer == "adam")
    return std::make_unique<torch::optim::Adam>(
        groups([&](double wd) { return std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(t.lr).weight_decay(wd)); }),
        torch::optim::AdamOptions(t.lr));
  if (t.optimizer == "adamw")
    return std::make_unique<torch::optim::AdamW>(
        groups([&](double wd) { return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(t.lr).weight_decay(wd)); }),
        torch::optim::AdamWOptions(t.lr));
  return std::make_unique<torch::optim::SGD>(groups([&](double wd) {
                                               return std::make_unique<torch::optim::SGDOptions>(
                                                   torch::optim::SGDOptions(t.lr)
                                                       .momentum(t.momentum)
                                                       .nesterov(t.nesterov)
                                                       .weight_decay(wd));
                                             }),
                                             torch::optim::SGDOptions(t.lr));
}


std::unique_ptr<JobRunner> make_torch_runner(const Config& config, std::shared_ptr<const Dataset> dataset,
                                             int threads, int device_index, GangComm* gang, int workers_on_node) {
  if (threads < 1) throw Error("make_torch_runner: threads must be >= 1");
  if (config.data.is_text())
    return make_lm_runner(config, std::move(dataset), threads, resolve_device(config, device_index, workers_on_node),
                          gang);
  return std::make_unique<TorchRunner>(config, std::move(dataset), threads, device_index, gang, workers_on_node);
}

TorchInfo torch_info() {
  TorchInfo info;
  info.version = compat::torch_version();
  info.cuda_compiled = compat::cuda_compiled();
  info.cuda_available = info.cuda_compiled && torch::cuda::is_available();
  info.gpus = info.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  std::string p = at::get_parallel_info();
  for (auto& ch : p)
    if (ch == '\n') ch = ';';
  info.parallel_info = p;
  info.nccl = nccl_version();
  return info;
}

}  // namespace lira
