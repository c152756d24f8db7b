// `lira score --scores-out PATH`: per-example scores as HDF5, for analysis elsewhere.
// Layout: /scores/<attack> float64 [T, N] (NaN where an attack has no score), /targets
// int64 [T] (model indices), /keep_targets uint8 [T, N] (membership of each target), and
// root attributes source (the results file), flavor, lira_version and generator.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lira {

struct ScoresToWrite {
  std::vector<std::string> attacks;
  std::vector<std::span<const double>> scores;  // one [T * N] array per attack
  // Per attack, per example [N] (empty: not written): /decisions/<attack>/member_flip and
  // member_flagged (docs/scoring.md: decision variability across targets).
  std::vector<std::span<const double>> member_flip, member_flagged;
  std::vector<int64_t> targets;
  std::vector<uint8_t> target_keep;  // [T * N]
  int64_t candidates = 0;
  std::string source, flavor, lira_version;
};

// Writes (replacing) the file; throws StorageError naming the path on failure. The root
// attribute generator = "lira score" marks the file as lira's (see lira_hdf5_kind).
void write_scores_file(const std::string& path, const ScoresToWrite& scores);

// Which of lira's HDF5 files path is, judged by its root attributes: "scores" (generator
// "lira score"), "external target" (generator "lira signals"), "results" (format_version
// and fingerprint_config, written by `lira run`); "" for any other file, HDF5 or not.
std::string lira_hdf5_kind(const std::string& path);

}  // namespace lira
