// The config's cross-key rules (config_rules.cpp), apart from parsing (config.cpp).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "config.hpp"

namespace lira {

// Every rule that spans several keys and that `c` violates, one message each: keys set
// where the task does not read them, and combinations that cannot work. `written`: the
// keys ("training.lr") the config text and overrides set, when known; a key the recipe
// fixes is then refused at any value but the recipe's (else only at values other than
// its default and the recipe's).
std::vector<std::string> check_conflicts(const Config& c, const std::set<std::string>* written = nullptr);

// The batches of one epoch of a model that trains on `examples` examples: a recipe that
// drops the last partial batch (airbench94's, as published) does, the others keep it. The trainer
// counts its epochs with it, and `lira validate`/`lira run` refuse before training a
// config under which some model would get none.
int64_t batches_per_epoch(const Config& c, int64_t examples);

// The one rule of what a pack (parallel.models_per_job > 1) cannot train, each entry a
// reason with the key to set; empty when K models of this config train in one pass. The
// config checks print them; the trainer refuses a pack with them.
std::vector<std::string> pack_limits(const Config& c);

}  // namespace lira
