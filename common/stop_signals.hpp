// SIGTERM, SIGINT and SIGUSR1 as a request to stop: Slurm preemption and time limits
// (SIGTERM, or SIGUSR1 sent with sbatch --signal), Ctrl-C. The handler only records the
// signal; the coordinator's event loop sees it within one poll and winds the run down
// (docs/reliability.md). Workers install it too, so that a signal sent to every rank
// leaves the decision to the coordinator instead of killing a model half-trained.
#pragma once

namespace lira {

void install_stop_handlers();
// The first stop signal received (0 if none).
int stop_signal();
// "SIGTERM", ...
const char* signal_name(int signal);

}  // namespace lira
