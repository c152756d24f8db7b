// Implements run_worker.
#include "worker_loop.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <future>

namespace lira {

int64_t run_worker(WorkerTransport& transport, JobRunner& runner, const WorkerIdentity& me,
                   std::chrono::milliseconds heartbeat) {
  transport.send(WorkerReady{me.host, me.pid});
  int64_t jobs = 0;
  for (;;) {
    CoordinatorMessage message = transport.receive();
    if (std::holds_alternative<StopWorker>(message)) break;
    const auto& job = std::get<JobAssignment>(message);
    ++jobs;
    spdlog::debug("model {}: starting (attempt {})", job.model, job.attempt);
    auto running = std::async(std::launch::async, [&] { return runner.run(job); });
    while (running.wait_for(heartbeat) == std::future_status::timeout) transport.send(Heartbeat{job.model, job.attempt});
    WorkerMessage reply;
    try {
      ModelResult result = running.get();
      result.model = job.model;
      result.attempt = job.attempt;
      reply = std::move(result);
    } catch (const std::exception& e) {
      spdlog::error("model {} (attempt {}) failed: {}", job.model, job.attempt, e.what());
      reply = JobFailure{job.model, job.attempt, e.what(), runner.broken()};
    }
    transport.send(reply);
    if (const auto* f = std::get_if<JobFailure>(&reply); f && f->retire) {
      spdlog::error("this worker retires: it cannot run more models");
      break;
    }
  }
  return jobs;
}

}  // namespace lira
