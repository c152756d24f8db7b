// `lira score --scores-out PATH`: per-example scores as HDF5, for analysis elsewhere.
// Layout: /scores/<attack> float64 [T, N] (NaN where an attack has no score), /targets
// int64 [T] (model indices), /keep_targets uint8 [T, N] (membership of each target), and
// root attributes source (the results file), flavor and lira_version.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lira {

struct ScoresToWrite {
  std::vector<std::string> attacks;
  std::vector<std::span<const double>> scores;  // one [T * N] array per attack
  std::vector<int64_t> targets;
  std::vector<uint8_t> target_keep;  // [T * N]
  int64_t candidates = 0;
  std::string source, flavor, lira_version;
};

// Writes (replacing) the file; throws StorageError naming the path on failure.
void write_scores_file(const std::string& path, const ScoresToWrite& scores);

}  // namespace lira
