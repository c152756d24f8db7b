// `lira slurm CONFIG (--dry-run | --submit)`: renders the experiment's sbatch script
// (slurm/sbatch_script.hpp), saves it next to the results file and submits it. The job
// resumes from the results file after preemption and continues in new allocations past
// its time limit until every model is done or failed. docs/slurm.md.
#pragma once

#include <CLI/CLI.hpp>

#include "score_command.hpp"

namespace lira {

Subcommand add_slurm_command(CLI::App& app);

}  // namespace lira
