// `lira run CONFIG`: train every reference model of an experiment into one results file.
#pragma once

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

// `lira __job-process` (not for users): a worker rank's job process, started by the rank
// with its channel as descriptor 3 (worker/child_runner.hpp). Returns the exit code.
int job_process_command();

}  // namespace lira
