// Presentation of a ScoreReport: the attack x metric table for people, JSON for tools.
#pragma once

#include <string>

#include "scorer.hpp"

namespace lira {

std::string format_table(const ScoreReport& report);
std::string to_json_text(const ScoreReport& report);

// "0.1%" for 0.001, "0.001%" for 1e-5.
std::string format_percent(double fraction);

}  // namespace lira
