// The worker's side of the protocol: say hello, then run jobs until told to stop.
#pragma once

#include <cstdint>
#include <string>

#include "job_runner.hpp"
#include "orchestrator/transport.hpp"

namespace lira {

// Returns the number of jobs run (successful or not). An exception from the runner is
// caught, logged and reported as JobFailure; the worker then takes the next job.
// Transport errors propagate (the run cannot continue without its coordinator).
int64_t run_worker(WorkerTransport& transport, JobRunner& runner, const std::string& host, int64_t pid);

}  // namespace lira
