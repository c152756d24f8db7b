// Dynamic scheduling of training jobs onto workers: an idle worker gets the next pending
// job, so faster workers do more. Failed jobs are retried (up to max_retries) before
// they are marked failed; the run goes on. Plain C++: the transport is an interface, so
// tests drive it in-process with fake workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "plan.hpp"
#include "transport.hpp"

namespace lira {

// What the coordinator does with events; storage and progress logging live behind it.
class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  virtual void on_worker_ready(int /*worker*/, const WorkerReady& /*hello*/) {}
  // Must make the result durable before returning: the model counts as done after it.
  virtual void on_result(int worker, const ModelResult& result) = 0;
  virtual void on_failure(int /*worker*/, const JobFailure& /*failure*/, bool /*will_retry*/) {}
  // Called whenever receive() timed out, for periodic work (progress lines).
  virtual void on_tick() {}
};

struct SchedulerOptions {
  int64_t max_retries = 1;
  std::chrono::milliseconds poll_interval{500};
};

struct ScheduleSummary {
  std::vector<int64_t> done;    // models finished, in completion order
  std::vector<int64_t> failed;  // models that failed max_retries + 1 times
  std::vector<int64_t> jobs_per_worker;
};

// Runs every model in `pending` (indices into the plan) to completion or failure, then
// sends StopWorker to every worker and returns. Throws CommError on protocol violations
// (a result for a job the worker was not given).
ScheduleSummary run_schedule(const Plan& plan, const std::vector<int64_t>& pending, CoordinatorTransport& transport,
                             SchedulerObserver& observer, const SchedulerOptions& options = {});

}  // namespace lira
