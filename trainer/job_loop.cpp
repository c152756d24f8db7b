// Implements the job loop (job_loop.hpp) and the libtorch JobRunner around it.
//
// Determinism: each job seeds torch's generators with its own seed before it builds the
// model, and draws every batch order and augmentation from them; one process runs one
// job at a time. So on CPU a job's signals depend only on (config, seed, keep row, thread
// count), not on which worker runs it or when.
#include "job_loop.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

#include "common/dp_accountant.hpp"
#include "common/errors.hpp"
#include "common/schedule.hpp"
#include "device.hpp"
#include "dp_sgd.hpp"
#include "network.hpp"
#include "packed.hpp"
#include "recipe.hpp"
#include "trainer.hpp"

namespace lira {
namespace {

void train(const LoopOptions& o, Task& task, int64_t model_index) {
  const auto& t = *o.training;
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : task.parameters()) params.push_back(p);
  const auto recipe = make_recipe(t, *o.model, task);
  const int rank = o.gang ? o.gang->rank() : 0, ranks = o.gang ? o.gang->size() : 1;
  task.set_training(true);
  if (o.observer) o.observer->built(task);
  int64_t batches = task.begin_epoch(0);
  const int64_t steps_per_epoch = (batches + t.accumulate - 1) / t.accumulate;
  if (steps_per_epoch < 1)
    throw ConfigError("training.batch_size: " + std::to_string(t.batch_size) + " leaves no full batch of the model's " +
                      std::to_string(task.examples()) + " training examples (airbench94 drops the last partial "
                      "batch); lower it");
  // A fractional epoch count trains ceil(epochs x steps per epoch) steps in all.
  const auto total_steps = static_cast<int64_t>(std::ceil(t.epochs * static_cast<double>(steps_per_epoch) - 1e-9));
  const auto epochs = static_cast<int64_t>(std::ceil(t.epochs - 1e-9));
  const double examples = static_cast<double>(task.examples());
  int64_t step = 0;
  // Early stopping: the best validation loss so far, its epoch and a copy of its state.
  double best = std::numeric_limits<double>::infinity();
  int64_t best_epoch = -1;
  std::vector<torch::Tensor> best_state;
  for (int64_t epoch = 0; epoch < epochs && step < total_steps; ++epoch) {
    if (epoch > 0) batches = task.begin_epoch(epoch);
    recipe->begin_epoch(epoch);
    auto epoch_sum = torch::zeros({}, torch::TensorOptions(o.device).dtype(torch::kFloat64));
    double epoch_items = 0;
    for (int64_t b = 0; b < batches && step < total_steps; ++step) {
      // Progress in examples: (epoch N + the batch's offset) / (epochs N).
      const double progress =
          examples > 0 ? (static_cast<double>(epoch) * examples +
                          std::min(examples, static_cast<double>(b * t.batch_size))) / (t.epochs * examples)
                       : -1.0;
      // Later epochs of a packed language model may hold a batch more than the first.
      recipe->before_step(std::min(step, total_steps - 1), total_steps, progress);
      recipe->zero_grad();
      torch::Tensor step_sum;
      double step_items = 0;
      for (int64_t a = 0; a < t.accumulate && b < batches; ++a, ++b) {
        const ShardLoss l = task.loss(b, rank, ranks);
        if (l.loss.defined()) {
          (t.accumulate > 1 ? l.loss / static_cast<double>(t.accumulate) : l.loss).backward();
          epoch_sum += l.sum.to(torch::kFloat64);
          if (o.observer) step_sum = step_sum.defined() ? step_sum + l.sum : l.sum;
        }
        epoch_items += l.items;
        step_items += l.items;
      }
      if (o.gang) o.gang->allreduce_gradients(params);
      if (t.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, t.grad_clip);
      recipe->step();
      recipe->after_step(step + 1, total_steps);
      if (o.observer) o.observer->stepped(task, step, step_sum.defined() ? step_sum.item<double>() : 0.0, step_items);
      if (o.progress && *o.progress) (*o.progress)();
    }
    // One host synchronization per epoch; a gang sums its shards' sums, so every rank
    // sees the same mean and all of them stop together on a NaN.
    double sum = epoch_sum.item<double>();
    if (o.gang) sum = o.gang->allreduce(sum, "all-reduce of the epoch loss");
    const double mean = sum / std::max(1.0, epoch_items);
    if (!std::isfinite(mean))
      throw TrainError("model " + std::to_string(model_index) + ": training loss became " + std::to_string(mean) +
                       " in epoch " + std::to_string(epoch + 1) + "; lower training.lr");
    spdlog::debug("model {} epoch {}/{}: loss {:.4f}", model_index, epoch + 1, epochs, mean);
    if (o.early_stopping > 0) {
      const double v = task.validation_loss();
      task.set_training(true);
      if (v < best) {
        best = v, best_epoch = epoch;
        best_state.clear();
        for (auto& [name, tensor] : task.state()) best_state.push_back(tensor.detach().clone());
      } else if (epoch - best_epoch >= o.early_stopping) {
        spdlog::info("model {}: early stopping after epoch {} of {}: validation loss {:.4f}, best {:.4f} at epoch {}",
                     model_index, epoch + 1, epochs, v, best, best_epoch + 1);
        break;
      }
    }
  }
  if (best_epoch >= 0) {
    torch::NoGradGuard no_grad;
    auto live = task.state();
    for (size_t i = 0; i < live.size(); ++i) live[i].second.copy_(best_state[i]);
  }
  recipe->finish();
  if (o.observer) o.observer->finished(task);
}

// DP-SGD: ceil(epochs x n / batch) steps; in each, every IN example joins the batch with
// probability q = batch / n (Poisson sampling, drawn from torch's generator), each
// example's gradient is clipped to dp.max_grad_norm, and noise of std sigma C is added to
// the sum before dividing by the expected batch q n. The recipe (optimizer, schedule, EMA)
// is the generic one. Returns {epsilon spent at dp.delta, sigma}.
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
  const auto n = static_cast<double>(task.examples());
  const auto plan = dp::plan_dp_sgd(dp, t.batch_size, t.epochs, task.examples());
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
  for (int64_t step = 0; step < total_steps; ++step) {
    const int64_t epoch = step / steps_per_epoch;
    if (step % steps_per_epoch == 0) {
      task.begin_epoch(epoch);  // keeps the task's per-epoch state current; its batch order is not used
      recipe->begin_epoch(epoch);
    }
    recipe->before_step(step, total_steps, static_cast<double>(step) / static_cast<double>(total_steps));
    recipe->zero_grad();
    const auto positions =
        (torch::rand({task.examples()}, torch::TensorOptions(o.device).dtype(torch::kFloat64)) < q).nonzero().flatten();
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
    recipe->after_step(step + 1, total_steps);
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

ModelResult run_job(const LoopOptions& o, Task& task, const JobAssignment& job) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = task.candidates();
  if (static_cast<int64_t>(job.keep_row.size()) != n)
    throw TrainError("job for model " + std::to_string(job.model) + " has a keep row of " +
                     std::to_string(job.keep_row.size()) + " entries, expected " + std::to_string(n));
  // Per job, from the thread that runs it: OpenMP's thread count is per calling thread.
  torch::set_num_threads(o.threads);
  torch::manual_seed(job.seed);
  std::vector<int64_t> in;
  for (int64_t i = 0; i < n; ++i)
    if (job.keep_row[i]) in.push_back(i);
  task.build(in);
  if (o.gang) {
    // The seeds agree too; this makes the weights agree whatever the initialization draws.
    std::vector<torch::Tensor> state;
    for (auto& [name, p] : task.parameters()) state.push_back(p);
    for (auto& b : task.buffers()) state.push_back(b);
    o.gang->broadcast(state);
  }
  ModelResult result;
  if (o.dp && o.dp->enabled()) {
    if (o.gang) throw ConfigError("parallel.ranks_per_model: DP-SGD trains each model on one rank; set it to 1");
    std::tie(result.dp_epsilon, result.dp_noise_multiplier) = train_dp(o, task, job.model);
  } else {
    train(o, task, job.model);
  }

  result.model = job.model;
  result.attempt = job.attempt;
  if (o.gang && o.gang->rank() != 0) return result;  // the leader evaluates and reports
  task.evaluate(job.keep_row, result);
  result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

ModelResult external_signals(const TrainerContext& context, const std::string& model_path,
                             const std::vector<uint8_t>& membership) {
  TrainerContext c = context;
  if (c.config.data.is_text())
    throw ConfigError("lira signals: implemented for classifiers; " + c.config.data.dataset +
                      " data trains language models");
  c.config.model.arch = "torchscript";
  c.config.model.torchscript_path = model_path;
  c.config.model.torchscript_reinit = false;
  const auto device = resolve_device(c.config, c.device_index, c.workers_on_node);
  torch::set_num_threads(c.threads);
  const auto t0 = std::chrono::steady_clock::now();
  auto task = make_classifier_task(c, device);
  if (static_cast<int64_t>(membership.size()) != task->candidates())
    throw ConfigError("lira signals: a membership of " + std::to_string(membership.size()) + " entries for " +
                      std::to_string(task->candidates()) + " candidates");
  std::vector<int64_t> in;
  for (int64_t i = 0; i < task->candidates(); ++i)
    if (membership[i]) in.push_back(i);
  task->build(in);
  ModelResult result;
  task->evaluate(membership, result);
  result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

namespace {

class TorchRunner final : public JobRunner {
 public:
  explicit TorchRunner(const TrainerContext& c)
      : context_(c),
        device_(resolve_device(c.config, c.device_index, c.workers_on_node)),
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

  // A pack as one fused network; a model that diverged in it is trained again alone.
  std::vector<WorkerMessage> run_pack(const std::vector<JobAssignment>& jobs) override {
    if (jobs.size() < 2) return JobRunner::run_pack(jobs);
    if (!packed_) packed_ = std::make_unique<PackedTrainer>(context_, device_);
    auto models = packed_->run(jobs);
    std::vector<WorkerMessage> out;
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (models[i].diverged.empty()) {
        out.emplace_back(std::move(models[i].result));
        continue;
      }
      spdlog::warn("{}; training it alone", models[i].diverged);
      auto alone = JobRunner::run_pack({jobs[i]});
      out.push_back(std::move(alone.at(0)));
    }
    return out;
  }
  bool broken() const override { return gang_ && gang_->broken(); }

 private:
  TrainerContext context_;
  torch::Device device_;
  TrainingConfig training_;
  ModelConfig model_;
  DpConfig dp_;
  std::function<void()> progress_;
  std::unique_ptr<GangSync> gang_;
  std::unique_ptr<Task> task_;
  std::unique_ptr<PackedTrainer> packed_;
  LoopOptions options_;
};

}  // namespace

std::unique_ptr<JobRunner> make_torch_runner(const TrainerContext& context) {
  return std::make_unique<TorchRunner>(context);
}

}  // namespace lira
