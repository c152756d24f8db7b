// The attack catalog and the plumbing shared by all attack groups.
#include "attacks.hpp"

#include <algorithm>
#include <limits>

#include "common/errors.hpp"

namespace lira {

const std::vector<AttackInfo>& attack_catalog() {
  static const std::vector<AttackInfo> catalog = {
      {AttackId::kLiraOnline, "lira-online", {"logit_confidence"},
       "LiRA online: log N(s; mu_in, sd_in) - log N(s; mu_out, sd_out), per-example IN and OUT fits"},
      {AttackId::kLiraOffline, "lira-offline", {"logit_confidence"},
       "LiRA offline: log Pr[Z < s], Z ~ N(mu_out, sd_out) (official-code: -log N(s; mu_out, sd_out))"},
      {AttackId::kLiraOnlineFixedVariance, "lira-online-fixed-variance", {"logit_confidence"},
       "LiRA online with one IN and one OUT sd, pooled over candidates"},
      {AttackId::kLiraOfflineFixedVariance, "lira-offline-fixed-variance", {"logit_confidence"},
       "LiRA offline with one OUT sd, pooled over candidates"},
      {AttackId::kGlobalThreshold, "global-threshold", {"logit_confidence"},
       "threshold on the target's logit-scaled confidence (the reference code's 'global threshold')"},
      {AttackId::kLoss, "loss", {"loss"}, "LOSS threshold (Yeom et al. 2018): score = -loss"},
      {AttackId::kReference, "reference", {"loss"},
       "calibrated loss (Watson et al. 2022): mean loss of the OUT references minus the target's loss"},
      {AttackId::kRmia, "rmia", {"loss"},
       "RMIA offline (Zarifzadeh et al. 2024): share of population z with LR(x, z) >= gamma"},
      {AttackId::kShokri, "shokri", {"loss", "logit_confidence"},
       "shadow-model classifier (Shokri et al. 2017): logistic regression on per-example features"},
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

const AttackInfo& attack_info(AttackId id) {
  for (const auto& a : attack_catalog())
    if (a.id == id) return a;
  throw Error("attack_info: unknown id");
}

bool ScoreSetup::has(const std::string& signal) const {
  return std::find(available.begin(), available.end(), signal) != available.end();
}

const float* SignalBlock::get(const std::string& name) const {
  auto it = signals.find(name);
  if (it == signals.end() || !it->second) throw ScoreError("internal: block lacks /signals/" + name);
  return it->second;
}

void transpose_tile(const float* block, int64_t models, int64_t count, int64_t queries, int64_t j0, int64_t j1,
                    std::vector<float>& tile) {
  const int64_t width = j1 - j0;
  tile.resize(static_cast<size_t>(width * models * queries));
  for (int64_t m = 0; m < models; ++m) {
    const float* src = block + (m * count + j0) * queries;  // contiguous: width x A values
    for (int64_t j = 0; j < width; ++j)
      for (int64_t a = 0; a < queries; ++a) tile[(j * models + m) * queries + a] = src[j * queries + a];
  }
}

ScoreMatrix::ScoreMatrix(int64_t targets, int64_t candidates)
    : n_(candidates), v_(static_cast<size_t>(targets * candidates), std::numeric_limits<double>::quiet_NaN()) {}

std::vector<std::unique_ptr<AttackGroup>> make_attack_groups(const std::vector<AttackId>& ids, const ScoreSetup& setup) {
  std::vector<AttackId> lira, simple;
  bool rmia = false, shokri = false;
  for (auto id : ids) {
    switch (id) {
      case AttackId::kLiraOnline:
      case AttackId::kLiraOffline:
      case AttackId::kLiraOnlineFixedVariance:
      case AttackId::kLiraOfflineFixedVariance:
        lira.push_back(id);
        break;
      case AttackId::kGlobalThreshold:
      case AttackId::kLoss:
      case AttackId::kReference:
        simple.push_back(id);
        break;
      case AttackId::kRmia:
        rmia = true;
        break;
      case AttackId::kShokri:
        shokri = true;
        break;
    }
  }
  std::vector<std::unique_ptr<AttackGroup>> groups;
  if (!lira.empty()) groups.push_back(make_lira_group(lira, setup));
  if (!simple.empty()) groups.push_back(make_simple_group(simple, setup));
  if (rmia) groups.push_back(make_rmia_group(setup));
  if (shokri) groups.push_back(make_shokri_group(setup));
  return groups;
}

}  // namespace lira
