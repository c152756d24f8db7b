// The files lira's commands write: the checks every output gets before any work (never an
// input, never a file of another role, never a file lira did not write), atomic
// replacement (a temporary beside the target, then rename), and the per-example score
// formats (HDF5, CSV, .npy).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "attack/scorer.hpp"

namespace lira {

// What a file lira writes is for. Each file carries a mark that says which (an HDF5
// attribute, the JSON "generator", the SVG comment, the CSV header, the .npy header
// comment), so lira knows its own files and their roles before it replaces one.
enum class Role {
  kResults,         // `lira run`'s results file (HDF5)
  kReport,          // `lira score --json` (JSON)
  kAudit,           // `lira audit --json` (JSON)
  kScores,          // `lira score --scores-out` (.h5/.hdf5, .csv, .npy)
  kRoc,             // `lira score --roc` (CSV)
  kRocPlot,         // `lira score --plot` (SVG)
  kScoresPlot,      // `lira score --plot-scores` (SVG)
  kExternalTarget,  // `lira signals --out` (HDF5)
  kHtmlReport,      // `lira report -o` (HTML)
};

// "lira score's --json report", for messages.
std::string role_name(Role role);

// The role of the lira file at path, or nothing when path is missing or lira did not
// write it (an SVG plot of an older lira, whose mark names no plot, counts as not lira's).
std::optional<Role> file_role(const std::string& path);

struct OutputPath {
  const char* flag;  // "--json", or "--out"
  std::string path;  // empty: not asked for; "-": standard output (kReport and kAudit only)
  Role role;
};
struct InputPath {
  std::string what;  // "the results file", "the config file"
  std::string path;
};

// Every check an output gets before any work, so that a refused path costs nothing and no
// command can destroy one of its inputs:
// - the extension fits the role (ConfigError);
// - no output is an input or another output: the same file (device and inode) or, for
//   a path not there yet, the same absolute path (ConfigError), --overwrite or not;
// - an existing output is replaced only with overwrite, and only when it is lira's file
//   of the same role (its mark): a results file never becomes a scores file, a ROC plot
//   never a CSV, a file lira did not write is never replaced (ConfigError);
// - its directory exists and is writable (StorageError).
// An input that is a directory is compared with the files directly in it.
void check_outputs(const std::vector<InputPath>& inputs, const std::vector<OutputPath>& outputs, bool overwrite);

// The directory a new file at path goes into, or its nearest ancestor that exists (the
// missing ones are created when the file is written).
std::string nearest_existing_directory(const std::string& path);

// Writes text to path.tmp.<pid>, fsyncs, renames over path.
void write_text_atomically(const std::string& path, const std::string& text);

// Per-example scores of every scored attack. By extension: .h5/.hdf5 (storage/
// scores_file.hpp), .csv (a row per target and candidate: target_model, candidate,
// member, one column per attack; empty where an attack has no score), .npy (float64
// [attacks, targets, N], attacks in the order of the table; NaN where no score).
void write_scores(const std::string& path, const ScoreResult& result, const std::string& source);

}  // namespace lira
