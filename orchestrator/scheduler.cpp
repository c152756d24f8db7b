// Implements run_schedule: the coordinator's event loop.
#include "scheduler.hpp"

#include <algorithm>
#include <deque>
#include <string>

#include "common/errors.hpp"

namespace lira {
namespace {

using Clock = std::chrono::steady_clock;

struct Pending {
  int64_t model;
  int32_t attempt;
};

struct WorkerState {
  bool started = false;  // sent WorkerReady
  bool stopped = false;  // sent StopWorker
  bool lost = false;     // silent past the heartbeat timeout; never used again
  std::vector<Pending> jobs;  // in flight (one job, or a pack's); empty when idle
  Clock::time_point last_heard;
  bool idle() const { return jobs.empty(); }
  bool has(int64_t model) const {
    return std::any_of(jobs.begin(), jobs.end(), [&](const Pending& p) { return p.model == model; });
  }
};

class Loop {
 public:
  Loop(const Plan& plan, const std::vector<int64_t>& pending, CoordinatorTransport& transport,
       SchedulerObserver& observer, const SchedulerOptions& options)
      : plan_(plan), transport_(transport), observer_(observer), options_(options) {
    const int n = transport.worker_count();
    if (n < 1) throw ConfigError("the run has no worker: start at least 2 MPI ranks, or run without mpirun");
    for (int64_t m : pending) {
      if (m < 0 || m >= plan.models()) throw Error("run_schedule: model " + std::to_string(m) + " not in the plan");
      queue_.push_back({m, 0});
    }
    workers_.assign(n, WorkerState{});
    const auto now = Clock::now();
    for (auto& w : workers_) w.last_heard = now;  // a worker that never says hello is lost too
    summary_.jobs_per_worker.assign(n, 0);
  }

  ScheduleSummary run() {
    while (active() > 0) {
      check_stop();
      if (stopping_ && in_flight_ > 0 && Clock::now() >= deadline_) {
        for (const auto& w : workers_)
          if (!w.lost)
            for (const auto& p : w.jobs) summary_.abandoned.push_back(p.model);
        return summary_;
      }
      auto incoming = transport_.receive(std::chrono::milliseconds(0));
      if (!incoming) {
        observer_.on_quiet();
        incoming = transport_.receive(options_.poll_interval);
      }
      // Periodic work runs on time even when messages never stop coming (a big run), so a
      // silent worker is still noticed among a thousand chatty ones.
      if (incoming) handle(*incoming);
      const auto now = Clock::now();
      if (!incoming || now >= next_tick_) {
        next_tick_ = now + options_.poll_interval;
        check_heartbeats();
        observer_.on_tick();
      }
    }
    return summary_;
  }

 private:
  int active() const {
    int n = 0;
    for (const auto& w : workers_) n += !w.stopped && !w.lost;
    return n;
  }

  void check_stop() {
    if (stopping_ || !options_.stop_requested) return;
    const int sig = options_.stop_requested();
    if (sig == 0) return;
    stopping_ = true;
    summary_.stop_signal = sig;
    deadline_ = Clock::now() + options_.grace;
    observer_.on_stop_requested(sig);
    for (int w = 0; w < static_cast<int>(workers_.size()); ++w)
      if (workers_[w].started && !workers_[w].stopped && !workers_[w].lost && workers_[w].idle()) stop(w);
  }

  void stop(int w) {
    workers_[w].stopped = true;
    transport_.send(w, StopWorker{});
  }

  // Gives worker w its next job (or pack), or stops it. Returns whether work was sent;
  // tells the observer (on_job_started) unless `notify` is false, when the caller does.
  bool dispatch(int w, bool notify = true) {
    auto& st = workers_[w];
    if (stopping_) {
      stop(w);
      return false;
    }
    if (!queue_.empty()) {
      // A pack: first attempts from the front of the queue; a retry goes alone.
      std::vector<JobAssignment> jobs;
      do {
        const Pending p = queue_.front();
        if (!jobs.empty() && p.attempt > 0) break;
        queue_.pop_front();
        JobAssignment job;
        job.model = p.model;
        job.seed = plan_.model_seed(p.model);
        job.attempt = p.attempt;
        job.direct = options_.direct;
        if (options_.keep_row) options_.keep_row(p.model, job.keep_row);
        else plan_.keep_row(p.model, job.keep_row);
        jobs.push_back(std::move(job));
        st.jobs.push_back(p);
        ++in_flight_;
        if (p.attempt > 0) break;
      } while (!queue_.empty() && static_cast<int64_t>(jobs.size()) < options_.models_per_job);
      if (jobs.size() == 1) {
        transport_.send(w, jobs.front());
      } else {
        transport_.send(w, JobPack{std::move(jobs)});
      }
      if (notify) notify_started(w);
      return true;
    }
    if (in_flight_ == 0) stop(w);  // nothing left, and nothing that could fail and come back
    // else: stay idle; a job in flight may still fail and need a retry.
    return false;
  }

  void notify_started(int w) {
    for (const auto& p : workers_[w].jobs) observer_.on_job_started(w, p.model, p.attempt);
  }

  // After any event: idle workers take queued retries, or stop when all is done.
  void wake_idle() {
    for (int v = 0; v < static_cast<int>(workers_.size()); ++v) {
      const auto& st = workers_[v];
      if (st.started && !st.stopped && !st.lost && st.idle() && (!queue_.empty() || in_flight_ == 0 || stopping_))
        dispatch(v);
    }
  }

  // The job of worker w ended without a result: retry it, or count it failed.
  bool requeue_or_fail(int64_t model, int32_t attempt) {
    const bool retry = attempt < options_.max_retries;
    if (retry) {
      queue_.push_front({model, attempt + 1});
    } else {
      summary_.failed.push_back(model);
    }
    return retry;
  }

  void finish_job(int w, int64_t model, int32_t attempt) {
    auto& st = workers_[w];
    const auto it = std::find_if(st.jobs.begin(), st.jobs.end(),
                                 [&](const Pending& p) { return p.model == model && p.attempt == attempt; });
    if (it == st.jobs.end())
      throw CommError("protocol violation: " + transport_.worker_name(w) + " reported model " + std::to_string(model) +
                      " (attempt " + std::to_string(attempt) + ") but was given " + given(st));
    st.jobs.erase(it);
    --in_flight_;
    ++summary_.jobs_per_worker[w];
  }

  static std::string given(const WorkerState& st) {
    if (st.jobs.empty()) return "nothing";
    std::string out = st.jobs.size() == 1 ? "model " : "models ";
    for (size_t i = 0; i < st.jobs.size(); ++i) out += (i ? ", " : "") + std::to_string(st.jobs[i].model);
    return out;
  }

  // Worker w is gone: each of its models in flight is requeued or failed.
  void drop_jobs(int w) {
    auto& st = workers_[w];
    if (st.jobs.empty()) observer_.on_worker_lost(w, -1, false);
    for (const auto& p : st.jobs) {
      --in_flight_;
      const bool retry = requeue_or_fail(p.model, p.attempt);
      observer_.on_worker_lost(w, p.model, retry);
    }
    st.jobs.clear();
  }

  void check_heartbeats() {
    const auto now = Clock::now();
    for (int w = 0; w < static_cast<int>(workers_.size()); ++w) {
      auto& st = workers_[w];
      if (st.lost || st.stopped || now - st.last_heard < options_.heartbeat_timeout) continue;
      if (st.started && st.idle()) continue;  // idle workers have nothing to say
      st.lost = true;
      summary_.lost_workers.push_back(w);
      drop_jobs(w);
    }
    wake_idle();
  }

  void handle(const Incoming& in) {
    const int w = in.worker;
    if (w < 0 || w >= static_cast<int>(workers_.size())) throw CommError("message from unknown worker " + std::to_string(w));
    auto& st = workers_[w];
    if (st.lost) return;  // a worker declared lost stays lost: its job went to another one
    if (st.stopped) throw CommError("protocol violation: " + transport_.worker_name(w) + " spoke after StopWorker");
    st.last_heard = Clock::now();

    if (const auto* hello = std::get_if<WorkerReady>(&in.message)) {
      if (st.started) throw CommError("protocol violation: " + transport_.worker_name(w) + " said hello twice");
      st.started = true;
      observer_.on_worker_ready(w, *hello);
      dispatch(w);
    } else if (const auto* beat = std::get_if<Heartbeat>(&in.message)) {
      if (!st.has(beat->model))
        throw CommError("protocol violation: " + transport_.worker_name(w) + " is alive on model " +
                        std::to_string(beat->model) + " but was given " + given(st));
      observer_.on_heartbeat(w, *beat);
    } else if (const auto* result = std::get_if<ModelResult>(&in.message)) {
      finish_job(w, result->model, result->attempt);
      // The worker gets its next job before the result is stored: storing a 7 MB result
      // takes milliseconds that the worker need not wait. (A pack's worker is ready after
      // its last model.)
      const bool started = st.idle() && dispatch(w, false);
      observer_.on_result(w, *result);
      summary_.done.push_back(result->model);
      if (started) notify_started(w);
    } else {
      const auto& failure = std::get<JobFailure>(in.message);
      finish_job(w, failure.model, failure.attempt);
      const bool retry = !stopping_ && requeue_or_fail(failure.model, failure.deterministic ? options_.max_retries
                                                                                             : failure.attempt);
      observer_.on_failure(w, failure, retry);
      if (failure.retire) {
        // Its gang is broken: no more jobs; it ends with the run (aborted, as lost workers).
        st.lost = true;
        summary_.lost_workers.push_back(w);
        if (!st.idle()) drop_jobs(w);
      } else if (st.idle()) {
        dispatch(w);
      }
    }
    wake_idle();
  }

  const Plan& plan_;
  CoordinatorTransport& transport_;
  SchedulerObserver& observer_;
  const SchedulerOptions& options_;
  std::deque<Pending> queue_;
  std::vector<WorkerState> workers_;
  int64_t in_flight_ = 0;
  bool stopping_ = false;
  Clock::time_point deadline_;
  Clock::time_point next_tick_ = Clock::now();
  ScheduleSummary summary_;
};

}  // namespace

ScheduleSummary run_schedule(const Plan& plan, const std::vector<int64_t>& pending, CoordinatorTransport& transport,
                             SchedulerObserver& observer, const SchedulerOptions& options) {
  return Loop(plan, pending, transport, observer, options).run();
}

}  // namespace lira
