// Implements score_results: attack and target selection, block streaming, metrics.
#include "scorer.hpp"

#include "common/config.hpp"
#include "common/errors.hpp"

#include <algorithm>
#include <cmath>
#include <array>
#include <future>
#include <limits>

#include "common/errors.hpp"
#include "common/rng.hpp"
#include "common/row_checksum.hpp"
#include "common/run_lock.hpp"
#include "common/suggest.hpp"

namespace lira {
namespace {

constexpr int64_t kKeepBlock = 16384;  // candidates per block of the keep-only pass

double mean_over(const std::vector<double>& values, const std::vector<uint8_t>& done) {
  double sum = 0;
  int64_t n = 0;
  for (size_t m = 0; m < values.size(); ++m)
    if (done[m] && std::isfinite(values[m])) sum += values[m], ++n;
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

std::vector<const AttackInfo*> choose_attacks(const ResultsReader& file, const ScoreOptions& options,
                                              std::vector<SkippedAttack>& skipped) {
  std::vector<const AttackInfo*> chosen;
  auto missing = [&](const AttackInfo& a) -> std::string {
    for (const char* s : a.signals)
      if (!file.has_signal(s)) return s;
    return "";
  };
  if (options.attacks.empty()) {
    for (const auto& a : attack_catalog()) {
      if (const auto m = missing(a); m.empty()) {
        chosen.push_back(&a);
      } else if (m.rfind("token_", 0) == 0) {
        // A language-model attack on a classifier's file: nothing to say.
      } else {
        skipped.push_back({a.name, "needs /signals/" + m + ", which the file lacks"});
      }
    }
  } else {
    for (const auto& name : options.attacks) {
      const auto& a = find_attack(name);
      if (const auto m = missing(a); !m.empty())
        throw ScoreError("attack " + name + " needs /signals/" + m + ", which '" + file.path() + "' lacks");
      if (std::find(chosen.begin(), chosen.end(), &a) == chosen.end()) chosen.push_back(&a);
    }
  }
  if (chosen.empty()) throw ScoreError("no attack can run on '" + file.path() + "': it has no usable signals");
  return chosen;
}

// Reference counts per example, over the evaluated (non-population) candidates, for the
// feasibility of each attack: for each target, how many candidates have at least i IN
// and o OUT references, and the fewest IN and OUT references of any candidate.
struct ReferenceCounts {
  static constexpr int kNeeds = 5;
  static constexpr int64_t kIn[kNeeds] = {0, 0, 1, 0, 2}, kOut[kNeeds] = {1, 2, 1, 0, 2};
  std::vector<std::array<int64_t, kNeeds>> satisfied;  // [T]: candidates meeting need k
  // Over targets and the candidates meeting need k (those an attack with that need scores):
  // the fewest IN and OUT references.
  std::array<int64_t, kNeeds> min_in, min_out;
  ReferenceCounts() { min_in.fill(INT64_MAX), min_out.fill(INT64_MAX); }
  static int index(int64_t in, int64_t out) {
    int k = 0;
    while (k < kNeeds && !(kIn[k] == in && kOut[k] == out)) ++k;
    return k;
  }
  int64_t satisfying(int64_t in, int64_t out) const {  // over the worst target
    const int k = index(in, out);
    int64_t least = INT64_MAX;
    for (const auto& t : satisfied) least = std::min(least, t[static_cast<size_t>(k)]);
    return satisfied.empty() ? 0 : least;
  }
};

// What an attack needs of the references: IN and OUT reference signals per example, and
// the count below which its fits are marked as too few to trust.
struct Needs {
  int64_t in = 0, out = 0;
  int64_t trust = 0;  // mark the row when some example has fewer on a side it uses
  const char* what = "";
};

Needs needs_of(AttackId id) {
  switch (id) {
    case AttackId::kLiraOnline:
      return {2, 2, 8, "a per-example IN and OUT variance (>= 2 IN and >= 2 OUT references per example)"};
    case AttackId::kLiraOffline:
      return {0, 2, 8, "a per-example OUT variance (>= 2 OUT references per example)"};
    case AttackId::kLiraOnlineFixedVariance:
    case AttackId::kRmiaOnline:
      return {1, 1, 2, "IN and OUT references for each example"};
    case AttackId::kBavariaNOnline:
    case AttackId::kBavariaTOnline:
      return {1, 1, 1, "IN and OUT references for each example"};
    case AttackId::kLiraOfflineFixedVariance:
    case AttackId::kReference:
    case AttackId::kRmia:
      return {0, 1, 2, "OUT references for each example"};
    case AttackId::kBavariaNOffline:
    case AttackId::kBavariaTOffline:
      return {0, 1, 1, "OUT references for each example"};
    default:
      return {0, 0, 0, ""};
  }
}

// A block laid out [rows, A, inner] keeps the chosen queries only, in their order:
// [rows, chosen, inner], in place. Each row is gathered first (the order may differ), then
// written where it goes, which is never past where it was.
void keep_queries(std::vector<float>& block, int64_t queries, int64_t inner, const std::vector<int64_t>& chosen) {
  const int64_t row = queries * inner, out_row = static_cast<int64_t>(chosen.size()) * inner;
  const int64_t rows = static_cast<int64_t>(block.size()) / row;
  std::vector<float> gathered(static_cast<size_t>(out_row));
  for (int64_t r = 0; r < rows; ++r) {
    for (size_t q = 0; q < chosen.size(); ++q)
      std::copy_n(block.begin() + r * row + chosen[q] * inner, inner, gathered.begin() + static_cast<int64_t>(q) * inner);
    std::copy(gathered.begin(), gathered.end(), block.begin() + r * out_row);
  }
  block.resize(static_cast<size_t>(rows * out_row));
}

std::string plural(int64_t n, const std::string& what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

}  // namespace

ScoreResult score_results(const ResultsReader& file, const ScoreOptions& options) {
  ScoreResult result;
  ScoreReport& report = result.report;
  report.file = file.path();
  report.models = file.models();
  report.candidates = file.candidates();
  report.queries = file.queries();
  report.leave_one_out = options.leave_one_out;
  report.flavor = options.flavor == Flavor::kPaper ? "paper" : "official-code";
  const auto done = file.done();
  std::vector<int64_t> done_models;
  for (int64_t m = 0; m < report.models; ++m)
    if (done[m]) done_models.push_back(m);
  report.models_done = static_cast<int64_t>(done_models.size());
  // Means over the reference models: an external target (lira signals) is not one.
  auto references_done = done;
  if (file.external_models() > 0) references_done.back() = 0;
  report.mean_train_accuracy = mean_over(file.model_values("train_accuracy"), references_done);
  report.mean_test_accuracy = mean_over(file.model_values("test_accuracy"), references_done);
  report.dp_epsilon = file.model_values("dp_epsilon");
  for (size_t m = 0; m < report.dp_epsilon.size(); ++m)
    if (!done[m]) report.dp_epsilon[m] = std::numeric_limits<double>::quiet_NaN();
  if (!report.dp_epsilon.empty()) {
    // The run's delta is in its resolved config; a file whose config this lira cannot
    // parse (another version's keys) still reports the epsilons, without the delta.
    try {
      report.dp_delta = parse_config(file.config_yaml(), file.path(), {}).dp.delta;
    } catch (const ConfigError&) {
    }
  }
  for (double f : file.model_values("failed")) report.models_failed += f != 0;
  report.bootstrap = options.bootstrap;
  report.confidence = options.confidence;
  report.decision_fpr = options.decision_fpr;
  {
    std::string holder;
    if (RunLock::held(file.path(), &holder)) {
      report.state = "running";
      report.state_detail = "a run (" + holder + ") is writing this file: " + std::to_string(report.models_done) +
                            " of " + std::to_string(report.models) +
                            " models done so far; the numbers will change as models finish";
    } else if (report.models_done < report.models) {
      report.state = "interrupted";
      report.state_detail = "no run holds this file and " + std::to_string(report.models - report.models_done) +
                            " of " + std::to_string(report.models) + " models are not done (" +
                            std::to_string(report.models_failed) +
                            " failed): these numbers use the finished ones; `lira run` with the same config "
                            "resumes it";
    } else {
      report.state = "complete";
    }
  }

  auto attacks = choose_attacks(file, options, report.skipped);

  // Targets and references.
  const int64_t k = options.targets;
  if (k < 1) throw ScoreError("the number of targets must be >= 1");
  if (report.models_done == 0)
    throw ScoreError("'" + file.path() + "' has no finished model yet: nothing to score (wait for the run)");
  if (report.models_done < k)
    throw ScoreError("'" + file.path() + "' has " + plural(report.models_done, "finished model") + "; " +
                     std::to_string(k) + " target(s) need at least " + std::to_string(k) +
                     " (use fewer targets, or wait for the run)");
  ScoreSetup setup;
  setup.models = report.models;
  setup.candidates = report.candidates;
  setup.targets.assign(done_models.end() - k, done_models.end());
  setup.leave_one_out = options.leave_one_out;
  setup.base = options.leave_one_out ? done_models : std::vector<int64_t>(done_models.begin(), done_models.end() - k);
  if (options.references > 0) {
    if (options.leave_one_out)
      throw ScoreError("--references needs --targets: under leave-one-out every finished model is a reference");
    if (options.references > static_cast<int64_t>(setup.base.size()))
      throw ScoreError("--references " + std::to_string(options.references) + ": '" + file.path() + "' has " +
                       plural(static_cast<int64_t>(setup.base.size()), "finished model") + " besides the " +
                       plural(k, "target") + "; ask for at most that many");
    setup.base.resize(static_cast<size_t>(options.references));
  }
  setup.flavor = options.flavor;
  setup.rmia = options.rmia;
  setup.shokri = options.shokri;
  setup.seed = options.seed;
  for (const char* s : {"logit_confidence", "loss", "max_probability", "entropy"})
    if (file.has_signal(s)) setup.available.push_back(s);
  report.targets = setup.targets;
  report.references = setup.base;
  if (options.leave_one_out)
    report.references.erase(std::find(report.references.begin(), report.references.end(), setup.targets.front()));
  for (int64_t r : setup.base)
    if (std::find(setup.targets.begin(), setup.targets.end(), r) == setup.targets.end()) {
      setup.tuning_model = r;
      break;
    }
  // Leave-one-out over every model: each model is a reference of the others, so the first
  // one also tunes RMIA's a (the rmia note says so).
  if (setup.tuning_model < 0 && options.leave_one_out && setup.base.size() >= 3) setup.tuning_model = setup.base.front();

  // One pass over the keep matrix: the population (candidates IN for no model), the
  // reference counts per example behind each attack's feasibility, and plot.py's
  // in_size / out_size for the official-code flavor.
  const int64_t T = static_cast<int64_t>(setup.targets.size());
  ReferenceCounts counts;
  counts.satisfied.assign(static_cast<size_t>(T), {});
  setup.population.assign(static_cast<size_t>(report.candidates), 0);
  int64_t official_min_in = INT64_MAX, official_min_out = INT64_MAX;
  {
    std::vector<uint8_t> keep;
    for (int64_t n0 = 0; n0 < report.candidates; n0 += kKeepBlock) {
      const int64_t n1 = std::min(report.candidates, n0 + kKeepBlock), w = n1 - n0;
      file.read_keep(n0, n1, keep);
      for (int64_t j = 0; j < w; ++j) {
        int64_t any = 0;
        for (int64_t m = 0; m < report.models; ++m) any |= keep[m * w + j];
        if (!any) {
          setup.population[static_cast<size_t>(n0 + j)] = 1;
          ++setup.population_count;
          continue;
        }
        int64_t in = 0;
        for (int64_t r : setup.base) in += keep[r * w + j];
        const int64_t refs = static_cast<int64_t>(setup.base.size());
        official_min_in = std::min(official_min_in, in);
        official_min_out = std::min(official_min_out, refs - in);
        for (int64_t ti = 0; ti < T; ++ti) {
          // Leave-one-out: the target's own row is not one of its references.
          const int64_t t = setup.targets[static_cast<size_t>(ti)];
          const int64_t own_in = options.leave_one_out ? keep[t * w + j] : 0;
          const int64_t own = options.leave_one_out ? 1 : 0;
          const int64_t i_t = in - own_in, o_t = refs - own - i_t;
          for (size_t q = 0; q < ReferenceCounts::kNeeds; ++q) {
            if (i_t < ReferenceCounts::kIn[q] || o_t < ReferenceCounts::kOut[q]) continue;
            ++counts.satisfied[static_cast<size_t>(ti)][q];
            counts.min_in[q] = std::min(counts.min_in[q], i_t), counts.min_out[q] = std::min(counts.min_out[q], o_t);
          }
        }
      }
    }
  }
  report.population = setup.population_count;
  if (setup.population_count == report.candidates)
    throw ScoreError("'" + file.path() + "': no model is IN for any candidate (/keep is all zeros), so there are no "
                     "members to detect; is /keep the membership matrix (1 = trained on)?");
  if (setup.population_count > 0)
    report.notes.push_back(plural(setup.population_count, "candidate") +
                           " that no model trained on (the population) are left out of the metrics");
  setup.official_in_size = official_min_in == INT64_MAX ? 0 : official_min_in;
  setup.official_out_size = official_min_out == INT64_MAX ? 0 : official_min_out;

  // Each attack decides whether it can be scored; the others still run.
  const int64_t references = static_cast<int64_t>(report.references.size());
  std::vector<std::string> few(attacks.size());
  {
    std::vector<const AttackInfo*> feasible;
    std::vector<std::string> feasible_few;
    for (auto* a : attacks) {
      const Needs need = needs_of(a->id);
      std::string reason, mark;
      const bool lira_family = a->id == AttackId::kLiraOnline || a->id == AttackId::kLiraOffline ||
                               a->id == AttackId::kLiraOnlineFixedVariance ||
                               a->id == AttackId::kLiraOfflineFixedVariance;
      if (need.in + need.out > 0 && counts.satisfying(need.in, need.out) == 0) {
        reason = "needs " + std::string(need.what) + "; with " + plural(references, "reference model") +
                 " per target no candidate has that for every target" +
                 (references < 4 ? " (train more models, or use fewer --targets)" : " (use fewer --targets)");
      } else if (lira_family && options.flavor == Flavor::kOfficialCode &&
                 (setup.official_out_size == 0 ||
                  (setup.official_in_size == 0 &&
                   (a->id == AttackId::kLiraOnline || a->id == AttackId::kLiraOnlineFixedVariance)))) {
        reason = "official-code flavor truncates every candidate's IN and OUT sets to the smallest count, and some "
                 "candidate has no " + std::string(setup.official_out_size == 0 ? "OUT" : "IN") +
                 " reference (plot.py would fail too): train more models or use fewer --targets";
      } else if (options.flavor == Flavor::kOfficialCode &&
                 std::string(a->name).rfind("bavaria", 0) == 0) {
        reason = "has no official-code flavor (plot.py has no such attack): use --flavor paper";
      } else if ((a->id == AttackId::kRmia || a->id == AttackId::kRmiaOnline) && options.rmia.temperature != 1.0 &&
                 (!file.has_signal("logits") || file.signal_dims("logits").size() != 4 ||
                  static_cast<int64_t>(file.labels().size()) != report.candidates)) {
        reason = "--rmia-temperature needs every class's logit, /signals/logits [M, N, A, C], and /labels; the file "
                 "has " + std::string(file.has_signal("logits") ? "/signals/logits of another shape" : "no /signals/logits") +
                 " (set signals.logits: true in the run's config)";
      } else if ((a->id == AttackId::kRmia || a->id == AttackId::kRmiaOnline) && setup.population_count == 0) {
        reason = "needs a population: candidates that no model trained on (set data.population in the config; "
                 "this file has none). Using the targets' own non-members instead would rely on the secret "
                 "being measured";
      } else if (a->id == AttackId::kShokri) {
        int64_t train = 0;
        for (int64_t r : setup.base) train += std::find(setup.targets.begin(), setup.targets.end(), r) == setup.targets.end();
        if (train == 0)
          reason = "needs reference models that are not targets to train its classifier on; all " +
                   plural(report.models_done, "finished model") + " are targets";
      }
      if (!reason.empty()) {
        report.skipped.push_back({a->name, reason});
        continue;
      }
      if (need.trust > 0) {
        const auto q = static_cast<size_t>(ReferenceCounts::index(need.in, need.out));
        const int64_t fewest_in = need.in > 0 ? counts.min_in[q] : INT64_MAX;
        const int64_t fewest = std::min(fewest_in, counts.min_out[q]);
        if (fewest < need.trust)
          mark = "some examples' fits use only " + std::to_string(fewest) + " " +
                 (fewest == counts.min_out[q] ? "OUT" : "IN") + " reference signal(s) (fewer than " +
                 std::to_string(need.trust) + "): read it as indicative" +
                 (need.trust >= 8 ? "; the fixed-variance and BaVarIA rows are made for few references" : "");
      }
      feasible.push_back(a);
      feasible_few.push_back(mark);
    }
    attacks = feasible;
    few = feasible_few;
  }
  if (attacks.empty()) {
    std::string why;
    for (const auto& sk : report.skipped) why += "\n  " + sk.name + ": " + sk.reason;
    throw ScoreError("no attack can be scored on '" + file.path() + "':" + why);
  }

  setup.labels = file.labels();
  // Text results: the ragged token layout, for the language-model attacks.
  setup.offsets = file.offsets();
  setup.zlib_bytes = file.zlib_bytes();
  setup.min_k = options.min_k;
  if (!(options.min_k > 0 && options.min_k <= 1)) throw ScoreError("--min-k must be in (0, 1]");
  // The queries: from the per-candidate signals the chosen attacks require (all of the
  // same shape; per-token signals [M, S] are read separately).
  std::string shape_signal;
  for (auto* a : attacks)
    for (const char* s : a->signals)
      if (shape_signal.empty() && std::string(s).rfind("token_", 0) != 0) shape_signal = s;
  if (shape_signal.empty()) shape_signal = "loss";
  if (!file.has_signal(shape_signal)) throw ScoreError("'" + file.path() + "' has no /signals/" + shape_signal);
  const auto dims = file.signal_dims(shape_signal);
  if (dims.size() > 3)
    throw ScoreError("/signals/" + shape_signal + " must be [models, candidates] or [models, candidates, queries]");
  setup.queries = dims.size() >= 3 ? dims[2] : 1;
  if (static_cast<int64_t>(report.queries.size()) != setup.queries) {
    report.queries.clear();
    for (int64_t a = 0; a < setup.queries; ++a) report.queries.push_back("q" + std::to_string(a));
  }
  // A subset of the queries: each block is compacted to them right after it is read.
  const int64_t file_queries = setup.queries;
  std::vector<int64_t> chosen_queries;
  for (const auto& q : options.queries) {
    const auto at = std::find(report.queries.begin(), report.queries.end(), q);
    if (at == report.queries.end()) {
      std::string names;
      for (const auto& n : report.queries) names += (names.empty() ? "" : ", ") + n;
      throw ScoreError("--queries: '" + file.path() + "' has no query '" + q + "'; its queries are " + names);
    }
    const int64_t a = at - report.queries.begin();
    if (std::find(chosen_queries.begin(), chosen_queries.end(), a) != chosen_queries.end())
      throw ScoreError("--queries: '" + q + "' named twice");
    chosen_queries.push_back(a);
  }
  if (!chosen_queries.empty()) {
    setup.queries = static_cast<int64_t>(chosen_queries.size());
    report.queries = options.queries;
  }

  // Memberships of the targets; the keep matrix itself is streamed block by block.
  for (int64_t t : setup.targets) {
    setup.target_keep.emplace_back();
    file.read_keep_row(t, setup.target_keep.back());
  }
  result.membership = setup.target_keep;
  std::vector<AttackId> ids;
  for (auto* a : attacks) ids.push_back(a->id);
  auto groups = make_attack_groups(ids, setup);
  // Every signal the groups read (some read optional ones, such as shokri's max_probability)
  // must have the same [M, N, A] shape.
  std::vector<std::string> signals, token_signals;
  for (const auto& g : groups) {
    for (const auto& sig : g->signals())
      if (std::find(signals.begin(), signals.end(), sig) == signals.end()) signals.push_back(sig);
    for (const auto& sig : g->token_signals())
      if (std::find(token_signals.begin(), token_signals.end(), sig) == token_signals.end()) token_signals.push_back(sig);
  }
  if (signals.empty()) signals.push_back(shape_signal);
  // Signals may carry more dimensions after [M, N, A] (logits: classes); the values per
  // (model, candidate) count towards the block budget.
  int64_t values_per_candidate = 0;
  std::vector<int64_t> inner;  // values per (model, candidate, query) of each signal: C for logits, else 1
  for (const auto& sig : signals) {
    const auto d = file.signal_dims(sig);
    const bool same_prefix = d.size() >= dims.size() && std::equal(dims.begin(), dims.end(), d.begin()) &&
                             (d.size() == dims.size() || dims.size() == 3);
    if (!same_prefix)
      throw ScoreError("/signals/" + sig + " and /signals/" + shape_signal + " differ in shape");
    int64_t per = 1;
    for (size_t k = 2; k < d.size(); ++k) per *= d[k];
    values_per_candidate += per;
    inner.push_back(d.size() > 3 ? per / d[2] : 1);
    if (sig == "logits") setup.classes = d.size() == 4 ? d[3] : 0;
  }
  if (!token_signals.empty() && static_cast<int64_t>(setup.offsets.size()) != report.candidates + 1)
    throw ScoreError("'" + file.path() + "' has per-token signals but no /offsets of " +
                     std::to_string(report.candidates + 1) + " entries");
  for (size_t i = 0; i < ids.size(); ++i) result.scores.emplace_back(T, report.candidates);
  // Each group's outputs, in the order of `ids`.
  std::vector<std::vector<ScoreMatrix*>> outputs;
  for (const auto& g : groups) {
    std::vector<ScoreMatrix*> o;
    for (auto id : g->ids()) o.push_back(&result.scores[std::find(ids.begin(), ids.end(), id) - ids.begin()]);
    outputs.push_back(o);
  }

  // Blocks: runs of candidates within the memory budget. Per-candidate signals take
  // models x queries x 4 bytes per signal (blocks a multiple of the storage chunk); text
  // results add every target's tokens of the block's records for each per-token signal, so
  // a block ends where its tokens would pass the budget, whatever the number of targets.
  std::vector<int64_t> bounds{0};
  {
    const int64_t per_candidate = report.models * (4 * values_per_candidate + 1);
    const int64_t per_token = 4 * T * static_cast<int64_t>(token_signals.size());
    // Bytes per block (ScoreOptions::block_bytes); two blocks are held: one scored while the
    // next is read.
    const int64_t budget = std::max<int64_t>(1, options.block_bytes);
    int64_t block = options.block_candidates;
    if (block <= 0) {
      block = std::max<int64_t>(1, budget / std::max<int64_t>(1, per_candidate));
      const int64_t chunk = file.signal_chunk_candidates(signals.front());
      if (block > chunk) block -= block % chunk;
    }
    for (int64_t n0 = 0; n0 < report.candidates;) {
      int64_t n1 = std::min(report.candidates, n0 + block);
      if (per_token > 0) {
        // The largest n1 whose tokens fit (at least one record per block).
        const auto first = setup.offsets.begin() + n0;
        // Tokens get half the budget: two blocks of 64 MiB of tokens, whatever the targets.
        const int64_t limit = setup.offsets[static_cast<size_t>(n0)] + std::max<int64_t>(1, budget / 2 / per_token);
        const int64_t fit = (std::upper_bound(first + 1, setup.offsets.begin() + n1 + 1, limit) - first) - 1;
        n1 = n0 + std::max<int64_t>(1, fit);
      }
      bounds.push_back(n1);
      n0 = n1;
    }
  }
  // Streams the blocks, reading block k + 1 on another thread while block k is scored.
  // Only that thread calls HDF5 meanwhile (the HDF5 library here is not thread-safe).
  struct Buffers {
    std::vector<std::vector<float>> signals;
    std::vector<uint8_t> keep;
    std::vector<std::vector<float>> tokens;  // [token signal][target]: the block's tokens of that row
  };
  Buffers current{std::vector<std::vector<float>>(signals.size()), {},
                  std::vector<std::vector<float>>(token_signals.size() * static_cast<size_t>(T))},
      next = current;
  const size_t blocks = bounds.size() - 1;
  // Row checksums (common/row_checksum.hpp): the done models' rows of every signal read
  // here, hashed block by block in the last pass (on the reading thread) and compared with
  // the file's at the end, so that rows changed on disk after their commit are named.
  const int64_t file_rows = file.models(), own_models = file.models() - file.external_models();
  std::vector<std::vector<uint64_t>> stored(signals.size());
  std::vector<std::vector<RowChecksum>> hashed(signals.size());
  {
    // Only done models' checksums vouch for their rows (a model retried after a crash
    // between its checksum's and its done flag's commit has new rows under an old sum).
    const auto done_flags = file.done();
    for (size_t i = 0; i < signals.size(); ++i) {
      stored[i] = file.checksums(signals[i]);
      for (size_t m = 0; m < stored[i].size(); ++m)
        if (!done_flags[m]) stored[i][m] = 0;
      if (!stored[i].empty()) hashed[i].assign(static_cast<size_t>(own_models), RowChecksum{});
    }
  }
  bool hash_rows = false;
  auto prefetch = [&](size_t bi) {
    if (bi >= blocks) return;
    for (const auto& sig : signals) file.prefetch(sig, bounds[bi], bounds[bi + 1]);
    file.prefetch("keep", bounds[bi], bounds[bi + 1]);
  };
  auto read = [&](size_t bi, Buffers& into) {
    // The block after this one starts loading now, all its models' segments at once.
    if (bi == 0) prefetch(0);
    prefetch(bi + 1);
    const int64_t n0 = bounds[bi], n1 = bounds[bi + 1];
    for (size_t i = 0; i < signals.size(); ++i) {
      file.read_signal(signals[i], n0, n1, into.signals[i]);
      if (!hash_rows || stored[i].empty()) continue;
      const uint64_t per_model = into.signals[i].size() / static_cast<uint64_t>(file_rows);
      for (int64_t m = 0; m < own_models; ++m)
        if (stored[i][static_cast<size_t>(m)] != 0)
          hashed[i][static_cast<size_t>(m)].update(into.signals[i].data() + static_cast<uint64_t>(m) * per_model,
                                                   per_model);
    }
    if (!chosen_queries.empty())
      for (size_t i = 0; i < signals.size(); ++i) keep_queries(into.signals[i], file_queries, inner[i], chosen_queries);
    file.read_keep(n0, n1, into.keep);
    for (size_t i = 0; i < token_signals.size(); ++i)
      for (int64_t ti = 0; ti < T; ++ti)
        file.read_token_signal(token_signals[i], setup.targets[static_cast<size_t>(ti)], setup.offsets[n0],
                               setup.offsets[n1], into.tokens[i * static_cast<size_t>(T) + static_cast<size_t>(ti)]);
  };
  auto for_each_block = [&](auto&& fn) {
    read(0, current);
    for (size_t bi = 0; bi < blocks; ++bi) {
      std::future<void> reading;
      if (bi + 1 < blocks) reading = std::async(std::launch::async, read, bi + 1, std::ref(next));
      SignalBlock b;
      b.n0 = bounds[bi];
      b.count = bounds[bi + 1] - bounds[bi];
      for (size_t i = 0; i < signals.size(); ++i) b.signals[signals[i]] = current.signals[i].data();
      b.keep = current.keep.data();
      if (!token_signals.empty()) {
        b.s0 = setup.offsets[b.n0];
        for (size_t i = 0; i < token_signals.size(); ++i)
          for (int64_t ti = 0; ti < T; ++ti)
            b.token_rows[token_signals[i]].push_back(current.tokens[i * static_cast<size_t>(T) + static_cast<size_t>(ti)].data());
      }
      try {
        fn(b);
      } catch (...) {
        if (reading.valid()) reading.wait();  // never leave the reader running on unwind
        throw;
      }
      if (reading.valid()) {
        reading.get();
        std::swap(current, next);
      }
    }
  };
  const bool first_pass = std::any_of(groups.begin(), groups.end(), [](auto& g) { return g->needs_first_pass(); });
  if (first_pass)
    for_each_block([&](const SignalBlock& b) {
      for (auto& g : groups)
        if (g->needs_first_pass()) g->observe(b);
    });
  for (auto& g : groups) g->prepare();
  hash_rows = true;
  for_each_block([&](const SignalBlock& b) {
    for (size_t i = 0; i < groups.size(); ++i) groups[i]->score(b, outputs[i]);
  });
  {
    std::string changed;
    int64_t count = 0;
    for (size_t i = 0; i < signals.size(); ++i)
      for (int64_t m = 0; m < static_cast<int64_t>(hashed[i].size()); ++m)
        if (stored[i][static_cast<size_t>(m)] != 0 &&
            hashed[i][static_cast<size_t>(m)].value() != stored[i][static_cast<size_t>(m)]) {
          if (++count > 10) continue;
          if (!changed.empty()) changed += ", ";
          changed += "model ";
          changed += std::to_string(m);
          changed += " (";
          changed += signals[i];
          changed += ")";
        }
    if (count > 0)
      throw StorageError("'" + file.path() + "': the rows of " + std::to_string(count) + " model signal(s) changed on "
                         "disk after they were committed (their checksums differ): " + changed +
                         (count > 10 ? ", ..." : "") + ". Nothing was scored; `lira check " + file.path() +
                         "` lists every one. Restore the file from a copy, or train those models again.");
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    groups[i]->finish(outputs[i]);
    for (auto& n : groups[i]->notes()) report.notes.push_back(n);
  }

  // The population is not evaluated by any attack.
  const int64_t N = report.candidates;
  for (auto& m : result.scores)
    for (int64_t ti = 0; ti < T; ++ti)
      for (int64_t n = 0; n < N; ++n)
        if (setup.in_population(n)) m.at(ti, n) = std::numeric_limits<double>::quiet_NaN();

  // Metrics per attack: each target, pooled, the mean over targets and its standard error,
  // bootstrap intervals of the pooled metrics, and the decisions' variability. An attack
  // some target cannot be evaluated for (no scored member or non-member) is skipped.
  std::vector<ScoreMatrix> kept_scores;
  for (size_t ai = 0; ai < ids.size(); ++ai) {
    AttackReport ar;
    ar.name = attacks[ai]->name;
    ar.few_references = few[ai];
    std::vector<double> all_scores;
    std::vector<uint8_t> all_members;
    std::string unusable;
    for (int64_t ti = 0; ti < T && unusable.empty(); ++ti) {
      const auto row = result.scores[ai].row(ti);
      std::vector<double> kept;
      std::vector<uint8_t> member;
      kept.reserve(N), member.reserve(N);
      for (int64_t n = 0; n < N; ++n) {
        if (setup.in_population(n)) continue;
        if (std::isnan(row[n])) {
          ++ar.undefined_scores;
          continue;
        }
        kept.push_back(row[n]);
        member.push_back(result.membership[ti][n]);
      }
      const int64_t members = std::count(member.begin(), member.end(), uint8_t{1});
      if (members == 0 || members == static_cast<int64_t>(member.size())) {
        unusable = "target model " + std::to_string(setup.targets[static_cast<size_t>(ti)]) + " has " +
                   plural(members, "member") + " and " +
                   plural(static_cast<int64_t>(member.size()) - members, "non-member") +
                   " with a score: a ROC curve needs both";
        break;
      }
      ar.per_target.push_back(compute_metrics(kept, member, options.fpr));
      all_scores.insert(all_scores.end(), kept.begin(), kept.end());
      all_members.insert(all_members.end(), member.begin(), member.end());
    }
    if (!unusable.empty()) {
      report.skipped.push_back({ar.name, unusable});
      continue;
    }
    ar.mean = mean_metrics(ar.per_target);
    ar.se = standard_error(ar.per_target);
    ar.pooled = T > 1 ? compute_metrics(all_scores, all_members, options.fpr) : ar.per_target.front();
    ar.ci = bootstrap_metrics(all_scores, all_members, options.fpr, options.bootstrap, options.confidence,
                              derive_seed(options.seed, 7, ai));
    if (T > 1) {
      std::vector<std::span<const double>> rows;
      for (int64_t ti = 0; ti < T; ++ti) rows.push_back(result.scores[ai].row(ti));
      ar.decisions = decision_variability(rows, result.membership, options.decision_fpr);
    }
    if (ar.undefined_scores > 0)
      report.notes.push_back(ar.name + ": " + std::to_string(ar.undefined_scores) +
                             " (target, candidate) pairs had no score (too few IN or OUT references) and were left out");
    report.attacks.push_back(std::move(ar));
    kept_scores.push_back(std::move(result.scores[ai]));
  }
  result.scores = std::move(kept_scores);
  if (report.attacks.empty()) {
    std::string why;
    for (const auto& sk : report.skipped) why += "\n  " + sk.name + ": " + sk.reason;
    throw ScoreError("no attack can be scored on '" + file.path() + "':" + why);
  }
  return result;
}

std::vector<std::string> parse_query_names(const std::string& list) {
  std::vector<std::string> names;
  std::string name;
  int depth = 0;
  auto flush = [&] {
    const auto first = name.find_first_not_of(" \t"), last = name.find_last_not_of(" \t");
    if (first != std::string::npos) names.push_back(name.substr(first, last - first + 1));
    name.clear();
  };
  for (char c : list) {
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) break;
    if (c == ',' && depth == 0) {
      flush();
    } else {
      name += c;
    }
  }
  if (depth != 0)
    throw ScoreError("--queries '" + list + "': unbalanced parentheses (names look like identity, mirror or mirror(0,1))");
  flush();
  return names;
}

}  // namespace lira
