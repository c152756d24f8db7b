// The experiment configuration: typed sections, loaded from YAML with `--set` overrides.
//
// Every key is declared exactly once, in the table in config_schema.cpp, with its
// default, allowed range and a one-line meaning; defaults, parsing, the resolved-config
// printout and docs/config.md are all derived from that table. Unknown keys are errors
// with a "did you mean" suggestion, so a typo never silently costs a week of GPU time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lira {

struct ExperimentConfig {
  std::string name;
  int64_t seed = 0;
  int64_t models = 0;   // M
  std::string keep_scheme;  // subsets | pairs (orchestrator/plan.hpp)
  std::string output;   // results file; resolved from the name when left empty
  int64_t max_retries = 0;
  int64_t max_crashes = 0;  // abnormal ends of the whole run a model may be in flight at
  int64_t heartbeat_seconds = 0;
  int64_t heartbeat_timeout = 0;
  int64_t grace_seconds = 0;
  int64_t stall_seconds = 0;  // a job process without progress this long is killed
};

struct DataConfig {
  std::string dataset;  // fashion-mnist | mnist | cifar10 | cifar100 | csv
  std::string path;     // directory holding the dataset files
  int64_t candidates = 0;        // N
  int64_t candidate_offset = 0;  // the pool is training examples [offset, offset + N)
  int64_t population = 0;        // the last P candidates are IN for no model
  int64_t test_examples = 0;     // examples of the test split used for test accuracy (0: all)
  std::string normalization;     // standard | symmetric | none
  std::string cifar100_labels;   // fine | coarse
  std::string csv_label;         // first | last
  bool csv_header = false;
  std::string text_field;        // jsonl: the field holding the record
  int64_t max_tokens = 0;        // text: records truncated to this many tokens
  std::string tokenizer;         // text: byte | bpe
  std::string bpe_vocab, bpe_merges;  // tokenizer bpe: GPT-2-style vocab.json and merges.txt
  int64_t vocab_size = 0;        // llmc: the token vocabulary (GPT-2: 50257)
  int64_t canaries = 0;          // audit canaries in pool slots [N - P - canaries, N - P)
  std::string canary_kind;       // mislabeled | noise
  bool is_text() const { return dataset == "text" || dataset == "fortunes" || dataset == "jsonl" || dataset == "llmc"; }
};

struct ModelConfig {
  std::string arch;  // mlp | cnn | wrn28-2 | wrn16-4 | wrn | resnet18 | airbench | torchscript
  std::vector<int64_t> hidden;
  std::vector<int64_t> channels;
  int64_t depth = 0;   // wrn
  int64_t width = 0;   // wrn
  double dropout = 0;  // wrn
  std::string norm;    // the ResNets: batch | group
  std::vector<int64_t> airbench_widths;
  std::string torchscript_path;
  bool torchscript_reinit = false;
  // gpt
  int64_t layers = 0, heads = 0, embed = 0, context = 0;
  // arch synthetic (a benchmark workload, docs/performance.md): no training at all.
  double job_seconds = 0;
  double synthetic_failure_rate = 0;
  double synthetic_slow_fraction = 0;
  double synthetic_slowdown = 1;
};

struct TrainingConfig {
  std::string recipe;  // auto | generic | airbench94 | official (common/recipes.hpp)
  double epochs = 0;  // fractional: the last epoch stops after its share of the steps
  int64_t batch_size = 0;
  std::string optimizer;  // sgd | adam | adamw
  double lr = 0;
  double momentum = 0;
  bool nesterov = false;
  double weight_decay = 0;
  bool decay_all = false;    // also decay biases and normalization parameters
  std::string schedule;      // constant | cosine | official | onecycle
  double warmup = 0;         // fraction of the steps
  double label_smoothing = 0;
  double ema = 0;            // EMA decay of the weights; 0 = off
  bool augment_flip = false;
  int64_t augment_crop = 0;  // reflect-pad by k, random crop back
  int64_t threads = 0;       // intra-op threads per worker process; 0 = auto
  std::string device;        // auto | cpu | cuda
  bool bf16 = true;          // bf16 autocast for training on CUDA
  bool channels_last = true; // channels-last memory format for conv nets on CUDA
  double grad_clip = 0;      // clip the gradients' global norm to this; 0 = off
  int64_t accumulate = 1;    // batches whose gradients are summed before each step
};

// DP-SGD (docs/privacy.md): per-example clipping, Gaussian noise, Poisson-sampled batches.
struct DpConfig {
  double noise_multiplier = 0;  // sigma; 0 (with target_epsilon 0) = DP-SGD off
  double target_epsilon = 0;    // > 0: sigma is solved so that each model spends this
  double max_grad_norm = 1.0;   // C: every example's gradient is clipped to this L2 norm
  double delta = 1e-5;
  std::string clipping;         // auto | loop
  bool enabled() const { return noise_multiplier > 0 || target_epsilon > 0; }
};

// Defenses (docs/privacy.md): what a defended model releases, from which the signals are
// computed, and early stopping of its training.
struct DefenseConfig {
  int64_t round_decimals = 0;  // > 0: released probabilities rounded to this many decimals
  int64_t top_k = 0;           // > 0: only the k largest probabilities are released
  bool label_only = false;     // only the predicted label is released
  int64_t early_stopping = 0;  // > 0: patience in epochs on the validation split
  int64_t validation_examples = 0;  // early stopping: test-split examples held out for it
  bool releases_scores() const { return round_decimals > 0 || top_k > 0 || label_only; }
};

struct QueriesConfig {
  bool identity = true;
  bool mirror = false;
  int64_t shift = 0;         // translations by -shift..shift (reflect padding)
  int64_t shift_stride = 1;
  std::string batchnorm;     // eval | train
};

// Extra per-model signals to store (/signals/*), for attacks that need more than the
// logit-scaled confidence and the loss.
struct SignalsConfig {
  bool probabilities = false;  // /signals/max_probability and /signals/entropy [N, A]
  bool logits = false;         // /signals/logits [N, A, C]
};

// One test-time query: an optional horizontal mirror, then a translation by (dy, dx).
struct QuerySpec {
  bool mirror = false;
  int64_t dy = 0, dx = 0;
  std::string name;  // "identity", "mirror", or e.g. "mirror(-1,2)" with shifts
};

struct ParallelConfig {
  int64_t ranks_per_model = 1;     // data-parallel gang size
  int64_t ranks_per_gpu = 1;       // worker ranks sharing one GPU
  int64_t collective_timeout = 300;  // seconds a gang collective may take before the gang is retired
  std::string isolation = "process";  // process: train in a job process per rank; thread: in the rank
  int64_t models_per_job = 1;  // K: models trained at once, K wide (trainer/job_loop.hpp)
  std::string result_writes = "worker";  // worker: rows written where produced; coordinator: sent to rank 0
};

struct Config {
  ExperimentConfig experiment;
  DataConfig data;
  ModelConfig model;
  TrainingConfig training;
  DpConfig dp;
  DefenseConfig defense;
  QueriesConfig queries;
  SignalsConfig signals;
  ParallelConfig parallel;

  // The enabled queries (test-time augmentations) in storage order: the A axis. As the
  // reference code's inference.py: for each flip, for each row shift, each column shift.
  std::vector<QuerySpec> query_specs() const;
  std::vector<std::string> query_names() const;
};

// A config with every key at its declared default.
Config default_config();

// Parses YAML text (origin names it in messages, e.g. the file path), then applies the
// `section.key=value` overrides in order, then resolves derived values (the output path)
// and checks the rules that span several keys. Throws ConfigError listing every problem
// found, each with its file:line:column or "--set".
Config parse_config(const std::string& yaml_text, const std::string& origin,
                    const std::vector<std::string>& overrides = {});

// Reads the file and calls parse_config. A missing or unreadable file is a ConfigError.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The resolved configuration as YAML, every key present, in declaration order. Parsing
// it back gives the same Config.
std::string to_yaml(const Config& config);

// Markdown table of every key: name, type, default, range, meaning (docs/config.md).
std::string keys_markdown();

// The YAML of only the keys that determine the results (no names, paths or timing): two
// runs with the same text, seed and data produce the same results file content.
std::string results_yaml(const Config& config);

}  // namespace lira
