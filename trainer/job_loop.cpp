// Implements the job loop (job_loop.hpp) and the libtorch JobRunner around it.
//
// Determinism: each job seeds torch's generators with its own seed before it builds the
// model, and draws every batch order and augmentation from them; one process runs one
// job at a time. So on CPU a job's signals depend only on (config, seed, keep row, thread
// count), not on which worker runs it or when.
#include "job_loop.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "common/dp_accountant.hpp"
#include "common/errors.hpp"
#include "common/schedule.hpp"
#include "device.hpp"
#include "dp_sgd.hpp"
#include "network.hpp"
#include "recipe.hpp"
#include "recipe_parts.hpp"
#include "trainer.hpp"

namespace lira {
namespace {

// Where one model of the K stands in its own run: its epoch and batch, its steps, its
// epoch's loss terms, early stopping's best epoch, and whether it is over.
struct LaneState {
  int64_t batches = 0, batch = 0, epoch = 0, epochs = 0, steps = 0, total_steps = 0;
  double epoch_items = 0;
  bool done = false;   // trained to the end, or stopped early
  std::string failed;  // why it left: its training loss was not finite
  // Early stopping: the best validation loss so far, its epoch and a copy of its state.
  double best = std::numeric_limits<double>::infinity();
  int64_t best_epoch = -1;
  std::vector<torch::Tensor> best_state;
  bool active() const { return !done && failed.empty() && steps < total_steps; }
};

// Each model's gradients clipped to a global norm of max_norm, as clip_grad_norm_ (which
// one model's own tensors use).
void clip_gradients(const std::vector<torch::Tensor>& params, double max_norm, bool stacked, int64_t k) {
  if (!stacked) {
    torch::nn::utils::clip_grad_norm_(params, max_norm);
    return;
  }
  torch::NoGradGuard no_grad;
  torch::Tensor sq;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    const auto s = p.grad().pow(2).reshape({k, -1}).sum(1);
    sq = sq.defined() ? sq + s : s;
  }
  if (!sq.defined()) return;
  const auto coef = (max_norm / (sq.sqrt() + 1e-6)).clamp_max(1.0);
  for (const auto& p : params)
    if (p.grad().defined()) p.mutable_grad().mul_(recipe_parts::per_model(coef, p.dim()));
}

// A model's lane: its seed and the candidates its keep row has IN.
Lane lane_for(const std::vector<uint8_t>& keep, uint64_t seed) {
  Lane lane;
  lane.seed = seed;
  for (size_t i = 0; i < keep.size(); ++i)
    if (keep[i]) lane.in.push_back(static_cast<int64_t>(i));
  return lane;
}

// LIRA_TEST_DIVERGE=<model>: that model's weights become NaN after its first step, as a
// diverging model's would (the tests of the NaN guard).
int64_t diverging_model() {
  const char* env = std::getenv("LIRA_TEST_DIVERGE");
  return env ? std::atoll(env) : -1;
}

// Trains the task's K models: each its own epochs of its own batches, the K stepped
// together (a model whose run is over, that stopped early or that diverged sits out).
class Training {
 public:
  Training(const LoopOptions& o, Task& task, const std::vector<JobAssignment>& jobs)
      : o_(o), t_(*o.training), task_(task), jobs_(jobs), k_(task.width()), stacked_(task.stacked()) {
    for (const auto& [name, p] : task.parameters()) params_.push_back(p);
    recipe_ = make_recipe(t_, *o.model, task);
    if (o.gang) rank_ = o.gang->rank(), ranks_ = o.gang->size();
    const auto device = params_.empty() ? torch::Device(torch::kCPU) : params_[0].device();
    epoch_sum_ = torch::zeros({k_}, torch::TensorOptions(device).dtype(torch::kFloat64));
    lanes_.resize(static_cast<size_t>(k_));
    steps_.resize(static_cast<size_t>(k_));
    batch_.resize(static_cast<size_t>(k_));
  }

  // Returns each model's state: failed says why one left.
  std::vector<LaneState> run() {
    task_.set_training(true);
    if (o_.observer) o_.observer->built(task_);
    int64_t max_steps = 0;
    for (int64_t j = 0; j < k_; ++j) max_steps = std::max(max_steps, start(j));
    const int64_t diverge = diverging_model();
    for (int64_t step = 0; step < max_steps && plan_step(); ++step) {
      recipe_->before_step(steps_);
      recipe_->zero_grad();
      const auto [loss_sum, items] = forward_backward();
      if (o_.gang) o_.gang->allreduce_gradients(params_);
      if (t_.grad_clip > 0) clip_gradients(params_, t_.grad_clip, stacked_, k_);
      recipe_->step();
      if (step == 0 && diverge >= 0) poison(diverge);
      recipe_->after_step();
      if (o_.observer) o_.observer->stepped(task_, step, loss_sum, items);
      if (o_.progress && *o_.progress) (*o_.progress)();
      advance();
    }
    restore_best();
    recipe_->finish();
    if (o_.observer) o_.observer->finished(task_);
    return lanes_;
  }

 private:
  LaneState& lane(int64_t j) { return lanes_[static_cast<size_t>(j)]; }
  int64_t model(int64_t j) const { return jobs_[static_cast<size_t>(j)].model; }

  // Model j's first epoch and its step count; returns the count.
  int64_t start(int64_t j) {
    auto& l = lane(j);
    l.batches = task_.begin_epoch(j, 0);
    const int64_t steps_per_epoch = (l.batches + t_.accumulate - 1) / t_.accumulate;
    if (steps_per_epoch < 1)
      throw ConfigError("training.batch_size: " + std::to_string(t_.batch_size) + " leaves no full batch of model " +
                        std::to_string(model(j)) + "'s " + std::to_string(task_.examples(j)) +
                        " training examples (airbench94 drops the last partial batch); lower it");
    // A fractional epoch count trains ceil(epochs x steps per epoch) steps in all.
    l.total_steps = static_cast<int64_t>(std::ceil(t_.epochs * static_cast<double>(steps_per_epoch) - 1e-9));
    l.epochs = static_cast<int64_t>(std::ceil(t_.epochs - 1e-9));
    return l.total_steps;
  }

  // Where each model stands at this step; false when none steps.
  bool plan_step() {
    bool any = false;
    for (int64_t j = 0; j < k_; ++j) {
      const auto& l = lane(j);
      auto& s = steps_[static_cast<size_t>(j)];
      s.active = l.active();
      any = any || s.active;
      // Later epochs of a language model may hold a batch more than the first.
      s.step = std::min(l.steps, l.total_steps - 1), s.total = l.total_steps, s.epoch = l.epoch;
      // Progress in examples: (epoch N + the batch's offset) / (epochs N).
      const auto examples = static_cast<double>(task_.examples(j));
      s.progress = examples > 0 ? (static_cast<double>(l.epoch) * examples +
                                   std::min(examples, static_cast<double>(l.batch * t_.batch_size))) /
                                      (t_.epochs * examples)
                                : -1.0;
    }
    return any;
  }

  // The step's batches, `accumulate` of each active model's own (fewer at the end of its
  // epoch), back-propagated; returns the summed loss (for the observer) and loss terms.
  std::pair<double, double> forward_backward() {
    double loss_sum = 0, items = 0;
    for (int64_t a = 0; a < t_.accumulate; ++a) {
      bool some = false;
      for (int64_t j = 0; j < k_; ++j) {
        const auto& l = lane(j);
        const bool in = steps_[static_cast<size_t>(j)].active && l.batch < l.batches;
        batch_[static_cast<size_t>(j)] = in ? l.batch : -1;
        some = some || in;
      }
      if (!some) break;
      const StepLoss loss = task_.loss(batch_, rank_, ranks_);
      if (loss.loss.defined())
        (t_.accumulate > 1 ? loss.loss / static_cast<double>(t_.accumulate) : loss.loss).backward();
      epoch_sum_ += loss.sums;
      if (o_.observer) loss_sum += loss.sums.sum().item<double>();
      for (int64_t j = 0; j < k_; ++j) {
        if (batch_[static_cast<size_t>(j)] < 0) continue;
        ++lane(j).batch;
        lane(j).epoch_items += loss.items[static_cast<size_t>(j)];
        items += loss.items[static_cast<size_t>(j)];
      }
    }
    return {loss_sum, items};
  }

  // LIRA_TEST_DIVERGE: that model's weights become NaN.
  void poison(int64_t diverge) {
    torch::NoGradGuard no_grad;
    for (int64_t j = 0; j < k_; ++j)
      if (model(j) == diverge)
        for (auto& p : params_) lane_of(p, j, stacked_).fill_(std::numeric_limits<double>::quiet_NaN());
  }

  // Counts the step of every model that stepped and ends the epochs that are over.
  void advance() {
    std::vector<int64_t> ended;
    for (int64_t j = 0; j < k_; ++j) {
      auto& l = lane(j);
      if (!steps_[static_cast<size_t>(j)].active) continue;
      ++l.steps;
      if (l.batch >= l.batches || l.steps >= l.total_steps) ended.push_back(j);
    }
    std::vector<double> validation;
    for (const int64_t j : ended) {
      if (!loss_finite(j)) continue;
      if (o_.early_stopping > 0) {
        if (validation.empty()) {  // one evaluation of every model
          validation = task_.validation_losses();
          task_.set_training(true);
        }
        if (stops_early(j, validation[static_cast<size_t>(j)])) continue;
      }
      auto& l = lane(j);
      if (l.steps < l.total_steps && l.epoch + 1 < l.epochs) {
        l.batches = task_.begin_epoch(j, ++l.epoch);
        l.batch = 0;
      } else {
        l.done = true;
      }
    }
  }

  // The NaN guard at the end of model j's epoch. One host synchronization per epoch; a
  // gang sums its shards' sums, so every rank sees the same mean and all of them stop
  // together on a NaN. A model that diverged leaves its pack: the task resets its state
  // and the recipe its optimizer state, so that its NaNs cannot reach the others'.
  bool loss_finite(int64_t j) {
    auto& l = lane(j);
    double sum = epoch_sum_[j].item<double>();
    epoch_sum_[j].zero_();
    if (o_.gang) sum = o_.gang->allreduce(sum, "all-reduce of the epoch loss");
    const double mean = sum / std::max(1.0, l.epoch_items);
    l.epoch_items = 0;
    if (std::isfinite(mean)) {
      spdlog::debug("model {} epoch {}/{}: loss {:.4f}", model(j), l.epoch + 1, l.epochs, mean);
      return true;
    }
    l.failed = "model " + std::to_string(model(j)) + ": training loss became " + std::to_string(mean) + " in epoch " +
               std::to_string(l.epoch + 1) + (k_ > 1 ? " (in a pack of " + std::to_string(k_) + ")" : std::string()) +
               "; lower training.lr";
    if (k_ == 1) return false;
    spdlog::warn("{}; it leaves the pack", l.failed);
    task_.clear(j);
    recipe_->reset(j);
    return false;
  }

  // Early stopping after model j's epoch with validation loss v: keeps its best state;
  // true when it stops.
  bool stops_early(int64_t j, double v) {
    auto& l = lane(j);
    if (v < l.best) {
      l.best = v, l.best_epoch = l.epoch;
      l.best_state.clear();
      for (auto& [name, tensor] : task_.state()) l.best_state.push_back(lane_of(tensor, j, stacked_).detach().clone());
      return false;
    }
    if (l.epoch - l.best_epoch < o_.early_stopping) return false;
    spdlog::info("model {}: early stopping after epoch {} of {}: validation loss {:.4f}, best {:.4f} at epoch {}",
                 model(j), l.epoch + 1, l.epochs, v, l.best, l.best_epoch + 1);
    l.done = true;
    return true;
  }

  // Early stopping: each model's best epoch's weights, before the recipe's finish.
  void restore_best() {
    torch::NoGradGuard no_grad;
    auto live = task_.state();
    for (int64_t j = 0; j < k_; ++j) {
      const auto& l = lane(j);
      if (l.best_epoch < 0 || !l.failed.empty()) continue;
      for (size_t i = 0; i < live.size(); ++i) lane_of(live[i].second, j, stacked_).copy_(l.best_state[i]);
    }
  }

  const LoopOptions& o_;
  const TrainingConfig& t_;
  Task& task_;
  const std::vector<JobAssignment>& jobs_;
  const int64_t k_;
  const bool stacked_;
  int rank_ = 0, ranks_ = 1;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<Recipe> recipe_;
  torch::Tensor epoch_sum_;         // [K] float64: each model's summed loss of its epoch so far
  std::vector<LaneState> lanes_;
  std::vector<LaneStep> steps_;     // this step's, for the recipe
  std::vector<int64_t> batch_;      // this micro-batch's, for the task
};

// DP-SGD (one model): ceil(epochs x n / batch) steps; in each, every IN example joins the
// batch with probability q = batch / n (Poisson sampling, drawn from torch's generator),
// each example's gradient is clipped to dp.max_grad_norm, and noise of std sigma C is
// added to the sum before dividing by the expected batch q n. The recipe (optimizer,
// schedule, EMA) is the generic one. Returns {epsilon spent at dp.delta, sigma}.
std::pair<double, double> train_dp(const LoopOptions& o, Task& task, int64_t model_index) {
  const auto& t = *o.training;
  const auto& dp = *o.dp;
  Network* net = task.network();
  if (!net) task.refuse_dp();
  // Buffers are state that training updates outside the gradients -- BatchNorm's running
  // statistics, which mix the examples of a batch: no per-example gradients exist.
  if (!net->buffers().empty())
    throw ConfigError("dp: the model keeps buffers (e.g. BatchNorm's running statistics); BatchNorm mixes the "
                      "examples of a batch, so DP-SGD's per-example gradients do not exist. Use a model without "
                      "BatchNorm (mlp, cnn, or a TorchScript model with GroupNorm or none)");
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : task.parameters()) params.push_back(p);
  const auto n = static_cast<double>(task.examples(0));
  const auto plan = dp::plan_dp_sgd(dp, t.batch_size, t.epochs, task.examples(0));
  const double q = plan.sample_rate, sigma = plan.noise_multiplier;
  const int64_t total_steps = plan.steps;
  // Epochs of Poisson batches are nominal: ceil(epochs) of them share the steps evenly.
  const auto epochs = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(t.epochs - 1e-9)));
  const int64_t steps_per_epoch = std::max<int64_t>(1, (total_steps + epochs - 1) / epochs);
  const bool batched = dp.clipping == "auto" && supports_batched_clipping(*net);
  spdlog::debug("model {}: DP-SGD, q {:.6f}, {} steps, sigma {:.4f}, epsilon {:.4f} at delta {:g}, {} clipping",
                model_index, q, total_steps, sigma, plan.epsilon, dp.delta, batched ? "batched" : "per-example loop");
  const auto recipe = make_recipe(t, *o.model, task);
  const ExampleLossFn loss = [&task](const torch::Tensor& z, const torch::Tensor& y) { return task.example_losses(z, y); };
  task.set_training(true);
  if (o.observer) o.observer->built(task);
  double epoch_sum = 0, epoch_items = 0;
  std::vector<LaneStep> lane(1);
  for (int64_t step = 0; step < total_steps; ++step) {
    const int64_t epoch = step / steps_per_epoch;
    if (step % steps_per_epoch == 0) task.begin_epoch(0, epoch);  // keeps the task's per-epoch state current; its batch order is not used
    lane[0] = {true, step, total_steps, static_cast<double>(step) / static_cast<double>(total_steps), epoch};
    recipe->before_step(lane);
    recipe->zero_grad();
    const auto positions =
        (torch::rand({task.examples(0)}, torch::TensorOptions(o.device).dtype(torch::kFloat64)) < q).nonzero().flatten();
    std::vector<torch::Tensor> sum;
    double loss_sum = 0;
    if (positions.size(0) > 0) {
      const auto [x, y] = task.examples_at(positions);
      auto clipped = batched ? clipped_gradients_batched(*net, params, x, y, loss, dp.max_grad_norm)
                             : clipped_gradients_loop(*net, params, x, y, loss, dp.max_grad_norm);
      sum = std::move(clipped.sum);
      loss_sum = clipped.losses.sum().item<double>();
    } else {
      for (const auto& p : params) sum.push_back(torch::zeros_like(p));
    }
    set_noisy_gradients(params, sum, sigma, dp.max_grad_norm, q * n);
    recipe->step();
    recipe->after_step();
    const auto items = static_cast<double>(positions.size(0));
    epoch_sum += loss_sum;
    epoch_items += items;
    if (o.observer) o.observer->stepped(task, step, loss_sum, items);
    if (o.progress && *o.progress) (*o.progress)();
    if ((step + 1) % steps_per_epoch == 0 || step + 1 == total_steps) {
      const double mean = epoch_sum / std::max(1.0, epoch_items);
      if (!std::isfinite(mean))
        throw TrainError("model " + std::to_string(model_index) + ": training loss became " + std::to_string(mean) +
                         " in epoch " + std::to_string(epoch + 1) + "; lower training.lr");
      spdlog::debug("model {} epoch {}/{}: loss {:.4f}", model_index, epoch + 1, epochs, mean);
      epoch_sum = epoch_items = 0;
    }
  }
  recipe->finish();
  if (o.observer) o.observer->finished(task);
  return {plan.epsilon, sigma};
}

}  // namespace

std::vector<WorkerMessage> run_jobs(const LoopOptions& o, Task& task, const std::vector<JobAssignment>& jobs) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = task.candidates(), k = static_cast<int64_t>(jobs.size());
  if (k < 1) throw Error("run_jobs: no jobs");
  if (o.observer && k > 1) throw Error("run_jobs: a loop observer watches one model");
  std::vector<Lane> lanes;
  for (const auto& job : jobs) {
    if (static_cast<int64_t>(job.keep_row.size()) != n)
      throw TrainError("job for model " + std::to_string(job.model) + " has a keep row of " +
                       std::to_string(job.keep_row.size()) + " entries, expected " + std::to_string(n));
    lanes.push_back(lane_for(job.keep_row, job.seed));
  }
  // Per call, from the thread that runs it: OpenMP's thread count is per calling thread.
  torch::set_num_threads(o.threads);
  task.build(lanes);
  if (o.gang) {
    // The seeds agree too; this makes the weights agree whatever the initialization draws.
    std::vector<torch::Tensor> state;
    for (auto& [name, p] : task.parameters()) state.push_back(p);
    for (auto& b : task.buffers()) state.push_back(b);
    o.gang->broadcast(state);
  }
  std::vector<ModelResult> results(static_cast<size_t>(k));
  std::vector<std::string> failed(static_cast<size_t>(k));
  if (o.dp && o.dp->enabled()) {
    if (o.gang) throw ConfigError("parallel.ranks_per_model: DP-SGD trains each model on one rank; set it to 1");
    if (k > 1) throw ConfigError("parallel.models_per_job: DP-SGD trains one model per job; set it to 1");
    std::tie(results[0].dp_epsilon, results[0].dp_noise_multiplier) = train_dp(o, task, jobs[0].model);
  } else {
    const auto states = Training(o, task, jobs).run();
    for (int64_t j = 0; j < k; ++j) failed[static_cast<size_t>(j)] = states[static_cast<size_t>(j)].failed;
  }
  for (int64_t j = 0; j < k; ++j) {
    results[static_cast<size_t>(j)].model = jobs[static_cast<size_t>(j)].model;
    results[static_cast<size_t>(j)].attempt = jobs[static_cast<size_t>(j)].attempt;
    results[static_cast<size_t>(j)].pack = static_cast<int32_t>(k);
  }
  std::vector<WorkerMessage> out;
  if (!o.gang || o.gang->rank() == 0) {  // the leader evaluates and reports
    std::vector<const std::vector<uint8_t>*> keep;
    std::vector<ModelResult*> into;
    for (int64_t j = 0; j < k; ++j) {
      keep.push_back(&jobs[static_cast<size_t>(j)].keep_row);
      into.push_back(failed[static_cast<size_t>(j)].empty() ? &results[static_cast<size_t>(j)] : nullptr);
    }
    if (std::any_of(into.begin(), into.end(), [](const ModelResult* r) { return r != nullptr; }))
      task.evaluate(keep, into);
    // The pass's time, shared by its models.
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (auto& r : results) r.train_seconds = seconds / static_cast<double>(k);
  }
  for (int64_t j = 0; j < k; ++j) {
    if (!failed[static_cast<size_t>(j)].empty()) {
      out.emplace_back(JobFailure{jobs[static_cast<size_t>(j)].model, jobs[static_cast<size_t>(j)].attempt,
                                  failed[static_cast<size_t>(j)], false});
    } else {
      out.emplace_back(std::move(results[static_cast<size_t>(j)]));
    }
  }
  return out;
}

ModelResult run_job(const LoopOptions& o, Task& task, const JobAssignment& job) {
  auto out = run_jobs(o, task, {job});
  if (const auto* f = std::get_if<JobFailure>(&out.at(0))) throw TrainError(f->message);
  return std::get<ModelResult>(std::move(out[0]));
}

ModelResult external_signals(const TrainerContext& context, const std::string& model_path,
                             const std::vector<uint8_t>& membership) {
  TrainerContext c = context;
  if (c.config.data.is_text())
    throw ConfigError("lira signals: implemented for classifiers; " + c.config.data.dataset +
                      " data trains language models");
  c.config.model.arch = "torchscript";
  c.config.training.recipe = "generic";  // the file's recipe trained its models, not this one
  c.config.model.torchscript_path = model_path;
  c.config.model.torchscript_reinit = false;
  const auto device = resolve_device(c.config, c.device_index, c.workers_on_node);
  torch::set_num_threads(c.threads);
  const auto t0 = std::chrono::steady_clock::now();
  auto task = make_classifier_task(c, device);
  if (static_cast<int64_t>(membership.size()) != task->candidates())
    throw ConfigError("lira signals: a membership of " + std::to_string(membership.size()) + " entries for " +
                      std::to_string(task->candidates()) + " candidates");
  task->build({lane_for(membership, 0)});
  ModelResult result;
  task->evaluate({&membership}, {&result});
  result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

namespace {

class TorchRunner final : public JobRunner {
 public:
  explicit TorchRunner(const TrainerContext& c)
      : device_(resolve_device(c.config, c.device_index, c.workers_on_node)),
        training_(c.config.training),
        model_(c.config.model),
        dp_(c.config.dp),
        progress_(c.progress) {
    if (c.threads < 1) throw Error("make_torch_runner: threads must be >= 1");
    if (c.gang && c.gang->size() > 1) {
      GangComm& tensors = c.tensor_gang ? *c.tensor_gang : *c.gang;
      gang_ = std::make_unique<GangSync>(*c.gang, tensors, device_);
    }
    task_ = c.config.data.is_text() ? make_lm_task(c, device_) : make_classifier_task(c, device_);
    options_ = {&training_, &model_, device_, c.threads, gang_.get(), &progress_, nullptr, &dp_,
                c.config.defense.early_stopping};
    spdlog::debug("trainer: {} task on {}{}", task_->name(), device_.str(),
                  gang_ ? ", in a gang of " + std::to_string(gang_->size()) : "");
    if (!device_.is_cuda()) warn_if_reference_blas();
    if (!device_.is_cuda() && c.config.parallel.models_per_job > 1)
      spdlog::warn("parallel.models_per_job {} on the CPU: packs train the same models, but CPU training is already "
                   "bound by its matrix products and convolutions, so packs gain little or lose there (docs/training.md, "
                   "bench/packs.sh); they are meant for GPUs",
                   c.config.parallel.models_per_job);
  }

  ModelResult run(const JobAssignment& job) override { return run_job(options_, *task_, job); }

  // A pack: its K models trained at once through the same loop (K wide).
  std::vector<WorkerMessage> run_pack(const std::vector<JobAssignment>& jobs) override {
    if (jobs.size() < 2) return JobRunner::run_pack(jobs);
    return run_jobs(options_, *task_, jobs);
  }
  bool broken() const override { return gang_ && gang_->broken(); }

 private:
  torch::Device device_;
  TrainingConfig training_;
  ModelConfig model_;
  DpConfig dp_;
  std::function<void()> progress_;
  std::unique_ptr<GangSync> gang_;
  std::unique_ptr<Task> task_;
  LoopOptions options_;
};

}  // namespace

std::unique_ptr<JobRunner> make_torch_runner(const TrainerContext& context) {
  return std::make_unique<TorchRunner>(context);
}

}  // namespace lira
