// `lira status FILE`: how far a run is -- models done, failed and pending, rate, ETA, and
// each worker's last word -- from the results file and the run's status file, whether the
// run is alive or not.
#pragma once

#include <CLI/CLI.hpp>

#include "score_command.hpp"

namespace lira {

Subcommand add_status_command(CLI::App& app);

}  // namespace lira
