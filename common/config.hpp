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
  std::string output;   // results file; resolved from the name when left empty
  int64_t max_retries = 0;
};

struct DataConfig {
  std::string dataset;  // fashion-mnist | mnist (IDX files)
  std::string path;     // directory holding the dataset files
  int64_t candidates = 0;     // N: the first N examples of the training split
  int64_t test_examples = 0;  // examples of the test split used for test accuracy (0: all)
};

struct ModelConfig {
  std::string arch;  // mlp | cnn
  std::vector<int64_t> hidden;
  std::vector<int64_t> channels;
};

struct TrainingConfig {
  int64_t epochs = 0;
  int64_t batch_size = 0;
  std::string optimizer;  // sgd | adam
  double lr = 0;
  double momentum = 0;
  bool nesterov = false;
  double weight_decay = 0;
  int64_t threads = 0;  // intra-op threads per worker process; 0 = auto
};

struct QueriesConfig {
  bool identity = true;
  bool mirror = false;
};

struct Config {
  ExperimentConfig experiment;
  DataConfig data;
  ModelConfig model;
  TrainingConfig training;
  QueriesConfig queries;

  // Names of the enabled queries (test-time augmentations), in storage order: the A axis.
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

}  // namespace lira
