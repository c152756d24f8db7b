// Progress of a run: models done out of M, rate and ETA, for the coordinator's log lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lira {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  // total: models in the run; already_done: finished before this process started.
  Progress(int64_t total, int64_t already_done, Clock::time_point start = Clock::now());
  void model_finished() { ++done_now_; }
  void model_failed() { ++failed_; }
  int64_t done() const { return already_done_ + done_now_; }
  int64_t failed() const { return failed_; }
  double models_per_minute(Clock::time_point now = Clock::now()) const;
  double eta_seconds(Clock::time_point now = Clock::now()) const;  // NaN when unknown
  // "12/64 models done (1 failed), 3.4 models/min, ETA 15:20"
  std::string summary(Clock::time_point now = Clock::now()) const;

 private:
  int64_t total_, already_done_;
  int64_t done_now_ = 0, failed_ = 0;
  Clock::time_point start_;
};

}  // namespace lira
