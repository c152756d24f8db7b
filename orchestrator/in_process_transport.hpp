// Coordinator and workers in one process, connected by thread-safe queues.
//
// Used when `lira run` is started without mpirun (the process is coordinator and one
// worker thread) and by the unit tests, which run fake workers at uneven speeds.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "transport.hpp"

namespace lira {

class InProcessHub {
 public:
  explicit InProcessHub(int workers);
  ~InProcessHub();
  InProcessHub(const InProcessHub&) = delete;
  InProcessHub& operator=(const InProcessHub&) = delete;

  CoordinatorTransport& coordinator();
  WorkerTransport& worker(int index);

 private:
  class CoordinatorEnd;
  class WorkerEnd;
  std::mutex mutex_;
  std::condition_variable to_coordinator_cv_;
  std::deque<Incoming> to_coordinator_;
  std::unique_ptr<CoordinatorEnd> coordinator_;
  std::vector<std::unique_ptr<WorkerEnd>> workers_;
};

}  // namespace lira
