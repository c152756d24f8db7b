// Implements run_worker.
#include "worker_loop.hpp"

#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "row_writer.hpp"

#include <exception>
#include <future>

namespace lira {

int64_t run_worker(WorkerTransport& transport, JobRunner& runner, const WorkerIdentity& me,
                   std::chrono::milliseconds heartbeat) {
  transport.send(WorkerReady{me.host, me.pid});
  int64_t jobs = 0;
  RowWriter rows;  // parallel.result_writes: worker
  for (;;) {
    CoordinatorMessage message = transport.receive();
    if (std::holds_alternative<StopWorker>(message)) break;
    // One job, or a pack of them (parallel.models_per_job): one reply per job either way.
    std::vector<JobAssignment> pack;
    if (auto* one = std::get_if<JobAssignment>(&message)) {
      pack.push_back(std::move(*one));
    } else {
      pack = std::move(std::get<JobPack>(message).jobs);
    }
    if (pack.empty()) continue;
    jobs += static_cast<int64_t>(pack.size());
    const auto& first = pack.front();
    spdlog::debug("model {}: starting (attempt {}){}", first.model, first.attempt,
                  pack.size() > 1 ? " with " + std::to_string(pack.size() - 1) + " more in its pack" : "");
    auto running = std::async(std::launch::async, [&]() -> std::vector<WorkerMessage> {
      std::vector<WorkerMessage> replies;
      if (pack.size() > 1) {
        replies = runner.run_pack(pack);
      } else {
        ModelResult result = runner.run(first);
        result.model = first.model;
        result.attempt = first.attempt;
        replies.emplace_back(std::move(result));
      }
      // The rows a job process did not write (it writes its own: job_process.cpp), into
      // the results file from here, on the job's thread (heartbeats go on).
      write_rows(rows, first.direct, replies, /*warn=*/true);
      return replies;
    });
    while (running.wait_for(heartbeat) == std::future_status::timeout)
      transport.send(Heartbeat{first.model, first.attempt});
    std::vector<WorkerMessage> replies;
    try {
      replies = running.get();
    } catch (const std::exception& e) {
      for (const auto& job : pack) {
        // A pack's failure is retried model by model (the scheduler's rule), which then decides.
        replies.emplace_back(
            JobFailure{job.model, job.attempt, e.what(), runner.broken(), pack.size() == 1 && is_config_error(e)});
      }
    }
    bool retire = false;
    for (auto& reply : replies) {
      if (const auto* f = std::get_if<JobFailure>(&reply)) {
        spdlog::error("model {} (attempt {}) failed: {}", f->model, f->attempt, f->message);
        retire = retire || f->retire;
      }
      transport.send(reply);
    }
    if (retire) {
      spdlog::error("this worker retires: it cannot run more models");
      break;
    }
  }
  return jobs;
}

}  // namespace lira
