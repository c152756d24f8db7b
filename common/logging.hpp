// Logging setup: spdlog with the MPI rank in every line, a console sink for people and
// an optional file sink for the record.
#pragma once

#include <string>

namespace lira {

// Configures the default spdlog logger. `rank` < 0 means "not under MPI" and prints no
// rank. `level` is one of trace, debug, info, warn, error. `file` (optional) also
// receives every line.
void init_logging(int rank, const std::string& level = "info", const std::string& file = "");

// Adds a file sink to the default logger (appending), e.g. the run's log next to its
// results. Call from the main thread before other threads log.
void add_log_file(const std::string& file);

// "1:02:03" style duration for progress lines.
std::string format_duration(double seconds);

}  // namespace lira
