// `lira run CONFIG`: train every reference model of an experiment into one results file.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace lira {

struct RunArgs {
  std::string config_path;
  std::vector<std::string> overrides;  // "section.key=value"
  std::string out;                     // overrides experiment.output when not empty
  bool overwrite = false;
  std::string log_level = "info";
};

// Returns the process exit code (see common/errors.hpp). Under an MPI launcher every
// rank calls this; without one, the process runs coordinator and worker itself.
int run_command(const RunArgs& args);

struct Config;
struct Dataset;
class Plan;
// The experiment's keep matrix and seeds, from the config (one place for every command).
Plan make_plan(const Config& config);
// The data a run of `config` trains on: read from data.path and checked against the
// config (check_config_with_data), or the synthetic workload's stand-in. Every entry
// point that builds a trainer (run, its job processes, lira signals) goes through it.
std::shared_ptr<const Dataset> dataset_for(const Config& config);
// DP-SGD runs: what each model will spend, from the keep plan (each model's IN count
// sets its sampling rate and steps) and the RDP accountant -- one line, e.g. "DP-SGD:
// sigma 1.1, C 1, delta 1e-05; epsilon 2.31 to 2.35 per model (...)". Empty without DP.
std::string dp_budget_summary(const Config& config);
// The same, with a refusal (an unreachable dp.target_epsilon) worded as the config
// check's: "invalid configuration (ORIGIN): ...".
std::string dp_budget_summary(const Config& config, const std::string& origin);

// `lira __job-process` (not for users): a worker rank's job process, started by the rank
// with its channel as descriptor 3 (worker/child_runner.hpp). Returns the exit code.
int job_process_command();

}  // namespace lira
