// The one declaration of every configuration key: default, range, meaning.
// Adding a key = adding a field to config.hpp and one entry here; nothing else.
#include "config_schema.hpp"

#include <limits>

namespace lira::schema {
namespace {
constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
}

const std::vector<Section>& sections() {
  static const std::vector<Section> s = {
      {"experiment", "What is run: how many reference models, from which seed, into which file."},
      {"data", "The candidate pool and the held-out test split."},
      {"model", "The architecture every reference model shares."},
      {"training", "The recipe each reference model is trained with."},
      {"queries", "Test-time augmentations at which every candidate is evaluated (the A axis)."},
  };
  return s;
}

const std::vector<Key>& keys() {
  static const std::vector<Key> k = {
      // ---------------------------------------------------------------- experiment
      {"experiment", "name", TextKey{"quickstart", [](Config& c) -> std::string& { return c.experiment.name; }},
       "Experiment name: shown in logs; the default output is results/<name>.h5."},
      {"experiment", "seed", IntKey{0, 0, kMaxInt, [](Config& c) -> int64_t& { return c.experiment.seed; }},
       "Root seed: the keep matrix and every model's seed derive from it."},
      {"experiment", "models", IntKey{16, 2, 1 << 20, [](Config& c) -> int64_t& { return c.experiment.models; }},
       "Number of reference models M; even, so each candidate is IN for exactly M/2 models."},
      {"experiment", "output", TextKey{"", [](Config& c) -> std::string& { return c.experiment.output; }},
       "Results file (HDF5). Empty: results/<experiment.name>.h5. Never overwritten silently."},
      {"experiment", "max_retries",
       IntKey{1, 0, 100, [](Config& c) -> int64_t& { return c.experiment.max_retries; }},
       "How often a model whose training threw an error is retried before it is marked failed."},
      // ---------------------------------------------------------------- data
      {"data", "dataset",
       ChoiceKey{"fashion-mnist", {"fashion-mnist", "mnist"}, [](Config& c) -> std::string& { return c.data.dataset; }},
       "Dataset format and normalization: IDX files (train-images-idx3-ubyte[.gz], ...)."},
      {"data", "path",
       TextKey{"/usr/share/datasets/fashion-mnist", [](Config& c) -> std::string& { return c.data.path; }},
       "Directory holding the dataset files (Debian's dataset-fashion-mnist by default)."},
      {"data", "candidates", IntKey{4000, 2, kMaxInt, [](Config& c) -> int64_t& { return c.data.candidates; }},
       "Candidate pool size N: the first N examples of the training split."},
      {"data", "test_examples", IntKey{0, 0, kMaxInt, [](Config& c) -> int64_t& { return c.data.test_examples; }},
       "Examples of the test split used to measure test accuracy; 0 = all of them."},
      // ---------------------------------------------------------------- model
      {"model", "arch", ChoiceKey{"mlp", {"mlp", "cnn"}, [](Config& c) -> std::string& { return c.model.arch; }},
       "mlp: fully connected ReLU network; cnn: two 3x3 conv + max-pool stages, then the hidden layers."},
      {"model", "hidden",
       IntListKey{{256}, 1, 1 << 16, 0, 16, [](Config& c) -> std::vector<int64_t>& { return c.model.hidden; }},
       "Widths of the fully connected hidden layers (mlp, and cnn after its conv stages)."},
      {"model", "channels",
       IntListKey{{16, 32}, 1, 4096, 1, 4, [](Config& c) -> std::vector<int64_t>& { return c.model.channels; }},
       "cnn only: output channels of each conv stage (each stage halves height and width)."},
      // ---------------------------------------------------------------- training
      {"training", "epochs", IntKey{30, 1, 100000, [](Config& c) -> int64_t& { return c.training.epochs; }},
       "Passes over the model's IN half of the candidates."},
      {"training", "batch_size", IntKey{128, 1, 1 << 20, [](Config& c) -> int64_t& { return c.training.batch_size; }},
       "Examples per optimizer step (the last, smaller batch of an epoch is kept)."},
      {"training", "optimizer",
       ChoiceKey{"sgd", {"sgd", "adam"}, [](Config& c) -> std::string& { return c.training.optimizer; }},
       "sgd (with training.momentum, training.nesterov) or adam."},
      {"training", "lr", RealKey{0.1, 0.0, 100.0, [](Config& c) -> double& { return c.training.lr; }},
       "Learning rate (constant)."},
      {"training", "momentum", RealKey{0.9, 0.0, 1.0, [](Config& c) -> double& { return c.training.momentum; }},
       "SGD momentum (ignored by adam)."},
      {"training", "nesterov", BoolKey{false, [](Config& c) -> bool& { return c.training.nesterov; }},
       "SGD with Nesterov momentum (needs momentum > 0)."},
      {"training", "weight_decay",
       RealKey{0.0, 0.0, 1.0, [](Config& c) -> double& { return c.training.weight_decay; }},
       "L2 weight decay added to the gradient by the optimizer."},
      {"training", "threads", IntKey{0, 0, 1024, [](Config& c) -> int64_t& { return c.training.threads; }},
       "Intra-op CPU threads per worker process; 0 = this node's cores / worker processes on it."},
      // ---------------------------------------------------------------- queries
      {"queries", "identity", BoolKey{true, [](Config& c) -> bool& { return c.queries.identity; }},
       "Evaluate each candidate as it is."},
      {"queries", "mirror", BoolKey{true, [](Config& c) -> bool& { return c.queries.mirror; }},
       "Also evaluate its horizontal mirror image (LiRA paper: 2 queries beat 1)."},
  };
  return k;
}

}  // namespace lira::schema
