// "Did you mean" suggestions for mistyped names (config keys, attack names).
#pragma once

#include <string>
#include <vector>

namespace lira {

// Levenshtein distance (insertions, deletions, substitutions).
size_t edit_distance(const std::string& a, const std::string& b);

// " (did you mean 'x'?)" for the candidate closest to word, or "" if none is close
// (more than max(2, |word| / 3) edits away).
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace lira
