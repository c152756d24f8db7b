// The two ends of the coordinator <-> worker channel, as small interfaces.
//
// The scheduler and the worker loop only see these; MPI implements them across
// processes (mpi/), InProcessHub within one process (single-process runs and tests).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "messages.hpp"

namespace lira {

struct Incoming {
  int worker = -1;  // 0 .. worker_count()-1
  WorkerMessage message;
};

class CoordinatorTransport {
 public:
  virtual ~CoordinatorTransport() = default;
  virtual int worker_count() const = 0;
  // A human name for logs, e.g. "rank 3".
  virtual std::string worker_name(int worker) const = 0;
  // The next message from any worker, or nullopt after `timeout`. Must not spin a core.
  virtual std::optional<Incoming> receive(std::chrono::milliseconds timeout) = 0;
  virtual void send(int worker, const CoordinatorMessage& message) = 0;
};

class WorkerTransport {
 public:
  virtual ~WorkerTransport() = default;
  virtual void send(const WorkerMessage& message) = 0;
  // Blocks until the coordinator sends something. Must not spin a core.
  virtual CoordinatorMessage receive() = 0;
};

}  // namespace lira
