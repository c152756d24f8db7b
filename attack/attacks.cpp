// The attack catalog and the plumbing shared by all attack groups.
#include "attacks.hpp"

#include <algorithm>
#include <limits>

#include "common/errors.hpp"
#include "common/suggest.hpp"

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
       "RMIA offline (Zarifzadeh et al. 2024): share of population z with LR(x, z) > gamma, P(x) from the OUT "
       "references and a (tuned, or --rmia-a)"},
      {AttackId::kRmiaOnline, "rmia-online", {"loss"},
       "RMIA online: P(x) = 20%-trimmed mean over as many IN as OUT references"},
      {AttackId::kBavariaNOnline, "bavaria-n-online", {"logit_confidence"},
       "BaVarIA-n (online): LiRA with per-example variances shrunk to a normal-inverse-gamma prior (alpha0 = 1)"},
      {AttackId::kBavariaNOffline, "bavaria-n-offline", {"logit_confidence"},
       "BaVarIA-n offline: the OUT posterior against the IN prior"},
      {AttackId::kBavariaTOnline, "bavaria-t-online", {"logit_confidence"},
       "BaVarIA-t (online): Student-t posterior predictives (alpha0 = 2), log t_in - log t_out"},
      {AttackId::kBavariaTOffline, "bavaria-t-offline", {"logit_confidence"},
       "BaVarIA-t offline: the OUT predictive against the IN prior predictive"},
      {AttackId::kShokri, "shokri", {"loss", "logit_confidence"},
       "shadow-model classifier (Shokri et al. 2017): logistic regression on per-example features"},
      // token_logprob marks text results, which carry /records/zlib_bytes.
      {AttackId::kZlib, "zlib", {"loss", "token_logprob"},
       "language models (MIMIR): the target's loss over the zlib-compressed size of the record's text"},
      {AttackId::kMinK, "min-k", {"token_logprob"},
       "language models (Min-K%, Shi et al. 2024): mean of the lowest k% token log-probs (--min-k)"},
      {AttackId::kMinKPlusPlus, "min-k-plus-plus", {"token_logprob", "token_mu", "token_sigma"},
       "language models (Min-K%++, Zhang et al. 2024): the same over (log p - mu) / sigma"},
  };
  return catalog;
}

const AttackInfo& find_attack(const std::string& name) {
  std::string names;
  std::vector<std::string> known;
  for (const auto& a : attack_catalog()) {
    if (name == a.name) return a;
    names += (names.empty() ? "" : ", ") + std::string(a.name);
    known.emplace_back(a.name);
  }
  throw ScoreError("unknown attack '" + name + "'" + did_you_mean(name, known) + "; known attacks: " + names);
}

const AttackInfo& attack_info(AttackId id) {
  for (const auto& a : attack_catalog())
    if (a.id == id) return a;
  throw Error("attack_info: unknown id");
}

bool ScoreSetup::has(const std::string& signal) const {
  return std::find(available.begin(), available.end(), signal) != available.end();
}

const float* SignalBlock::token_row(const std::string& name, int64_t target_index) const {
  auto it = token_rows.find(name);
  if (it == token_rows.end() || target_index < 0 || target_index >= static_cast<int64_t>(it->second.size()))
    throw ScoreError("internal: block lacks the token rows of /signals/" + name);
  return it->second[static_cast<size_t>(target_index)];
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
  std::vector<AttackId> rmia;
  bool shokri = false;
  std::vector<AttackId> lm;
  for (auto id : ids) {
    switch (id) {
      case AttackId::kLiraOnline:
      case AttackId::kLiraOffline:
      case AttackId::kLiraOnlineFixedVariance:
      case AttackId::kLiraOfflineFixedVariance:
      case AttackId::kBavariaNOnline:
      case AttackId::kBavariaNOffline:
      case AttackId::kBavariaTOnline:
      case AttackId::kBavariaTOffline:
        lira.push_back(id);
        break;
      case AttackId::kGlobalThreshold:
      case AttackId::kLoss:
      case AttackId::kReference:
        simple.push_back(id);
        break;
      case AttackId::kRmia:
      case AttackId::kRmiaOnline:
        rmia.push_back(id);
        break;
      case AttackId::kShokri:
        shokri = true;
        break;
      case AttackId::kZlib:
      case AttackId::kMinK:
      case AttackId::kMinKPlusPlus:
        lm.push_back(id);
        break;
    }
  }
  std::vector<std::unique_ptr<AttackGroup>> groups;
  if (!lira.empty()) groups.push_back(make_lira_group(lira, setup));
  if (!simple.empty()) groups.push_back(make_simple_group(simple, setup));
  if (!rmia.empty()) groups.push_back(make_rmia_group(rmia, setup));
  if (shokri) groups.push_back(make_shokri_group(setup));
  if (!lm.empty()) groups.push_back(make_lm_group(lm, setup));
  return groups;
}

}  // namespace lira
