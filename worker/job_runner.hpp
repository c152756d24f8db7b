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
};

}  // namespace lira
