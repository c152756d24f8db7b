// Implements score_results: target selection, block streaming, metrics.
#include "scorer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "block_scorer.hpp"
#include "common/errors.hpp"

namespace lira {
namespace {

constexpr int64_t kBlockBudgetBytes = 256ll << 20;  // signal bytes held per block

double mean_over(const std::vector<double>& values, const std::vector<uint8_t>& done) {
  double sum = 0;
  int64_t n = 0;
  for (size_t m = 0; m < values.size(); ++m)
    if (done[m] && std::isfinite(values[m])) sum += values[m], ++n;
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

ScoreReport score_results(const ResultsReader& file, const ScoreOptions& options) {
  ScoreReport report;
  report.file = file.path();
  report.models = file.models();
  report.candidates = file.candidates();
  report.queries = file.queries();
  const auto done = file.done();
  std::vector<int64_t> done_models;
  for (int64_t m = 0; m < report.models; ++m)
    if (done[m]) done_models.push_back(m);
  report.models_done = static_cast<int64_t>(done_models.size());
  report.mean_train_accuracy = mean_over(file.model_values("train_accuracy"), done);
  report.mean_test_accuracy = mean_over(file.model_values("test_accuracy"), done);

  // Which attacks.
  std::vector<const AttackInfo*> attacks;
  if (options.attacks.empty()) {
    for (const auto& a : attack_catalog()) {
      if (file.has_signal(a.signal)) {
        attacks.push_back(&a);
      } else {
        report.notes.push_back(std::string("attack ") + a.name + " skipped: the file has no /signals/" + a.signal);
      }
    }
  } else {
    for (const auto& name : options.attacks) {
      const auto& a = find_attack(name);
      if (!file.has_signal(a.signal))
        throw ScoreError("attack " + name + " needs /signals/" + a.signal + ", which '" + file.path() + "' lacks");
      attacks.push_back(&a);
    }
  }
  if (attacks.empty()) throw ScoreError("no attack can run on '" + file.path() + "': it has no signals");

  // Targets and references.
  const int64_t k = options.targets;
  if (k < 1) throw ScoreError("--targets must be >= 1");
  if (report.models_done < k + 1)
    throw ScoreError("'" + file.path() + "' has " + std::to_string(report.models_done) + " finished models; " +
                     std::to_string(k) + " target(s) need at least " + std::to_string(k + 1) +
                     " (lower --targets or wait for the run)");
  report.targets.assign(done_models.end() - k, done_models.end());
  report.references.assign(done_models.begin(), done_models.end() - k);
  if (report.models_done < report.models)
    report.notes.push_back("only " + std::to_string(report.models_done) + " of " + std::to_string(report.models) +
                           " models are done; scoring those");

  const bool need_conf = std::any_of(attacks.begin(), attacks.end(),
                                     [](auto* a) { return std::string(a->signal) == "logit_confidence"; });
  const bool need_loss = std::any_of(attacks.begin(), attacks.end(), [](auto* a) { return a->id == AttackId::kLoss; });
  const std::string probe = need_conf ? "logit_confidence" : "loss";
  const auto dims = file.signal_dims(probe);
  const int64_t queries = dims.size() >= 3 ? dims[2] : 1;
  if (dims.size() > 3) throw ScoreError("/signals/" + probe + " must be [models, candidates] or [models, candidates, queries]");
  if (need_conf && need_loss && file.signal_dims("loss") != file.signal_dims("logit_confidence"))
    throw ScoreError("/signals/loss and /signals/logit_confidence differ in shape");
  if (static_cast<int64_t>(report.queries.size()) != queries) {
    report.queries.clear();
    for (int64_t a = 0; a < queries; ++a) report.queries.push_back("q" + std::to_string(a));
  }

  const auto keep = file.keep();
  std::vector<AttackId> ids;
  for (auto* a : attacks) ids.push_back(a->id);
  BlockScorer scorer(ids, report.models, report.candidates, queries, keep, report.targets, report.references);

  // Block length: a multiple of the storage chunk, within the memory budget.
  int64_t block = options.block_candidates;
  if (block <= 0) {
    const int64_t per_candidate = report.models * queries * 4 * ((need_conf ? 1 : 0) + (need_loss ? 1 : 0));
    block = std::max<int64_t>(1, kBlockBudgetBytes / std::max<int64_t>(1, per_candidate));
    const int64_t chunk = file.signal_chunk_candidates(probe);
    if (block > chunk) block -= block % chunk;
  }
  std::vector<float> conf, loss;
  auto for_each_block = [&](auto&& fn) {
    for (int64_t n0 = 0; n0 < report.candidates; n0 += block) {
      const int64_t n1 = std::min(report.candidates, n0 + block);
      SignalBlock b;
      b.n0 = n0;
      b.count = n1 - n0;
      if (need_conf) {
        file.read_signal("logit_confidence", n0, n1, conf);
        b.logit_confidence = conf.data();
      }
      if (need_loss) {
        file.read_signal("loss", n0, n1, loss);
        b.loss = loss.data();
      }
      fn(b);
    }
  };
  if (scorer.needs_variance_pass()) for_each_block([&](const SignalBlock& b) { scorer.accumulate_variance(b); });
  for_each_block([&](const SignalBlock& b) { scorer.score(b); });

  if (need_conf && (scorer.min_in_references() < 2 || scorer.min_out_references() < 2))
    report.notes.push_back("some candidates have only " +
                           std::to_string(std::min(scorer.min_in_references(), scorer.min_out_references())) +
                           " IN or OUT reference model(s): their per-example sd is 0 and per-example LiRA scores "
                           "degenerate; train more models, use fewer --targets, or read the fixed-variance rows");

  // Metrics per attack and target.
  for (size_t ai = 0; ai < attacks.size(); ++ai) {
    AttackReport ar;
    ar.name = attacks[ai]->name;
    for (size_t ti = 0; ti < report.targets.size(); ++ti) {
      const auto& s = scorer.scores(ai, ti);
      const int64_t t = report.targets[ti];
      std::vector<double> kept;
      std::vector<uint8_t> member;
      kept.reserve(s.size());
      member.reserve(s.size());
      for (int64_t n = 0; n < report.candidates; ++n) {
        if (std::isnan(s[n])) {
          ++ar.undefined_scores;
          continue;
        }
        kept.push_back(s[n]);
        member.push_back(keep[t * report.candidates + n]);
      }
      ar.per_target.push_back(compute_metrics(kept, member, options.fpr));
    }
    ar.mean = mean_metrics(ar.per_target);
    if (ar.undefined_scores > 0)
      report.notes.push_back(ar.name + ": " + std::to_string(ar.undefined_scores) +
                             " (target, candidate) pairs had no IN or no OUT reference model and were left out");
    report.attacks.push_back(std::move(ar));
  }
  return report;
}

}  // namespace lira
