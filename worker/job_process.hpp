// The job process's side of job isolation (child_runner.hpp): `lira __job-process` runs
// this on the channel its rank gave it as descriptor 3.
#pragma once

#include <functional>
#include <memory>

#include "child_protocol.hpp"
#include "common/gang_comm.hpp"
#include "job_runner.hpp"

namespace lira {

// Builds the job process's runner from its init message. `gang` is the rank's gang as
// seen from here (collectives proxied through the rank), null without one; `progress` is
// to be called at every training step and evaluation batch. Throws to refuse (the
// exception's message and exit code reach the rank).
using RunnerFactory = std::function<std::unique_ptr<JobRunner>(const child::ChildInit&, GangComm* gang,
                                                               std::function<void()> progress)>;

// Serves jobs on `fd` until told to stop or the rank goes away. Returns the exit code.
// The job process dies with its rank (PR_SET_PDEATHSIG) and ignores the stop signals,
// which are the rank's to act on.
//
// Fault injection for the tests: LIRA_TEST_CRASH="segv@3,abort@5,kill@7,hang@9,
// uncaught@11,exit@13,segv@4!" makes the job process crash in that way at the first
// progress beat of that model's first attempt (every attempt with "!").
int run_job_process(int fd, const RunnerFactory& make_runner);

}  // namespace lira
