// The live status of a run, written by the coordinator next to the results file as
// "<results>.status.json" (atomically: a temporary file renamed over the old one) on every
// event, at most once a second. `lira status` reads it to show each worker's last word;
// after a crash it stays as the run's last known state.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/side_files.hpp"

namespace lira {

class RunStatus {
 public:
  RunStatus(std::string results_path, int64_t models, std::vector<std::string> worker_names);
  static std::string path_for(const std::string& results_path) { return side_files::status(results_path); }

  void set_state(const std::string& state);  // running | finished | interrupted | failed
  void set_progress(int64_t done, int64_t failed, double models_per_minute, double eta_seconds);
  void set_schedule_seconds(double seconds) { schedule_seconds_ = seconds, dirty_ = true; }
  void worker_ready(int worker, const std::string& host, int64_t pid);
  void job_started(int worker, int64_t model, int32_t attempt);
  void heartbeat(int worker);
  // Model `model` of the worker's job (or pack) ended: "model 3 done: ..." / "model 3 failed: ...".
  // The worker is idle once every model of its pack ended.
  void job_ended(int worker, int64_t model, const std::string& last_word);
  void worker_lost(int worker, const std::string& last_word);
  void worker_stopped(int worker);
  // Writes the file if something changed and the last write is older than a second
  // (`force`: now). Failures are reported by returning false, never thrown: a status
  // file must not stop a run.
  bool write(bool force = false);

 private:
  struct Worker {
    std::string name, host, state = "starting", last_word;
    int64_t pid = 0, model = -1, jobs = 0;  // model: the (first) one in flight
    std::vector<int64_t> running;             // every model in flight: a pack's (parallel.models_per_job)
    double since = 0, last_heard = 0;  // unix seconds
  };
  static double now();

  std::string path_, state_ = "running";
  int64_t models_, done_ = 0, failed_ = 0;
  double rate_ = 0, eta_ = -1, started_, schedule_seconds_ = -1;
  std::vector<Worker> workers_;
  bool dirty_ = true;
  std::chrono::steady_clock::time_point last_write_{};
};

}  // namespace lira
