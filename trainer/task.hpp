// What a kind of training plugs into the one job loop (job_loop.hpp): a classifier task
// (images and tables, classifier_task.cpp) and a language-model task (text, lm_task.cpp).
// The loop owns everything the tasks share -- seeding, the keep-row check, timing, epochs
// and steps, the learning-rate schedule, accumulation, gradient clipping, EMA, the NaN
// guard, the gang's synchronization, the call to evaluation -- and a task owns only its
// model, its batches, its loss and its signals.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/results_layout.hpp"

namespace lira {

class Network;
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// The loss of one batch as this rank of `ranks` sees it.
struct ShardLoss {
  // This shard's share of the batch's mean loss: back-propagated as it is, so the
  // gradients summed over a gang are the whole batch's mean gradient. Undefined for an
  // empty shard.
  torch::Tensor loss;
  // The shard's summed loss (detached) and the whole batch's number of loss terms
  // (examples, or predicted tokens), for the epoch's mean loss.
  torch::Tensor sum;
  double items = 0;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual const char* name() const = 0;  // "classifier", "language model"
  virtual int64_t candidates() const = 0;  // N: the keep row's length

  // Builds this job's model for the IN candidates `in` (ascending), drawing its initial
  // weights from torch's default generator, which the loop has seeded.
  virtual void build(const std::vector<int64_t>& in) = 0;
  // The trainable parameters, each tensor once (a tied matrix is one parameter).
  virtual NamedTensors parameters() = 0;
  // Everything else evaluation depends on (BatchNorm statistics).
  virtual std::vector<torch::Tensor> buffers() = 0;
  virtual void set_training(bool on) = 0;
  // Every floating tensor of the model's state, named (Network::state), and that state
  // before a data-dependent init (empty if none): airbench94's lookahead averages them.
  virtual NamedTensors state() { return parameters(); }
  virtual std::vector<torch::Tensor> state_before_data_init() { return {}; }
  // The number of training examples per epoch (the official schedule counts progress
  // in examples), or 0 when progress is counted in steps.
  virtual int64_t examples() const { return 0; }
  // The inputs and labels of the last batch loss() trained on (tests/tools/recipe_steps:
  // the same batches through an independent implementation); may be undefined.
  virtual std::pair<torch::Tensor, torch::Tensor> last_batch() const { return {}; }

  // Draws epoch `epoch`'s batch order (from torch's generator) and returns its number of
  // batches. Called for every epoch in order, epoch 0 before the loop counts its steps.
  virtual int64_t begin_epoch(int64_t epoch) = 0;
  // The loss of batch `batch` of the current epoch on shard `rank` of `ranks`. Random
  // draws (augmentation) are made for the whole batch on every rank, so a gang draws what
  // one rank would.
  virtual ShardLoss loss(int64_t batch, int rank, int ranks) = 0;

  // DP-SGD (dp_sgd.hpp; the job loop refuses it for a task that returns no network):
  // the network being trained, the training inputs and labels of the IN examples at
  // `positions` (int64 positions in the IN set, augmented as training batches are), and
  // the per-example training losses [b] of logits for labels.
  virtual Network* network() { return nullptr; }
  virtual std::pair<torch::Tensor, torch::Tensor> examples_at(const torch::Tensor& positions);
  virtual torch::Tensor example_losses(const torch::Tensor& logits, const torch::Tensor& labels);
  // Throws the ConfigError for a task without DP-SGD (the defaults above; the job loop).
  [[noreturn]] void refuse_dp() const;

  // Early stopping: the mean loss of the model (as it is now, in evaluation mode) on the
  // validation split. The default throws a ConfigError (no validation split).
  virtual double validation_loss();

  // Evaluates the trained model into the signal arrays of the results layout, and the
  // accuracies. `keep` is the job's keep row.
  virtual void evaluate(const std::vector<uint8_t>& keep, ModelResult& result) = 0;
};

struct TrainerContext;
// The two tasks (classifier_task.cpp, lm_task.cpp), for the data of the context.
std::unique_ptr<Task> make_classifier_task(const TrainerContext& context, torch::Device device);
std::unique_ptr<Task> make_lm_task(const TrainerContext& context, torch::Device device);

// `named` without repeats of one tensor: a TorchScript module lists a tied matrix (GPT-2's
// embedding and output) once per attribute, and an optimizer given it twice would step it
// twice. Identity is the tensor object (its TensorImpl); the first name is kept.
NamedTensors unique_parameters(const NamedTensors& named);

// The optimizer of training.optimizer over these parameters, weight decay on weights of
// two or more dimensions only unless training.decay_all.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainingConfig& training, const NamedTensors& named);

}  // namespace lira
