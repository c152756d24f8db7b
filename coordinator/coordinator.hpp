// The coordinator's side of `lira run`: opening (or resuming) the results file, reacting
// to scheduler events (store, count, log, status file), and turning the outcome into an
// exit code. Shared by the MPI and the single-process runs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "orchestrator/plan.hpp"
#include "orchestrator/progress.hpp"
#include "orchestrator/run_status.hpp"
#include "orchestrator/scheduler.hpp"
#include "storage/results_file.hpp"
#include "data/dataset.hpp"

namespace lira {

// The results file of this run and the models it still has to train.
struct OpenedResults {
  std::unique_ptr<ResultsWriter> writer;
  std::vector<int64_t> pending;
  int64_t already_done = 0;
  // Models marked failed at opening by crash accounting ("model 3: in flight at ...").
  std::vector<std::string> failed_before;
};

// New file; or, when the path exists, the interrupted run's file to resume (refused with
// ResumeMismatch if it belongs to another experiment); or, with overwrite, a new file in
// its place. Failed models of an earlier run are pending again, except those that were in
// flight at more than experiment.max_crashes abnormal ends of the whole run (crash
// accounting: they are marked failed and stay so, which ends a crash loop).

// What `lira run` would do with an existing results file, in words, for `lira validate`:
// resume it (how many models are done), or refuse it (the reason, as run would say it).
std::string existing_results_verdict(const Config& config, const Dataset& data);

OpenedResults open_results(const Config& config, const Plan& plan, const Dataset& data, bool overwrite);

SchedulerOptions scheduler_options(const Config& config);

class CoordinatorObserver final : public SchedulerObserver {
 public:
  CoordinatorObserver(ResultsWriter& writer, CoordinatorTransport& transport, const Config& config,
                      int64_t already_done);

  // A model that failed before the schedule began (crash accounting at resume).
  void note_failed(const std::string& what);
  void on_worker_ready(int worker, const WorkerReady& hello) override;
  void on_job_started(int worker, int64_t model, int32_t attempt) override;
  void on_result(int worker, const ModelResult& r) override;
  void on_failure(int worker, const JobFailure& f, bool will_retry) override;
  void on_heartbeat(int worker, const Heartbeat& beat) override;
  void on_worker_lost(int worker, int64_t model, bool will_retry) override;
  void on_stop_requested(int signal) override;
  void on_tick() override;
  void on_quiet() override;

  // Logs the outcome, closes the results file and writes the final status. Returns the
  // exit code (common/errors.hpp); `must_abort` is set when some worker may still be
  // running (abandoned jobs, lost workers): the caller must then end them by force.
  int finish(const ScheduleSummary& summary, bool& must_abort);

 private:
  static constexpr std::chrono::milliseconds kCommitInterval{50};
  void commit();
  void update_progress();

  ResultsWriter& writer_;
  CoordinatorTransport& transport_;
  const Config& config_;
  Progress progress_;
  RunStatus status_;
  std::chrono::steady_clock::time_point start_, last_line_, last_commit_;
  std::vector<std::string> failures_;
  int64_t written_by_workers_ = 0, sent_ = 0;  // results whose rows the worker wrote / sent here
};

// The whole coordinator run over `transport`: schedules opened.pending, stores every
// result in opened.writer, writes the status file, and closes the file. Returns the exit
// code; `must_abort` says some worker may still be running (abandoned jobs, lost
// workers) and must be ended by force -- how depends on the mode (MPI_Abort, or _Exit for
// the in-process worker thread). The same function for the MPI and the in-process runs.
int run_coordinator(const Config& config, const Plan& plan, OpenedResults& opened, CoordinatorTransport& transport,
                    bool& must_abort);

}  // namespace lira
