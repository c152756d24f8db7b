// What a worker does with a job: the one interface between orchestration and training.
// trainer/ implements it with libtorch; tests and benchmarks implement it with fakes.
#pragma once

#include <exception>
#include <vector>

#include "orchestrator/messages.hpp"

namespace lira {

class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // Trains model job.model on the candidates with job.keep_row[n] == 1 and returns its
  // signals. Throws on failure; the worker loop reports the message to the coordinator.
  virtual ModelResult run(const JobAssignment& job) = 0;
  // Trains the models of one pack (parallel.models_per_job) and returns one message per
  // job, in order: its ModelResult, or its JobFailure. The default runs them one by one;
  // the libtorch runner trains a pack's K models at once through its one job loop
  // (trainer/job_loop.hpp).
  // Throws when the pack as a whole failed (every model of it failed).
  virtual std::vector<WorkerMessage> run_pack(const std::vector<JobAssignment>& jobs) {
    std::vector<WorkerMessage> out;
    for (const auto& job : jobs) {
      try {
        ModelResult r = run(job);
        r.model = job.model;
        r.attempt = job.attempt;
        out.emplace_back(std::move(r));
      } catch (const std::exception& e) {
        out.emplace_back(JobFailure{job.model, job.attempt, e.what(), broken()});
        if (broken()) break;
      }
    }
    return out;
  }
  // After a failed run: whether this runner can take no more jobs (its data-parallel
  // gang's communicator is broken). The worker then reports the failure and leaves.
  virtual bool broken() const { return false; }
};

}  // namespace lira
