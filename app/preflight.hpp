// Every check `lira run` makes before it creates or trains anything, in one function that
// `lira validate` runs as well: "valid" means that `lira run` starts, and a mistake that
// would fail every model (or fill the disk) is found before the first one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace lira {

struct Config;
struct Dataset;

struct Preflight {
  std::shared_ptr<const Dataset> data;  // read from data.path and checked against the config
  std::string dp_budget;                // dp_budget_summary's line; empty without DP
  int64_t results_bytes = 0;            // the results file's size when created (estimate)
};

// In order: the results path (never one of the run's inputs: the config, the data files,
// the tokenizer and TorchScript files; with overwrite, only a results file is replaced;
// its directory takes new files), training.device against this build, the DP budget
// (an unreachable dp.target_epsilon), the data and its rules (check_config_with_data),
// every model's training-set size against training.batch_size where the last partial
// batch is dropped, and the free space for a new results file. Throws ConfigError,
// DataError or StorageError saying what to change; creates nothing.
// `check_device`: false where the lira that will run is another build than this one (lira
// slurm --lira: a container's), whose CUDA support is not known here.
Preflight preflight(const Config& config, const std::string& config_path, bool overwrite, bool check_device = true);

// The bytes a new results file of `config` takes (its signals are allocated at creation).
int64_t results_file_bytes(const Config& config, const Dataset& data);

}  // namespace lira
