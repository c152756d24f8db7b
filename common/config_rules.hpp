// The config's cross-key rules (config_rules.cpp), apart from parsing (config.cpp).
#pragma once

#include <string>
#include <vector>

#include "config.hpp"

namespace lira {

// Every rule that spans several keys and that `c` violates, one message each: keys set
// where the task does not read them, and combinations that cannot work.
std::vector<std::string> check_conflicts(const Config& c);

}  // namespace lira
