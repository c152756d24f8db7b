// Dynamic scheduling of training jobs onto workers: an idle worker gets the next pending
// job, so faster workers do more. Failed jobs are retried (up to max_retries) before
// they are marked failed; the run goes on. A busy worker that stays silent past the
// heartbeat timeout is declared lost and its job handed to another worker. A stop request
// (a signal) ends dispatching; running jobs get a grace period to finish. Plain C++: the
// transport is an interface, so tests drive it in-process with fake workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "plan.hpp"
#include "transport.hpp"

namespace lira {

// What the coordinator does with events; storage, status and logging live behind it.
class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  virtual void on_worker_ready(int /*worker*/, const WorkerReady& /*hello*/) {}
  virtual void on_job_started(int /*worker*/, int64_t /*model*/, int32_t /*attempt*/) {}
  // Stores the result; it must be durable by the next on_quiet() (or the end of the run).
  virtual void on_result(int worker, const ModelResult& result) = 0;
  virtual void on_failure(int /*worker*/, const JobFailure& /*failure*/, bool /*will_retry*/) {}
  virtual void on_heartbeat(int /*worker*/, const Heartbeat& /*beat*/) {}
  // A worker fell silent; `model` (or -1) was its job, requeued or failed as for a failure.
  virtual void on_worker_lost(int /*worker*/, int64_t /*model*/, bool /*will_retry*/) {}
  virtual void on_stop_requested(int /*signal*/) {}
  // Periodic work (progress lines, status file, committing results): called whenever
  // receive() timed out, and at least every poll_interval while messages keep coming.
  virtual void on_tick() {}
  // Called when no message is waiting: a good moment to make staged results durable, so
  // that results arriving back to back are committed together (group commit).
  virtual void on_quiet() {}
};

struct SchedulerOptions {
  int64_t max_retries = 1;
  // Models per job (parallel.models_per_job): an idle worker gets up to this many first
  // attempts from the front of the queue as one pack; a retry always goes alone, so a
  // model that crashed its pack's process trains on its own next time.
  int64_t models_per_job = 1;
  std::chrono::milliseconds poll_interval{500};
  std::chrono::milliseconds heartbeat_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds grace{std::chrono::minutes(1)};
  // Polled every loop; a non-zero value (the signal) asks the run to stop.
  std::function<int()> stop_requested;
  // Where a dispatched job's keep row comes from: the results file in a run (so the
  // coordinator never holds the M x N matrix); the plan itself when unset (tests).
  std::function<void(int64_t model, std::vector<uint8_t>& row)> keep_row;
  // Given to every job: where its worker writes the result's rows itself (empty: send them).
  DirectRows direct;
};

struct ScheduleSummary {
  std::vector<int64_t> done;    // models finished, in completion order
  std::vector<int64_t> failed;  // models that failed max_retries + 1 times
  std::vector<int64_t> jobs_per_worker;
  std::vector<int> lost_workers;
  int stop_signal = 0;              // non-zero: the run was asked to stop
  std::vector<int64_t> abandoned;   // still running when the grace period ended
  bool complete() const { return stop_signal == 0; }
};

// Runs every model in `pending` (indices into the plan) to completion or failure, then
// sends StopWorker to every live worker and returns; or, after a stop request, returns
// once the running jobs finished or the grace period ended (their models in abandoned).
// Throws CommError on protocol violations (a result for a job the worker was not given).
ScheduleSummary run_schedule(const Plan& plan, const std::vector<int64_t>& pending, CoordinatorTransport& transport,
                             SchedulerObserver& observer, const SchedulerOptions& options = {});

}  // namespace lira
