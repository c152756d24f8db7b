// The worker's side of the protocol: say hello, then run jobs until told to stop,
// sending a heartbeat every `heartbeat` while a job runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "job_runner.hpp"
#include "orchestrator/transport.hpp"

namespace lira {

struct WorkerIdentity {
  std::string host;
  int64_t pid = 0;
};

// Returns the number of jobs run (successful or not). A job runs on its own thread while
// this one (the only one that talks to the transport) sends heartbeats; a gang's
// collectives on the job thread go through the same MPI mutex (mpi/mpi_check.hpp). An exception from the runner is caught, logged and reported as
// JobFailure; the worker then takes the next job. Transport errors propagate (the run
// cannot continue without its coordinator).
int64_t run_worker(WorkerTransport& transport, JobRunner& runner, const WorkerIdentity& me,
                   std::chrono::milliseconds heartbeat = std::chrono::seconds(30));

}  // namespace lira
