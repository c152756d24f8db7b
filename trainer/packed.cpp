// Implements the packed trainer (packed.hpp).
#include "packed.hpp"

#include <ATen/Context.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <optional>

#include "augment.hpp"
#include "classifier_common.hpp"
#include "common/config_rules.hpp"
#include "common/errors.hpp"
#include "common/schedule.hpp"
#include "fused_network.hpp"
#include "network.hpp"
#include "recipe.hpp"
#include "torch_compat.hpp"

namespace lira {
namespace {

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
  torch::Tensor in_idx, order, positions;           // positions: airbench94's order in the IN set
  std::optional<AlternatingFlipTranslate> augment;  // airbench94's
  int64_t batches = 0, batch = 0, epoch = 0, steps = 0, total_steps = 0;
  double epoch_items = 0;
  bool alive = true;
  std::string diverged;
  bool active(int64_t step) const { return alive && step < total_steps; }
};

// [K] -> [K, 1, ...] to broadcast over a tensor of `dims` dimensions.
torch::Tensor per_model(const torch::Tensor& v, int64_t dims) {
  std::vector<int64_t> shape(static_cast<size_t>(dims), 1);
  shape[0] = v.size(0);
  return v.view(shape);
}

// One fused parameter and its optimizer settings: its learning rate is lr_scale x the
// model's rate of the step, its weight decay `decay` (as torch's per-group weight_decay).
struct FusedParam {
  torch::Tensor value;
  double lr_scale = 1, decay = 0;
  bool whiten_bias = false;  // airbench94's: trained in a model's first epochs only
};

// The optimizer over fused parameters, elementwise as torch's SGD (momentum, Nesterov, no
// dampening), Adam and AdamW (betas 0.9/0.999, eps 1e-8), with a learning rate per model.
// A model that does not move at a step (its training is over, or a parameter frozen for
// it) keeps its parameter and its optimizer state exactly, as torch's optimizers skip a
// parameter without a gradient.
class FusedOptimizer {
 public:
  // Which models move at a step: on the device, and whether all or any do (known on the
  // host, so a step costs no synchronization).
  struct Moving {
    torch::Tensor on;  // [K] bool
    bool all = true, any = true;
  };
  struct Options {
    std::string kind = "sgd";  // sgd | adam | adamw
    double momentum = 0;
    bool nesterov = false;
  };
  FusedOptimizer(Options o, std::vector<FusedParam> params)
      : o_(std::move(o)), params_(std::move(params)), buf_(params_.size()), sq_(params_.size()) {}

  // lr: [K] float64, the models' rates this step; moving[i]: parameter i's models.
  void step(const torch::Tensor& lr, const std::vector<const Moving*>& moving) {
    torch::NoGradGuard no_grad;
    ++steps_;
    for (size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i].value;
      if (!p.grad().defined() || !moving[i]->any) continue;
      const bool all = moving[i]->all;
      torch::Tensor keep;
      torch::Tensor old_p, old_buf, old_sq;
      if (!all) {
        keep = per_model(moving[i]->on.logical_not(), p.dim());
        old_p = p.clone();
        if (buf_[i].defined()) old_buf = buf_[i].clone();
        if (sq_[i].defined()) old_sq = sq_[i].clone();
      }
      update(i, per_model((lr * params_[i].lr_scale).to(p.scalar_type()), p.dim()));
      if (all) continue;
      p.copy_(torch::where(keep, old_p, p));
      if (old_buf.defined()) buf_[i].copy_(torch::where(keep, old_buf, buf_[i]));
      if (old_sq.defined()) sq_[i].copy_(torch::where(keep, old_sq, sq_[i]));
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
  void update(size_t i, const torch::Tensor& lr_v) {
    auto& p = params_[i].value;
    const double wd = params_[i].decay;
    torch::Tensor g = p.grad();
    if (o_.kind == "sgd") {
      if (wd != 0) g = g.add(p, wd);
      if (o_.momentum != 0) {
        if (!buf_[i].defined()) {
          buf_[i] = g.clone();
        } else {
          buf_[i].mul_(o_.momentum).add_(g);
        }
        g = o_.nesterov ? g.add(buf_[i], o_.momentum) : buf_[i];
      }
      p.addcmul_(lr_v, g, -1.0);  // p -= lr x g, without a temporary
      return;
    }
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double bc1 = 1.0 - std::pow(b1, static_cast<double>(steps_));
    const double bc2 = 1.0 - std::pow(b2, static_cast<double>(steps_));
    if (o_.kind == "adamw") {
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

  Options o_;
  std::vector<FusedParam> params_;
  std::vector<torch::Tensor> buf_, sq_;  // momentum or first moment; second moment
  int64_t steps_ = 0;
};

// The debiased exponential moving average of the weights and BatchNorm statistics
// (training.ema), per model: only the models that stepped update theirs.
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
    for (size_t k = 0; k < updates_.size(); ++k) {
      if (updates_[k] == 0) continue;
      const double debias = 1.0 - std::pow(decay_, static_cast<double>(updates_[k]));
      for (size_t i = 0; i < live_.size(); ++i)
        live_[i][static_cast<int64_t>(k)].copy_(shadow_[i][static_cast<int64_t>(k)] / debias);
    }
  }

 private:
  std::vector<torch::Tensor> live_, shadow_;
  double decay_;
  std::vector<int64_t> updates_;
};

// airbench94's lookahead (recipe.cpp) per model: for the models in `due`,
// ema <- lerp(ema, state, 1 - decay), state <- ema, over every floating tensor of the state.
class FusedLookahead {
 public:
  FusedLookahead(std::vector<torch::Tensor> state, std::vector<torch::Tensor> start)
      : state_(std::move(state)), ema_(std::move(start)) {
    if (ema_.size() != state_.size()) throw Error("airbench94 pack: the state before whitening does not match");
  }
  void apply(const std::vector<double>& decay, const std::vector<bool>& due) {
    if (std::none_of(due.begin(), due.end(), [](bool b) { return b; })) return;
    torch::NoGradGuard no_grad;
    const auto device = state_[0].device();
    const auto weight = torch::tensor(decay, torch::kFloat64).to(device).neg_().add_(1.0);
    std::vector<int64_t> d(due.begin(), due.end());
    const auto on = torch::tensor(d, torch::kInt64).to(device).gt(0);
    for (size_t i = 0; i < state_.size(); ++i) {
      const auto mask = per_model(on, state_[i].dim());
      const auto moved = ema_[i].lerp(state_[i], per_model(weight.to(state_[i].scalar_type()), state_[i].dim()));
      ema_[i] = torch::where(mask, moved, ema_[i]);
      state_[i].copy_(torch::where(mask, ema_[i], state_[i]));
    }
  }

 private:
  std::vector<torch::Tensor> state_, ema_;
};

}  // namespace

struct PackedTrainer::Data {
  Data(const TrainerContext& c, torch::Device d)
      : config(c.config),
        dataset(c.dataset),
        progress(c.progress),
        device(d),
        threads(c.threads),
        queries(config.query_specs()),
        data(*dataset, device),
        images(data.images),
        x(data.x),
        y(data.y),
        x_test(data.x_test),
        y_test(data.y_test) {
    bf16 = device.is_cuda() && config.training.bf16;
    airbench94 = config.model.arch == "airbench94";
    whitening = airbench94 || config.model.arch == "airbench";
    if (const char* env = std::getenv("LIRA_TEST_DIVERGE")) diverge = std::atoll(env);
    grouped = device.is_cuda() || std::getenv("LIRA_TEST_GROUPED_PACKS") != nullptr;
    none_options = torch::nn::functional::CrossEntropyFuncOptions()
                       .label_smoothing(airbench94 ? Airbench94Hyp::kLabelSmoothing : config.training.label_smoothing)
                       .reduction(torch::kNone);
  }

  torch::Tensor normalize(const torch::Tensor& raw) const { return data.normalize(raw, compute); }

  void beat() const {
    if (progress) progress();
  }

  // Draws member m's batch order for its epoch (its draws loaded) and counts its batches,
  // as the classifier task's begin_epoch: airbench94 draws its augmentation, then the
  // order on the device, and drops the last partial batch.
  void begin_epoch(Member& m) const {
    const int64_t n_in = m.in_idx.size(0);
    m.draws.load();
    if (airbench94) {
      m.augment->begin_epoch(m.epoch);
      m.positions = torch::randperm(n_in, torch::TensorOptions(device).dtype(torch::kInt64));
      m.order = m.in_idx.index_select(0, m.positions);
    } else {
      m.order = m.in_idx.index_select(0, torch::randperm(n_in, torch::kInt64).to(device));
    }
    m.batches = batches_per_epoch(config, n_in);
    m.draws.save();
    m.batch = 0;
    m.epoch_items = 0;
  }

  // Logits [K, n, classes], float32 on the CPU, of raw inputs under a query.
  torch::Tensor logits(FusedNetwork& net, const torch::Tensor& raw, const QuerySpec* query) const {
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < raw.size(0); s += kEvalBatch) {
      auto xb = normalize(raw.slice(0, s, std::min(s + kEvalBatch, raw.size(0))));
      if (query) xb = apply_query(xb, *query);
      parts.push_back(net.forward_shared(xb).to(torch::kFloat32));
      beat();
    }
    return torch::cat(parts, 1).to(torch::kCPU).contiguous();
  }
  // airbench94's test-time augmentation (classifier_task.cpp): the weighted sum of views.
  torch::Tensor tta_logits(FusedNetwork& net, const torch::Tensor& raw) const {
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < raw.size(0); s += kEvalBatch) {
      const auto xb = normalize(raw.slice(0, s, std::min(s + kEvalBatch, raw.size(0))));
      torch::Tensor z;
      for (const auto& [view, weight] : airbench94_tta_views(xb)) {
        const auto zv = net.forward_shared(view.contiguous()).to(torch::kFloat32) * weight;
        z = z.defined() ? z + zv : zv;
      }
      parts.push_back(z);
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
  ClassifierData data;
  bool images = true;
  const torch::Tensor &x, &y, &x_test, &y_test;  // data's
  bool bf16 = false, airbench94 = false, whitening = false;
  int64_t diverge = -1;  // LIRA_TEST_DIVERGE: the model made to diverge in its pack (tests)
  bool grouped = false;  // the CUDA layout (fused_network.hpp); LIRA_TEST_GROUPED_PACKS: on the CPU too (tests)
  torch::ScalarType compute = torch::typeMetaToScalarType(torch::get_default_dtype());
  torch::nn::functional::CrossEntropyFuncOptions none_options;
};

PackedTrainer::PackedTrainer(const TrainerContext& context, torch::Device device)
    : data_(std::make_unique<Data>(context, device)) {
  if (const auto why = FusedNetwork::unsupported(context.config.model); !why.empty())
    throw ConfigError("parallel.models_per_job: " + why + "; set parallel.models_per_job: 1");
}

PackedTrainer::~PackedTrainer() = default;

std::vector<PackedModel> PackedTrainer::run(const std::vector<JobAssignment>& jobs) {
  auto& d = *data_;
  const auto& t = d.config.training;
  const auto t0 = std::chrono::steady_clock::now();
  const auto k = static_cast<int64_t>(jobs.size());
  const int64_t n = d.x.size(0);
  torch::set_num_threads(d.threads);  // per call: OpenMP's thread count is per calling thread

  // Each model's network and first batch order, drawn as alone with its seed (job_loop.cpp
  // run_job: seed, build, first epoch).
  std::vector<Member> members;
  std::vector<std::unique_ptr<Network>> nets;
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
    NetworkInputs inputs{d.dataset->candidates.example_shape, d.dataset->classes, {}};
    if (d.whitening) inputs.init_sample = d.normalize(d.x.index_select(0, m.in_idx.slice(0, 0, kWhiteningSample)));
    nets.push_back(build_network(d.config.model, inputs));
    if (d.airbench94) m.augment.emplace(m.in_idx.size(0), 2, d.device);
    m.draws.save();
    d.begin_epoch(m);
    if (m.batches < 1)
      throw ConfigError("training.batch_size: " + std::to_string(t.batch_size) + " leaves no full batch of model " +
                        std::to_string(job.model) + "'s " + std::to_string(in.size()) +
                        " training examples (airbench94 drops the last partial batch); lower it");
    m.total_steps = static_cast<int64_t>(std::ceil(t.epochs * static_cast<double>(m.batches) - 1e-9));
  }
  FusedNetwork net(d.config.model, nets, d.device, d.grouped);
  nets.clear();
  net.set_training(true);

  // The optimizer: torch's groups as the single recipes make them (recipe.cpp).
  std::vector<FusedParam> params;
  std::vector<torch::Tensor> trained, averaged, whole;
  for (auto& e : net.state()) {
    whole.push_back(e.value);
    if (e.buffer) averaged.push_back(e.value);
    if (!e.trainable) continue;
    FusedParam p;
    p.value = e.value;
    if (d.airbench94) {
      const bool norm = e.name.find("norm") != std::string::npos;
      p.lr_scale = norm ? Airbench94Hyp::bias_lr() : Airbench94Hyp::lr();
      p.decay = Airbench94Hyp::decay(t.batch_size) / p.lr_scale;
      p.whiten_bias = e.name == "whiten.bias";
    } else {
      p.decay = t.decay_all || e.value.dim() >= 3 ? t.weight_decay : 0.0;
    }
    params.push_back(p);
    trained.push_back(e.value);
    averaged.push_back(e.value);
  }
  FusedOptimizer::Options options;
  if (d.airbench94) {
    options.momentum = Airbench94Hyp::kMomentum, options.nesterov = true;
  } else {
    options.kind = t.optimizer == "adam" || t.optimizer == "adamw" ? t.optimizer : "sgd";
    options.momentum = t.momentum, options.nesterov = t.nesterov;
  }
  FusedOptimizer optimizer(options, params);
  std::unique_ptr<FusedAverage> ema;
  if (!d.airbench94 && t.ema > 0) ema = std::make_unique<FusedAverage>(averaged, t.ema, k);
  std::unique_ptr<FusedLookahead> lookahead;
  if (d.airbench94) lookahead = std::make_unique<FusedLookahead>(whole, net.state_before_data_init());

  int64_t max_steps = 0;
  for (const auto& m : members) max_steps = std::max(max_steps, m.total_steps);
  const bool augment = !d.airbench94 && d.images && (t.augment_flip || t.augment_crop > 0);
  const auto f64 = torch::TensorOptions(d.device).dtype(torch::kFloat64);
  const auto on_device = [&](const std::vector<bool>& v) {
    FusedOptimizer::Moving m;
    m.on = torch::tensor(std::vector<int64_t>(v.begin(), v.end()), torch::kInt64).to(d.device).gt(0);
    m.all = std::all_of(v.begin(), v.end(), [](bool b) { return b; });
    m.any = std::any_of(v.begin(), v.end(), [](bool b) { return b; });
    return m;
  };
  auto epoch_sum = torch::zeros({k}, f64);
  std::vector<double> lr(static_cast<size_t>(k)), decay(static_cast<size_t>(k));
  std::vector<bool> stepped(static_cast<size_t>(k)), whiten(static_cast<size_t>(k)), due(static_cast<size_t>(k));
  for (int64_t step = 0; step < max_steps; ++step) {
    // Every active model's batch, padded to the longest with masked rows.
    std::vector<torch::Tensor> xs, ys;
    std::vector<int64_t> sizes(static_cast<size_t>(k), 0);
    int64_t longest = 0;
    for (int64_t j = 0; j < k; ++j) {
      auto& m = members[j];
      stepped[j] = m.active(step);
      whiten[j] = stepped[j] && m.epoch < Airbench94Hyp::kWhitenBiasEpochs;
      lr[j] = 0;
      if (!stepped[j]) continue;
      const int64_t n_in = m.order.size(0), start = m.batch * t.batch_size;
      const auto batch = m.order.slice(0, start, std::min(start + t.batch_size, n_in));
      auto xb = d.normalize(d.x.index_select(0, batch));
      if (d.airbench94) {
        xb = m.augment->apply(xb, m.positions.slice(0, start, std::min(start + t.batch_size, n_in)));
      } else if (augment) {
        m.draws.load();
        xb = augment_batch(xb, t.augment_flip, t.augment_crop);
        m.draws.save();
      }
      xs.push_back(xb), ys.push_back(d.y.index_select(0, batch));
      sizes[j] = batch.size(0);
      longest = std::max(longest, sizes[j]);
      // The learning rate (airbench94: the factor of its groups' rates) of this model's
      // step alone.
      const double examples = static_cast<double>(n_in);
      const double progress =
          (static_cast<double>(m.epoch) * examples + std::min(examples, static_cast<double>(start))) /
          (t.epochs * examples);
      lr[j] = d.airbench94                 ? airbench94_lr_factor(m.steps, m.total_steps)
              : t.schedule == "official" ? learning_rate_at(t, progress)
                                         : learning_rate(t, m.steps, m.total_steps);
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
    for (auto& p : trained)  // zeroed in place: a fresh gradient each step costs page faults
      if (p.grad().defined()) p.mutable_grad().zero_();
    torch::Tensor sums;
    {
      compat::CudaAutocast autocast(d.bf16);
      const auto z = net.forward_own(xp, sizes).to(d.compute);  // [K, B, classes]
      const auto ce = torch::nn::functional::cross_entropy(z.reshape({k * longest, -1}), torch::stack(yp).view({-1}),
                                                           d.none_options)
                          .view({k, longest});
      sums = torch::where(mask, ce, torch::zeros_like(ce)).sum(1);  // [K]
      // airbench94's loss is the batch's sum, as published; the others' the batch's mean.
      const auto loss = d.airbench94 ? sums.sum() : (sums / counts.clamp_min(1).to(sums.scalar_type())).sum();
      loss.backward();
    }
    epoch_sum += sums.detach().to(torch::kFloat64);
    if (t.grad_clip > 0) {
      // Each model's gradients clipped to a global norm of grad_clip, as clip_grad_norm_.
      torch::NoGradGuard no_grad;
      torch::Tensor sq;
      for (auto& p : trained) {
        const auto s = p.grad().pow(2).reshape({k, -1}).sum(1);
        sq = sq.defined() ? sq + s : s;
      }
      const auto coef = (t.grad_clip / (sq.sqrt() + 1e-6)).clamp_max(1.0);
      for (auto& p : trained) p.mutable_grad().mul_(per_model(coef, p.dim()));
    }
    const auto moving = on_device(stepped), moving_whiten = on_device(whiten);
    std::vector<const FusedOptimizer::Moving*> masks;
    for (const auto& p : params) masks.push_back(p.whiten_bias ? &moving_whiten : &moving);
    optimizer.step(torch::tensor(lr, torch::kFloat64).to(d.device), masks);
    if (step == 0 && d.diverge >= 0) {
      // Fault injection for the tests (LIRA_TEST_DIVERGE=<model>): that model's weights
      // become NaN after its first step, as a diverging model's would.
      torch::NoGradGuard no_grad;
      for (int64_t j = 0; j < k; ++j)
        if (members[j].job.model == d.diverge)
          for (auto& p : trained) p[j].fill_(std::numeric_limits<double>::quiet_NaN());
    }
    if (ema) ema->update(moving.on, stepped);
    if (lookahead) {
      // After step `done` of `total` (recipe.cpp after_step): every 5 steps, and at the end.
      for (int64_t j = 0; j < k; ++j) {
        const int64_t done = members[j].steps + 1;
        due[j] = stepped[j] && done % Airbench94Hyp::kLookaheadEvery == 0;
        decay[j] = airbench94_lookahead_decay(done, members[j].total_steps);
      }
      lookahead->apply(decay, due);
      for (int64_t j = 0; j < k; ++j) due[j] = stepped[j] && members[j].steps + 1 == members[j].total_steps;
      lookahead->apply(std::vector<double>(static_cast<size_t>(k), 1.0), due);
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
        // Its weights zeroed and its statistics reset, so its NaNs cannot reach the others'.
        torch::NoGradGuard no_grad;
        for (auto& e : net.state()) {
          const bool var = e.name.size() >= 11 && e.name.compare(e.name.size() - 11, 11, "running_var") == 0;
          e.value[j].fill_(var ? 1.0 : 0.0);
        }
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

  // Evaluation: every candidate under every query through the whole pack at once, with
  // BatchNorm's running statistics.
  torch::NoGradGuard no_grad;
  net.set_training(false);
  std::vector<PackedModel> out(static_cast<size_t>(k));
  std::vector<SignalCollector> collectors;
  const int64_t a = static_cast<int64_t>(d.queries.size());
  for (int64_t j = 0; j < k; ++j) collectors.emplace_back(d.config, d.dataset->candidates.labels, d.dataset->classes, a);
  for (int64_t q = 0; q < a; ++q) {
    const auto z = d.logits(net, d.x, d.images ? &d.queries[q] : nullptr);
    for (int64_t j = 0; j < k; ++j)
      if (members[j].alive) collectors[j].add(q, z[j].contiguous(), members[j].job.keep_row);
  }
  // airbench94 reports its published test-time augmentation's accuracy.
  const auto zt = d.airbench94 ? d.tta_logits(net, d.x_test) : d.logits(net, d.x_test, nullptr);
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
  return out;
}

}  // namespace lira
