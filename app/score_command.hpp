// `lira score` and `lira audit`: command-line options and their outputs.
#pragma once

#include <CLI/CLI.hpp>

namespace lira {

// Registers the subcommand on `app`; the returned callback runs it if it was parsed and
// returns its exit code (or -1 if it was not parsed).
struct Subcommand {
  CLI::App* command;
  std::function<int()> run;
};
Subcommand add_score_command(CLI::App& app);
Subcommand add_audit_command(CLI::App& app);

}  // namespace lira
