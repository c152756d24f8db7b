// The catalog of attacks `lira score` knows: name, the signal it reads, what it needs.
#pragma once

#include <string>
#include <vector>

namespace lira {

enum class AttackId { kLiraOnline, kLiraOffline, kLiraOnlineFixedVariance, kLiraOfflineFixedVariance, kLoss };

struct AttackInfo {
  AttackId id;
  const char* name;         // as typed in --attack
  const char* signal;       // the /signals/<name> it reads
  bool fixed_variance;      // needs the pooled-variance pass over all candidates
  const char* description;  // one line for --help and docs
};

const std::vector<AttackInfo>& attack_catalog();

// Looks up a name; throws ScoreError with a suggestion for an unknown one.
const AttackInfo& find_attack(const std::string& name);

}  // namespace lira
