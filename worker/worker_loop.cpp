// Implements run_worker.
#include "worker_loop.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace lira {

int64_t run_worker(WorkerTransport& transport, JobRunner& runner, const std::string& host, int64_t pid) {
  transport.send(WorkerReady{host, pid});
  int64_t jobs = 0;
  for (;;) {
    CoordinatorMessage message = transport.receive();
    if (std::holds_alternative<StopWorker>(message)) break;
    const auto& job = std::get<JobAssignment>(message);
    ++jobs;
    spdlog::debug("model {}: starting (attempt {})", job.model, job.attempt);
    WorkerMessage reply;
    try {
      ModelResult result = runner.run(job);
      result.model = job.model;
      result.attempt = job.attempt;
      reply = std::move(result);
    } catch (const std::exception& e) {
      spdlog::error("model {} (attempt {}) failed: {}", job.model, job.attempt, e.what());
      reply = JobFailure{job.model, job.attempt, e.what()};
    }
    transport.send(reply);
  }
  return jobs;
}

}  // namespace lira
