// `lira report FILE -o report.html`: the findings of a results file as one self-contained
// HTML page (attack/html_report.hpp), with the most exposed candidates shown as they are.
#pragma once

#include "score_command.hpp"  // Subcommand

namespace lira {

Subcommand add_report_command(CLI::App& app);

}  // namespace lira
