// Implements run_schedule: the coordinator's event loop.
#include "scheduler.hpp"

#include <deque>
#include <string>

#include "common/errors.hpp"

namespace lira {
namespace {

struct WorkerState {
  bool started = false;       // sent WorkerReady
  int64_t model = -1;         // job in flight, or -1 when idle
  int32_t attempt = 0;
  bool stopped = false;
};

}  // namespace

ScheduleSummary run_schedule(const Plan& plan, const std::vector<int64_t>& pending_models,
                             CoordinatorTransport& transport, SchedulerObserver& observer,
                             const SchedulerOptions& options) {
  const int nworkers = transport.worker_count();
  if (nworkers < 1) throw ConfigError("the run has no worker: start at least 2 MPI ranks, or run without mpirun");

  struct Pending {
    int64_t model;
    int32_t attempt;
  };
  std::deque<Pending> queue;
  for (int64_t m : pending_models) {
    if (m < 0 || m >= plan.models()) throw Error("run_schedule: model " + std::to_string(m) + " not in the plan");
    queue.push_back({m, 0});
  }

  ScheduleSummary summary;
  summary.jobs_per_worker.assign(nworkers, 0);
  std::vector<WorkerState> workers(nworkers);
  int64_t in_flight = 0;
  int stopped = 0;

  auto dispatch = [&](int w) {
    auto& st = workers[w];
    if (!queue.empty()) {
      const Pending p = queue.front();
      queue.pop_front();
      JobAssignment job;
      job.model = p.model;
      job.seed = plan.model_seed(p.model);
      job.attempt = p.attempt;
      const auto row = plan.keep_row(p.model);
      job.keep_row.assign(row.begin(), row.end());
      st.model = p.model;
      st.attempt = p.attempt;
      ++in_flight;
      transport.send(w, job);
    } else if (in_flight == 0) {
      // Nothing left and nothing that could fail and come back: this worker is done.
      st.stopped = true;
      ++stopped;
      transport.send(w, StopWorker{});
    }
    // else: stay idle; a failing job in flight may still need a retry.
  };

  auto finish_job = [&](int w, int64_t model, int32_t attempt) {
    auto& st = workers[w];
    if (st.model != model || st.attempt != attempt)
      throw CommError("protocol violation: " + transport.worker_name(w) + " reported model " +
                      std::to_string(model) + " (attempt " + std::to_string(attempt) + ") but was given " +
                      (st.model < 0 ? std::string("nothing") : "model " + std::to_string(st.model)));
    st.model = -1;
    --in_flight;
    ++summary.jobs_per_worker[w];
  };

  auto release_idle = [&] {
    // Once the queue is empty and nothing is in flight, every idle worker can stop.
    if (!queue.empty() || in_flight != 0) return;
    for (int w = 0; w < nworkers; ++w)
      if (workers[w].started && !workers[w].stopped && workers[w].model < 0) dispatch(w);
  };

  while (stopped < nworkers) {
    auto incoming = transport.receive(options.poll_interval);
    if (!incoming) {
      observer.on_tick();
      continue;
    }
    const int w = incoming->worker;
    if (w < 0 || w >= nworkers) throw CommError("message from unknown worker " + std::to_string(w));
    auto& st = workers[w];
    if (st.stopped) throw CommError("protocol violation: " + transport.worker_name(w) + " spoke after StopWorker");

    if (const auto* hello = std::get_if<WorkerReady>(&incoming->message)) {
      if (st.started) throw CommError("protocol violation: " + transport.worker_name(w) + " said hello twice");
      st.started = true;
      observer.on_worker_ready(w, *hello);
    } else if (auto* result = std::get_if<ModelResult>(&incoming->message)) {
      finish_job(w, result->model, result->attempt);
      observer.on_result(w, *result);
      summary.done.push_back(result->model);
    } else {
      const auto& failure = std::get<JobFailure>(incoming->message);
      finish_job(w, failure.model, failure.attempt);
      const bool retry = failure.attempt < options.max_retries;
      observer.on_failure(w, failure, retry);
      if (retry) {
        queue.push_front({failure.model, failure.attempt + 1});
      } else {
        summary.failed.push_back(failure.model);
      }
    }
    dispatch(w);
    // A retry may have been queued while other workers sat idle: wake them.
    for (int v = 0; v < nworkers && !queue.empty(); ++v)
      if (workers[v].started && !workers[v].stopped && workers[v].model < 0) dispatch(v);
    release_idle();
  }
  return summary;
}

}  // namespace lira
