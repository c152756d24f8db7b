// `lira signals MODEL.pt RESULTS.h5 --membership MASK`: audit a model trained elsewhere.
// Computes lira's signals for a TorchScript classifier on the candidates of a results file,
// under its queries and with its config (the file's resolved config), and writes them with
// the given membership as an external target file that `lira score/audit RESULTS.h5
// --external FILE` scores against the file's reference models (docs/privacy.md).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "score_command.hpp"

namespace lira {

Subcommand add_signals_command(CLI::App& app);

// A membership row from a file: .npy (bool, uint8, int32 or int64, 1-d) or text (0/1
// separated by whitespace or commas). Throws ConfigError naming the file and the problem.
std::vector<uint8_t> read_membership(const std::string& path, int64_t candidates);

}  // namespace lira
