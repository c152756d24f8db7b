// Implements the packed trainer (packed.hpp).
#include "packed.hpp"

#include <ATen/Context.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>

#include "augment.hpp"
#include "classifier_common.hpp"
#include "common/errors.hpp"
#include "common/schedule.hpp"
#include "network.hpp"
#include "torch_compat.hpp"

namespace lira {
namespace {

constexpr int64_t kEvalBatch = 1024;

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

// One model of the pack: its job, draws, IN set, batch order and where it stands.
struct Member {
  explicit Member(const JobAssignment& j, torch::Device device) : job(j), draws(device) {}
  JobAssignment job;
  Draws draws;
  torch::Tensor in_idx, order;
  int64_t batches = 0, batch = 0, epoch = 0, steps = 0, total_steps = 0;
  double epoch_items = 0;
  bool alive = true;
  std::string diverged;
  bool active(int64_t step) const { return alive && step < total_steps; }
};

// A fused layer: w [K, out, in] (linear) or [K, out, in, 3, 3] (conv), b [K, out].
struct Layer {
  bool conv = false;
  torch::Tensor w, b;
};

// [K] -> [K, 1, ...] to broadcast over a parameter of `dims` dimensions.
torch::Tensor per_model(const torch::Tensor& v, int64_t dims) {
  std::vector<int64_t> shape(static_cast<size_t>(dims), 1);
  shape[0] = v.size(0);
  return v.view(shape);
}

// training.optimizer over fused parameters, elementwise as torch's SGD (momentum,
// Nesterov, no dampening), Adam and AdamW (betas 0.9/0.999, eps 1e-8), with a learning
// rate per model: a model at learning rate 0 does not move.
class FusedOptimizer {
 public:
  FusedOptimizer(const TrainingConfig& t, std::vector<torch::Tensor> params, std::vector<bool> decay)
      : t_(t), params_(std::move(params)), decay_(std::move(decay)), buf_(params_.size()), sq_(params_.size()) {}

  void step(const torch::Tensor& lr) {
    torch::NoGradGuard no_grad;
    ++steps_;
    const bool adam = t_.optimizer == "adam" || t_.optimizer == "adamw";
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double bc1 = 1.0 - std::pow(b1, static_cast<double>(steps_));
    const double bc2 = 1.0 - std::pow(b2, static_cast<double>(steps_));
    for (size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i];
      const auto lr_v = per_model(lr.to(p.scalar_type()), p.dim());
      const double wd = decay_[i] ? t_.weight_decay : 0.0;
      torch::Tensor g = p.grad();
      if (!adam) {
        if (wd != 0) g = g.add(p, wd);
        if (t_.momentum != 0) {
          if (!buf_[i].defined()) {
            buf_[i] = g.clone();
          } else {
            buf_[i].mul_(t_.momentum).add_(g);
          }
          g = t_.nesterov ? g.add(buf_[i], t_.momentum) : buf_[i];
        }
        p.addcmul_(lr_v, g, -1.0);  // p -= lr x g, without a temporary
        continue;
      }
      if (t_.optimizer == "adamw") {
        if (wd != 0) p.mul_(1.0 - lr_v * wd);
      } else if (wd != 0) {
        g = g.add(p, wd);
      }
      if (!buf_[i].defined()) buf_[i] = torch::zeros_like(p), sq_[i] = torch::zeros_like(p);
      buf_[i].mul_(b1).add_(g, 1.0 - b1);
      sq_[i].mul_(b2).addcmul_(g, g, 1.0 - b2);
      const auto denom = (sq_[i].sqrt() / std::sqrt(bc2)).add_(eps);
      p.sub_((lr_v / bc1) * buf_[i] / denom);
    }
  }
  // Model k's state, zeroed: it left the pack.
  void clear(int64_t k) {
    torch::NoGradGuard no_grad;
    for (auto* v : {&buf_, &sq_})
      for (auto& t : *v)
        if (t.defined()) t[k].zero_();
  }

 private:
  const TrainingConfig& t_;
  std::vector<torch::Tensor> params_;
  std::vector<bool> decay_;
  std::vector<torch::Tensor> buf_, sq_;  // momentum or first moment; second moment
  int64_t steps_ = 0;
};

// The debiased exponential moving average of the weights (training.ema), per model:
// only the models that stepped update theirs.
class FusedAverage {
 public:
  FusedAverage(std::vector<torch::Tensor> live, double decay, int64_t k)
      : live_(std::move(live)), decay_(decay), updates_(static_cast<size_t>(k), 0) {
    for (auto& t : live_) shadow_.push_back(torch::zeros_like(t));
  }
  void update(const torch::Tensor& active, const std::vector<bool>& stepped) {
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < updates_.size(); ++k) updates_[k] += stepped[k];
    for (size_t i = 0; i < live_.size(); ++i)
      shadow_[i] = torch::where(per_model(active, live_[i].dim()), shadow_[i] * decay_ + live_[i] * (1.0 - decay_),
                                shadow_[i]);
  }
  void apply() {
    torch::NoGradGuard no_grad;
    std::vector<double> debias;
    for (const auto u : updates_) debias.push_back(u ? 1.0 - std::pow(decay_, static_cast<double>(u)) : 0.0);
    for (size_t k = 0; k < updates_.size(); ++k) {
      if (updates_[k] == 0) continue;
      for (size_t i = 0; i < live_.size(); ++i) live_[i][static_cast<int64_t>(k)].copy_(shadow_[i][static_cast<int64_t>(k)] / debias[k]);
    }
  }

 private:
  std::vector<torch::Tensor> live_, shadow_;
  double decay_;
  std::vector<int64_t> updates_;
};

}  // namespace

struct PackedTrainer::Data {
  Data(const TrainerContext& c, torch::Device d)
      : config(c.config),
        dataset(c.dataset),
        progress(c.progress),
        device(d),
        threads(c.threads),
        queries(config.query_specs()) {
    const auto& ds = *dataset;
    images = ds.candidates.is_image();
    x = raw_tensor(ds.candidates, device);
    y = label_tensor(ds.candidates, device);
    x_test = raw_tensor(ds.test, device);
    y_test = label_tensor(ds.test, device);
    const int64_t channels = static_cast<int64_t>(ds.scale.size());
    std::vector<int64_t> view{1, channels};
    if (images) view.insert(view.end(), {1, 1});
    scale = torch::tensor(ds.scale).view(view).to(device);
    shift = torch::tensor(ds.shift).view(view).to(device);
    bf16 = device.is_cuda() && config.training.bf16;
    if (const char* env = std::getenv("LIRA_TEST_DIVERGE")) diverge = std::atoll(env);
    none_options = torch::nn::functional::CrossEntropyFuncOptions()
                       .label_smoothing(config.training.label_smoothing)
                       .reduction(torch::kNone);
  }

  torch::Tensor normalize(const torch::Tensor& raw) const { return raw.to(compute).mul_(scale).add_(shift); }

  void beat() const {
    if (progress) progress();
  }

  // Draws member m's batch order for its epoch (its draws loaded) and counts its batches.
  void begin_epoch(Member& m) const {
    const int64_t n_in = m.in_idx.size(0), b = config.training.batch_size;
    m.draws.load();
    m.order = m.in_idx.index_select(0, torch::randperm(n_in, torch::kInt64).to(device));
    m.draws.save();
    m.batches = (n_in + b - 1) / b;
    m.batch = 0;
    m.epoch_items = 0;
  }

  // The fused network's logits [K, B, classes]. Convolutions: on CUDA one groups=K
  // convolution over [B, K C, H, W]; on the CPU each model's own convolution in turn
  // (measured: oneDNN's grouped convolution, backward included, ran 2-10x slower there than
  // K separate ones -- docs/training.md), over its own [B, C, H, W].
  torch::Tensor forward_convs(const std::vector<torch::Tensor>& inputs) const {
    const auto k = static_cast<int64_t>(inputs.size());
    size_t convs = 0;
    while (convs < layers.size() && layers[convs].conv) ++convs;
    if (device.is_cuda()) {
      auto h = torch::cat(inputs, 1);  // [B, K C, H, W]: model j's channels in block j
      for (size_t i = 0; i < convs; ++i) {
        const auto& l = layers[i];
        const int64_t out = l.w.size(1);
        h = torch::conv2d(h, l.w.view({k * out, l.w.size(2), l.w.size(3), l.w.size(4)}), l.b.view({k * out}), 1, 1, 1,
                          k);
        h = torch::max_pool2d(torch::relu(h), 2);
      }
      return linears(h.view({h.size(0), k, -1}).transpose(0, 1), convs);  // [K, B, C h w], as Flatten orders it
    }
    std::vector<torch::Tensor> hs = inputs;
    for (size_t i = 0; i < convs; ++i) {
      const auto ws = layers[i].w.unbind(0), bs = layers[i].b.unbind(0);
      for (int64_t j = 0; j < k; ++j) hs[j] = torch::max_pool2d(torch::relu(torch::conv2d(hs[j], ws[j], bs[j], 1, 1)), 2);
    }
    for (auto& h : hs) h = h.flatten(1);
    return linears(torch::stack(hs), convs);
  }
  // The linear layers from layer `first` on: h [K, B, features] -> [K, B, classes].
  torch::Tensor linears(torch::Tensor h, size_t first) const {
    for (size_t i = first; i < layers.size(); ++i) {
      h = torch::baddbmm(layers[i].b.unsqueeze(1), h, layers[i].w.transpose(1, 2));
      if (i + 1 < layers.size()) h = torch::relu(h);
    }
    return h;
  }
  bool conv() const { return !layers.empty() && layers[0].conv; }
  // Each model's own inputs: xs[j] [B, example...] for model j.
  torch::Tensor forward_own(const std::vector<torch::Tensor>& xs) const {
    if (conv()) return forward_convs(xs);
    const auto k = static_cast<int64_t>(xs.size());
    return linears(torch::stack(xs).reshape({k, xs[0].size(0), -1}), 0);
  }
  // The same inputs for every model: x [B, example...].
  torch::Tensor forward_shared(const torch::Tensor& x, int64_t k) const {
    if (conv()) return forward_convs(std::vector<torch::Tensor>(static_cast<size_t>(k), x));
    return linears(x.reshape({1, x.size(0), -1}).expand({k, x.size(0), -1}), 0);
  }

  // Logits [K, n, classes], float32 on the CPU, of raw inputs under a query.
  torch::Tensor logits(const torch::Tensor& raw, const QuerySpec* query, int64_t k) const {
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < raw.size(0); s += kEvalBatch) {
      auto xb = normalize(raw.slice(0, s, std::min(s + kEvalBatch, raw.size(0))));
      if (query) xb = apply_query(xb, *query);
      parts.push_back(forward_shared(xb, k).to(torch::kFloat32));
      beat();
    }
    return torch::cat(parts, 1).to(torch::kCPU).contiguous();
  }

  Config config;
  std::shared_ptr<const Dataset> dataset;
  std::function<void()> progress;
  torch::Device device;
  int threads = 1;
  std::vector<QuerySpec> queries;
  bool images = true, bf16 = false;
  int64_t diverge = -1;  // LIRA_TEST_DIVERGE: the model made to diverge in its pack (tests)
  torch::ScalarType compute = torch::typeMetaToScalarType(torch::get_default_dtype());
  torch::Tensor x, y, x_test, y_test, scale, shift;
  torch::nn::functional::CrossEntropyFuncOptions none_options;
  std::vector<Layer> layers;  // this pack's network
};

PackedTrainer::PackedTrainer(const TrainerContext& context, torch::Device device)
    : data_(std::make_unique<Data>(context, device)) {
  const auto& arch = context.config.model.arch;
  if (arch != "mlp" && arch != "cnn")
    throw ConfigError("parallel.models_per_job: packs train mlp and cnn models; model.arch " + arch +
                      " trains one model per job (set parallel.models_per_job: 1)");
}

PackedTrainer::~PackedTrainer() = default;

std::vector<PackedModel> PackedTrainer::run(const std::vector<JobAssignment>& jobs) {
  auto& d = *data_;
  const auto& t = d.config.training;
  const auto t0 = std::chrono::steady_clock::now();
  const auto k = static_cast<int64_t>(jobs.size());
  const int64_t n = d.x.size(0);
  torch::set_num_threads(d.threads);  // per call: OpenMP's thread count is per calling thread

  // Each model's initial weights and first batch order, drawn as alone with its seed.
  std::vector<Member> members;
  std::vector<std::vector<torch::Tensor>> initial(static_cast<size_t>(k));
  NetworkInputs inputs{d.dataset->candidates.example_shape, d.dataset->classes, {}};
  for (int64_t j = 0; j < k; ++j) {
    const auto& job = jobs[j];
    if (static_cast<int64_t>(job.keep_row.size()) != n)
      throw TrainError("job for model " + std::to_string(job.model) + " has a keep row of " +
                       std::to_string(job.keep_row.size()) + " entries, expected " + std::to_string(n));
    members.emplace_back(job, d.device);
    auto& m = members.back();
    std::vector<int64_t> in;
    for (int64_t i = 0; i < n; ++i)
      if (job.keep_row[i]) in.push_back(i);
    m.in_idx = torch::tensor(in, torch::kInt64).to(d.device);
    torch::manual_seed(job.seed);
    auto net = build_network(d.config.model, inputs);
    for (auto& [name, p] : net->named_parameters()) initial[j].push_back(p.detach());
    m.draws.save();
    d.begin_epoch(m);
    const int64_t steps_per_epoch = m.batches;
    m.total_steps = static_cast<int64_t>(std::ceil(t.epochs * static_cast<double>(steps_per_epoch) - 1e-9));
  }
  // The fused parameters: model j's tensors at index j of the leading axis.
  d.layers.clear();
  std::vector<torch::Tensor> params;
  std::vector<bool> decay;
  for (size_t i = 0; i + 1 < initial[0].size(); i += 2) {
    Layer l;
    std::vector<torch::Tensor> ws, bs;
    for (int64_t j = 0; j < k; ++j) ws.push_back(initial[j][i]), bs.push_back(initial[j][i + 1]);
    l.w = torch::stack(ws).to(d.device).set_requires_grad(true);
    l.b = torch::stack(bs).to(d.device).set_requires_grad(true);
    l.conv = l.w.dim() == 5;
    params.push_back(l.w), decay.push_back(true);
    params.push_back(l.b), decay.push_back(t.decay_all);
    d.layers.push_back(l);
  }
  FusedOptimizer optimizer(t, params, decay);
  std::unique_ptr<FusedAverage> ema;
  if (t.ema > 0) ema = std::make_unique<FusedAverage>(params, t.ema, k);

  int64_t max_steps = 0;
  for (const auto& m : members) max_steps = std::max(max_steps, m.total_steps);
  const bool augment = d.images && (t.augment_flip || t.augment_crop > 0);
  const auto f64 = torch::TensorOptions(d.device).dtype(torch::kFloat64);
  auto epoch_sum = torch::zeros({k}, f64);
  std::vector<double> lr(static_cast<size_t>(k));
  std::vector<bool> stepped(static_cast<size_t>(k));
  for (int64_t step = 0; step < max_steps; ++step) {
    // Every active model's batch, padded to the longest with masked rows.
    std::vector<torch::Tensor> xs, ys;
    std::vector<int64_t> sizes(static_cast<size_t>(k), 0);
    int64_t longest = 0;
    for (int64_t j = 0; j < k; ++j) {
      auto& m = members[j];
      stepped[j] = m.active(step);
      lr[j] = 0;
      if (!stepped[j]) continue;
      const int64_t n_in = m.order.size(0), start = m.batch * t.batch_size;
      const auto batch = m.order.slice(0, start, std::min(start + t.batch_size, n_in));
      auto xb = d.normalize(d.x.index_select(0, batch));
      if (augment) {
        m.draws.load();
        xb = augment_batch(xb, t.augment_flip, t.augment_crop);
        m.draws.save();
      }
      xs.push_back(xb), ys.push_back(d.y.index_select(0, batch));
      sizes[j] = batch.size(0);
      longest = std::max(longest, sizes[j]);
      // The learning rate this model's step would have alone.
      const double examples = static_cast<double>(n_in);
      const double progress =
          (static_cast<double>(m.epoch) * examples + std::min(examples, static_cast<double>(start))) /
          (t.epochs * examples);
      lr[j] = t.schedule == "official" ? learning_rate_at(t, progress) : learning_rate(t, m.steps, m.total_steps);
    }
    if (longest == 0) break;
    std::vector<int64_t> example_shape{longest};
    for (auto s : d.dataset->candidates.example_shape) example_shape.push_back(s);
    std::vector<torch::Tensor> xp, yp;
    size_t next = 0;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t pad = longest - sizes[j];
      if (sizes[j] == 0) {
        xp.push_back(torch::zeros(example_shape, torch::TensorOptions(d.device).dtype(d.compute)));
        yp.push_back(torch::zeros({longest}, torch::TensorOptions(d.device).dtype(torch::kInt64)));
        continue;
      }
      auto& xb = xs[next];
      auto& yb = ys[next++];
      if (pad == 0) {
        xp.push_back(xb), yp.push_back(yb);
        continue;
      }
      auto shape = example_shape;
      shape[0] = pad;
      xp.push_back(torch::cat({xb, torch::zeros(shape, xb.options())}));
      yp.push_back(torch::cat({yb, torch::zeros({pad}, yb.options())}));
    }
    const auto counts = torch::tensor(sizes, torch::kInt64).to(d.device);
    const auto mask = torch::arange(longest, torch::TensorOptions(d.device).dtype(torch::kInt64)).unsqueeze(0) <
                      counts.unsqueeze(1);  // [K, B]
    for (auto& p : params)  // zeroed in place: a fresh gradient each step costs page faults
      if (p.grad().defined()) p.mutable_grad().zero_();
    torch::Tensor sums;
    {
      compat::CudaAutocast autocast(d.bf16);
      const auto z = d.forward_own(xp).to(d.compute);  // [K, B, classes]
      const auto ce = torch::nn::functional::cross_entropy(z.reshape({k * longest, -1}), torch::stack(yp).view({-1}),
                                                           d.none_options)
                          .view({k, longest});
      sums = torch::where(mask, ce, torch::zeros_like(ce)).sum(1);  // [K]
      const auto loss = (sums / counts.clamp_min(1).to(sums.scalar_type())).sum();
      loss.backward();
    }
    epoch_sum += sums.detach().to(torch::kFloat64);
    if (t.grad_clip > 0) {
      // Each model's gradients clipped to a global norm of grad_clip, as clip_grad_norm_.
      torch::NoGradGuard no_grad;
      torch::Tensor sq;
      for (auto& p : params) {
        const auto s = p.grad().pow(2).reshape({k, -1}).sum(1);
        sq = sq.defined() ? sq + s : s;
      }
      const auto coef = (t.grad_clip / (sq.sqrt() + 1e-6)).clamp_max(1.0);
      for (auto& p : params) p.mutable_grad().mul_(per_model(coef, p.dim()));
    }
    optimizer.step(torch::tensor(lr, torch::kFloat64).to(d.device));
    if (step == 0 && d.diverge >= 0) {
      // Fault injection for the tests (LIRA_TEST_DIVERGE=<model>): that model's weights
      // become NaN after its first step, as a diverging model's would.
      torch::NoGradGuard no_grad;
      for (int64_t j = 0; j < k; ++j)
        if (members[j].job.model == d.diverge)
          for (auto& p : params) p[j].fill_(std::numeric_limits<double>::quiet_NaN());
    }
    if (ema) {
      std::vector<int64_t> on(stepped.begin(), stepped.end());
      ema->update(torch::tensor(on, torch::kInt64).to(d.device).gt(0), stepped);
    }
    d.beat();
    // Advance each model; at the end of its epoch, the NaN guard and its next batch order.
    for (int64_t j = 0; j < k; ++j) {
      if (!stepped[j]) continue;
      auto& m = members[j];
      ++m.steps, ++m.batch;
      m.epoch_items += static_cast<double>(sizes[j]);
      if (m.batch < m.batches && m.steps < m.total_steps) continue;
      const double mean = epoch_sum[j].item<double>() / std::max(1.0, m.epoch_items);
      epoch_sum[j].zero_();
      if (!std::isfinite(mean)) {
        m.alive = false;
        m.diverged = "model " + std::to_string(m.job.model) + ": training loss became " + std::to_string(mean) +
                     " in epoch " + std::to_string(m.epoch + 1) + " (in a pack of " + std::to_string(k) + ")";
        spdlog::warn("{}; it leaves the pack", m.diverged);
        torch::NoGradGuard no_grad;
        for (auto& p : params) p[j].zero_();
        optimizer.clear(j);
        continue;
      }
      spdlog::debug("model {} epoch {}: loss {:.4f} (pack of {})", m.job.model, m.epoch + 1, mean, k);
      if (m.steps < m.total_steps) {
        ++m.epoch;
        d.begin_epoch(m);
      }
    }
  }
  if (ema) ema->apply();

  // Evaluation: every candidate under every query through the whole pack at once.
  torch::NoGradGuard no_grad;
  std::vector<PackedModel> out(static_cast<size_t>(k));
  std::vector<SignalCollector> collectors;
  const int64_t a = static_cast<int64_t>(d.queries.size());
  for (int64_t j = 0; j < k; ++j) collectors.emplace_back(d.config, d.dataset->candidates.labels, d.dataset->classes, a);
  for (int64_t q = 0; q < a; ++q) {
    const auto z = d.logits(d.x, d.images ? &d.queries[q] : nullptr, k);
    for (int64_t j = 0; j < k; ++j)
      if (members[j].alive) collectors[j].add(q, z[j].contiguous(), members[j].job.keep_row);
  }
  const auto zt = d.logits(d.x_test, nullptr, k);
  const auto correct = zt.argmax(2).eq(d.y_test.to(torch::kCPU).unsqueeze(0)).to(torch::kFloat64).mean(1);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int64_t j = 0; j < k; ++j) {
    auto& m = members[j];
    auto& r = out[j];
    if (!m.alive) {
      r.diverged = m.diverged;
      continue;
    }
    r.result.model = m.job.model;
    r.result.attempt = m.job.attempt;
    r.result.test_accuracy = correct[j].item<double>();
    r.result.train_seconds = seconds / static_cast<double>(k);  // the pack's time, shared
    collectors[j].finish(r.result);
  }
  d.layers.clear();
  return out;
}

}  // namespace lira
