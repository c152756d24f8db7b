// What the coordinator and the workers say to each other, as plain C++ values, and their
// byte encoding for transports that cross process boundaries (MPI).
//
// The encoding is native-endian with a magic number and version: all ranks of one run are
// the same executable on the same architecture. decode() validates every length and
// throws CommError on malformed input instead of reading out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/results_layout.hpp"  // SignalArray, ModelResult

namespace lira {

// Coordinator -> worker: train model `model` on the candidates with keep_row[n] == 1.
struct JobAssignment {
  int64_t model = -1;
  uint64_t seed = 0;
  int32_t attempt = 0;  // 0 for the first try, 1 for the first retry, ...
  std::vector<uint8_t> keep_row;
  DirectRows direct{};  // where to write the result's rows (common/results_layout.hpp); empty: send them
};

// Coordinator -> worker: no more work; leave the worker loop.
struct StopWorker {};

// Coordinator -> worker: train these models at once (parallel.models_per_job > 1, two or
// more jobs); the worker answers with one ModelResult or JobFailure per job, and is
// ready for more after the last of them.
struct JobPack {
  std::vector<JobAssignment> jobs;
};

using CoordinatorMessage = std::variant<JobAssignment, StopWorker, JobPack>;

// Worker -> coordinator: the worker is up and idle (sent once, at start).
struct WorkerReady {
  std::string host;
  int64_t pid = 0;
};

// Worker -> coordinator: still working on `model` (of a pack: its first model; sent every heartbeat interval while a
// job runs, so the coordinator can tell a slow job from a dead worker).
struct Heartbeat {
  int64_t model = -1;
  int32_t attempt = 0;
};

// Worker -> coordinator: the job threw. Also means "ready for the next job".
struct JobFailure {
  int64_t model = -1;
  int32_t attempt = 0;
  std::string message;
  // The worker cannot take more jobs (its data-parallel gang is broken): the coordinator
  // gives it none and counts it as lost.
  bool retire = false;
  // The failure follows from the config alone (a ConfigError while training one model, e.g.
  // a batch larger than its training set): the same on every worker and every attempt, so
  // the coordinator does not retry it.
  bool deterministic = false;
};

// Worker -> coordinator: a finished model (ModelResult, common/results_layout.hpp) also
// means "ready for the next job".
using WorkerMessage = std::variant<WorkerReady, ModelResult, JobFailure, Heartbeat>;

std::vector<std::byte> encode(const CoordinatorMessage& m);
std::vector<std::byte> encode(const WorkerMessage& m);
CoordinatorMessage decode_coordinator_message(const std::byte* data, size_t size);
WorkerMessage decode_worker_message(const std::byte* data, size_t size);

}  // namespace lira
