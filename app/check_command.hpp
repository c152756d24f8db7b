// `lira check FILE`: verifies a results file's committed rows against their checksums.
#pragma once

#include "score_command.hpp"  // Subcommand

namespace lira {

// Every done model's row of every signal that has checksums is read back and hashed
// (common/row_checksum.hpp), and the keep matrix is checked to hold only 0 and 1. Prints
// what was verified and names every model whose rows changed on disk; exit 0 when all
// match, 3 otherwise.
Subcommand add_check_command(CLI::App& app);

}  // namespace lira
