// The attack catalog (see attacks.hpp).
#include "attacks.hpp"

#include "common/errors.hpp"

namespace lira {

const std::vector<AttackInfo>& attack_catalog() {
  static const std::vector<AttackInfo> catalog = {
      {AttackId::kLiraOnline, "lira-online", "logit_confidence", false,
       "LiRA online: log N(s; mu_in, sd_in) - log N(s; mu_out, sd_out), per-example IN/OUT fits"},
      {AttackId::kLiraOffline, "lira-offline", "logit_confidence", false,
       "LiRA offline (one-sided): log Pr[Z < s], Z ~ N(mu_out, sd_out), per-example OUT fit"},
      {AttackId::kLiraOnlineFixedVariance, "lira-online-fixed-variance", "logit_confidence", true,
       "LiRA online with one IN and one OUT sd per query, pooled over candidates"},
      {AttackId::kLiraOfflineFixedVariance, "lira-offline-fixed-variance", "logit_confidence", true,
       "LiRA offline with one OUT sd per query, pooled over candidates"},
      {AttackId::kLoss, "loss", "loss", false, "LOSS threshold (Yeom et al. 2018): score = -loss"},
  };
  return catalog;
}

const AttackInfo& find_attack(const std::string& name) {
  std::string names;
  for (const auto& a : attack_catalog()) {
    if (name == a.name) return a;
    names += (names.empty() ? "" : ", ") + std::string(a.name);
  }
  throw ScoreError("unknown attack '" + name + "'; known attacks: " + names);
}

}  // namespace lira
