// `lira score` and `lira audit`: command-line options and their outputs.
#pragma once

#include <CLI/CLI.hpp>
#include <span>
#include <string>
#include <vector>

#include "attack/scorer.hpp"
#include "output_files.hpp"

namespace lira {

// Registers the subcommand on `app`; the returned callback runs it if it was parsed and
// returns its exit code (or -1 if it was not parsed).
struct Subcommand {
  CLI::App* command;
  std::function<int()> run;
};
Subcommand add_score_command(CLI::App& app);

// Options that score, audit and report share: which file, which targets, which flavor.
struct CommonOptions {
  std::string file;
  int64_t targets = 1;
  int64_t leave_one_out = 0;
  std::string flavor = "paper";
  std::string external;  // lira signals' file: the one target, against every finished model
  bool overwrite = false;
  ScoreOptions to_score_options() const;
};
void add_common(CLI::App* cmd, CommonOptions& c);
// The files such a command reads: no output may be one of them.
std::vector<InputPath> inputs_of(const CommonOptions& c);
// What audit_rows needs of a score, for one scored attack: each target's row of scores,
// its name ("model 7", or "external" for --external's target) and the epsilon it spent
// under DP-SGD (NaN when the run has none). lira audit and lira report use it alike.
struct AuditTargets {
  std::vector<std::span<const double>> scores;
  std::vector<std::string> names;
  std::vector<double> accounted;
};
AuditTargets audit_targets(const ScoreResult& result, const ResultsReader& reader, size_t attack);

// A report to its path, or to standard output for "-".
void write_report(const std::string& path, const std::string& text);

Subcommand add_audit_command(CLI::App& app);

}  // namespace lira
