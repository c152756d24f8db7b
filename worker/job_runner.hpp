// What a worker does with a job: the one interface between orchestration and training.
// trainer/ implements it with libtorch; tests and benchmarks implement it with fakes.
#pragma once

#include "orchestrator/messages.hpp"

namespace lira {

class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // Trains model job.model on the candidates with job.keep_row[n] == 1 and returns its
  // signals. Throws on failure; the worker loop reports the message to the coordinator.
  virtual ModelResult run(const JobAssignment& job) = 0;
  // After a failed run: whether this runner can take no more jobs (its data-parallel
  // gang's communicator is broken). The worker then reports the failure and leaves.
  virtual bool broken() const { return false; }
};

}  // namespace lira
