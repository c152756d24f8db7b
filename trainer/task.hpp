// What a kind of training plugs into the one job loop (job_loop.hpp): a classifier task
// (images and tables, classifier_task.cpp) and a language-model task (text, lm_task.cpp).
// A task trains K >= 1 models at once (a pack; one model is a pack of one): every call
// has a model axis. The loop owns everything the tasks share -- the keep-row check,
// timing, each model's epochs and steps, the learning-rate schedule, accumulation,
// gradient clipping, EMA, early stopping, the NaN guard, the gang's synchronization, the
// call to evaluation -- and a task owns only its models (built from each model's seed),
// its batches, its loss and its signals.
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

// One model of the K a task trains at once (a pack of K, or K = 1): its seed, which draws
// its initial weights, batch orders and augmentations exactly as it would alone, and its
// IN candidates (ascending).
struct Lane {
  uint64_t seed = 0;
  std::vector<int64_t> in;
};

// One step's loss over the K models, as this rank of `ranks` sees it.
struct StepLoss {
  // Summed over the models: each model's share of its own batch's loss (its mean, or
  // airbench94's sum), so that back-propagating it gives every model its own gradient
  // and, summed over a gang, the whole batch's. Undefined when nothing was computed.
  torch::Tensor loss;
  // [K] float64, detached: each model's summed loss over its shard; and per model the
  // whole batch's number of loss terms (examples or predicted tokens), 0 when it sat out.
  torch::Tensor sums;
  std::vector<double> items;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual const char* name() const = 0;  // "classifier", "language model"
  virtual int64_t candidates() const = 0;  // N: the keep row's length

  // Builds the K = lanes.size() models, each drawing its initial weights from torch's
  // default generator seeded with its seed. A task without a model axis (the language
  // model, TorchScript) throws ConfigError for K > 1.
  virtual void build(const std::vector<Lane>& lanes) = 0;
  int64_t width() const { return width_; }  // K, after build
  // Whether every tensor of the state carries the model axis first ([K, ...]); else K = 1
  // and the tensors are the single network's.
  virtual bool stacked() const { return false; }
  // The trainable parameters, each tensor once (a tied matrix is one parameter).
  virtual NamedTensors parameters() = 0;
  // Everything else evaluation depends on (BatchNorm statistics).
  virtual std::vector<torch::Tensor> buffers() = 0;
  virtual void set_training(bool on) = 0;
  // Every floating tensor of the model's state, named (Network::state), and that state
  // before a data-dependent init (empty if none): airbench94's lookahead averages them.
  virtual NamedTensors state() { return parameters(); }
  virtual std::vector<torch::Tensor> state_before_data_init() { return {}; }
  // Model `lane`'s number of training examples per epoch (the official schedule counts
  // progress in examples), or 0 when progress is counted in steps.
  virtual int64_t examples(int64_t /*lane*/) const { return 0; }
  // The inputs and labels of the last batch loss() trained on, for K = 1
  // (tests/tools/recipe_steps: the same batches through an independent implementation).
  virtual std::pair<torch::Tensor, torch::Tensor> last_batch() const { return {}; }

  // Draws model `lane`'s batch order for epoch `epoch` (from its own draws) and returns
  // its number of batches. Called for every epoch of a model in order, epoch 0 before the
  // loop counts its steps.
  virtual int64_t begin_epoch(int64_t lane, int64_t epoch) = 0;
  // The loss of batch batch[k] of model k's current epoch (-1: model k sits this step
  // out) on shard `rank` of `ranks`. Random draws (augmentation) are made for the whole
  // batch on every rank, so a gang draws what one rank would.
  virtual StepLoss loss(const std::vector<int64_t>& batch, int rank, int ranks) = 0;

  // DP-SGD (dp_sgd.hpp; K = 1, the job loop refuses it for a task that returns no
  // network): the network being trained, the training inputs and labels of the IN
  // examples at `positions` (int64 positions in the IN set, augmented as training batches
  // are), and the per-example training losses [b] of logits for labels.
  virtual Network* network() { return nullptr; }
  virtual std::pair<torch::Tensor, torch::Tensor> examples_at(const torch::Tensor& positions);
  virtual torch::Tensor example_losses(const torch::Tensor& logits, const torch::Tensor& labels);
  // Throws the ConfigError for a task without DP-SGD (the defaults above; the job loop).
  [[noreturn]] void refuse_dp() const;

  // Model `lane` left its pack (its loss was not finite): its weights and statistics are
  // reset to finite values, so that its NaNs reach no other model's computation. Tasks
  // that train one model at a time need nothing here.
  virtual void clear(int64_t /*lane*/) {}

  // Early stopping: each model's mean loss (as it is now, in evaluation mode) on the
  // validation split. The default throws a ConfigError (no validation split).
  virtual std::vector<double> validation_losses();

  // Evaluates the trained models into the signal arrays of the results layout, and the
  // accuracies: results[k] for model k with keep row *keep[k], skipped when null (a model
  // that left the pack).
  virtual void evaluate(const std::vector<const std::vector<uint8_t>*>& keep, const std::vector<ModelResult*>& results) = 0;

 protected:
  int64_t width_ = 0;
};

// Model `lane`'s part of a state tensor: its slice of a stacked [K, ...] tensor, or the
// tensor itself when the task is not stacked.
inline torch::Tensor lane_of(const torch::Tensor& t, int64_t lane, bool stacked) { return stacked ? t[lane] : t; }

struct TrainerContext;
// The two tasks (classifier_task.cpp, lm_task.cpp), for the data of the context.
std::unique_ptr<Task> make_classifier_task(const TrainerContext& context, torch::Device device);
std::unique_ptr<Task> make_lm_task(const TrainerContext& context, torch::Device device);

// `named` without repeats of one tensor: a TorchScript module lists a tied matrix (GPT-2's
// embedding and output) once per attribute, and an optimizer given it twice would step it
// twice. Identity is the tensor object (its TensorImpl); the first name is kept.
NamedTensors unique_parameters(const NamedTensors& named);

}  // namespace lira
