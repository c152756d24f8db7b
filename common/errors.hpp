// Typed exceptions used across lira, and the process exit codes they map to.
//
// Every error a user can cause (bad config, missing data, unwritable output) is one of
// these, thrown with a message that says what was wrong, where, and what to do next.
// main() catches them; nothing in the libraries calls exit() or abort().
#pragma once

#include <stdexcept>
#include <string>

namespace lira {

// Exit codes of the `lira` executable (documented in docs/cli.md).
enum class ExitCode : int {
  kOk = 0,
  kInternal = 1,       // a bug or an unexpected library failure
  kUsage = 2,          // bad command line, config or input data: fix the input and rerun
  kIo = 3,             // the results file or the dataset could not be read or written
  kModelsFailed = 4,   // the run finished but some models failed (see the log)
  kInterrupted = 5,    // stopped by SIGTERM, SIGUSR1 or SIGINT: rerun the same command to resume
  kWorkersLost = 6,    // some worker stopped answering; finished models are saved: rerun to resume
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ExitCode code = ExitCode::kInternal)
      : std::runtime_error(message), code_(code) {}
  ExitCode exit_code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

// The user's configuration or command line is wrong.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& m) : Error(m, ExitCode::kUsage) {}
};

// A dataset file is missing, truncated or malformed, or does not fit the config.
class DataError : public Error {
 public:
  explicit DataError(const std::string& m) : Error(m, ExitCode::kUsage) {}
};

// HDF5 or filesystem failure on the results file.
class StorageError : public Error {
 public:
  explicit StorageError(const std::string& m) : Error(m, ExitCode::kIo) {}
};

// An MPI call failed, or a peer sent something that breaks the protocol.
class CommError : public Error {
 public:
  explicit CommError(const std::string& m) : Error(m, ExitCode::kInternal) {}
};

// Training a model failed (NaN loss, out of memory, ...). Caught per job by the worker.
class TrainError : public Error {
 public:
  explicit TrainError(const std::string& m) : Error(m, ExitCode::kInternal) {}
};

// Scoring was asked for something the results file cannot support.
class ScoreError : public Error {
 public:
  explicit ScoreError(const std::string& m) : Error(m, ExitCode::kUsage) {}
};

// Whether a model's job failed for a reason in the config alone (a ConfigError while
// training, e.g. a batch larger than the model's training set), which no retry on any
// worker can fix. A DataError is not: reading a file can fail on one node or for a while.
inline bool is_config_error(const std::exception& e) { return dynamic_cast<const ConfigError*>(&e) != nullptr; }

}  // namespace lira
