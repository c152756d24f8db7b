// Implements score_results: attack and target selection, block streaming, metrics.
#include "scorer.hpp"

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>

#include "common/errors.hpp"

namespace lira {
namespace {

// Signal bytes per block. Two blocks are held: one scored while the next is read.
constexpr int64_t kBlockBudgetBytes = 128ll << 20;
constexpr int64_t kKeepBlock = 16384;  // candidates per block of the keep-only pass

double mean_over(const std::vector<double>& values, const std::vector<uint8_t>& done) {
  double sum = 0;
  int64_t n = 0;
  for (size_t m = 0; m < values.size(); ++m)
    if (done[m] && std::isfinite(values[m])) sum += values[m], ++n;
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

std::vector<const AttackInfo*> choose_attacks(const ResultsReader& file, const ScoreOptions& options,
                                              std::vector<std::string>& notes) {
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
        notes.push_back(std::string("attack ") + a.name + " skipped: the file has no /signals/" + m);
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
  report.mean_train_accuracy = mean_over(file.model_values("train_accuracy"), done);
  report.mean_test_accuracy = mean_over(file.model_values("test_accuracy"), done);
  if (report.models_done < report.models)
    report.notes.push_back("only " + std::to_string(report.models_done) + " of " + std::to_string(report.models) +
                           " models are done; scoring those");

  const auto attacks = choose_attacks(file, options, report.notes);

  // Targets and references.
  const int64_t k = options.targets;
  if (k < 1) throw ScoreError("the number of targets must be >= 1");
  if (report.models_done < k + 1)
    throw ScoreError("'" + file.path() + "' has " + std::to_string(report.models_done) + " finished models; " +
                     std::to_string(k) + " target(s) need at least " + std::to_string(k + 1) +
                     " (use fewer targets, or wait for the run)");
  ScoreSetup setup;
  setup.models = report.models;
  setup.candidates = report.candidates;
  setup.targets.assign(done_models.end() - k, done_models.end());
  setup.leave_one_out = options.leave_one_out;
  setup.base = options.leave_one_out ? done_models : std::vector<int64_t>(done_models.begin(), done_models.end() - k);
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

  // Memberships of the targets; the keep matrix itself is streamed block by block.
  for (int64_t t : setup.targets) {
    setup.target_keep.emplace_back();
    file.read_keep_row(t, setup.target_keep.back());
  }
  result.membership = setup.target_keep;
  std::vector<AttackId> ids;
  for (auto* a : attacks) ids.push_back(a->id);
  if (options.flavor == Flavor::kOfficialCode && !options.leave_one_out) {
    // plot.py's in_size / out_size: the smallest IN and OUT counts among the references.
    int64_t min_in = INT64_MAX, min_out = INT64_MAX;
    std::vector<uint8_t> keep;
    for (int64_t n0 = 0; n0 < report.candidates; n0 += kKeepBlock) {
      const int64_t n1 = std::min(report.candidates, n0 + kKeepBlock);
      file.read_keep(n0, n1, keep);
      for (int64_t j = 0; j < n1 - n0; ++j) {
        int64_t in = 0;
        for (int64_t r : setup.base) in += keep[r * (n1 - n0) + j];
        min_in = std::min(min_in, in);
        min_out = std::min(min_out, static_cast<int64_t>(setup.base.size()) - in);
      }
    }
    setup.official_in_size = min_in;
    setup.official_out_size = min_out;
  }
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
  for (const auto& sig : signals)
    if (file.signal_dims(sig) != dims)
      throw ScoreError("/signals/" + sig + " and /signals/" + shape_signal + " differ in shape");
  if (!token_signals.empty() && static_cast<int64_t>(setup.offsets.size()) != report.candidates + 1)
    throw ScoreError("'" + file.path() + "' has per-token signals but no /offsets of " +
                     std::to_string(report.candidates + 1) + " entries");
  const int64_t T = static_cast<int64_t>(setup.targets.size());
  for (size_t i = 0; i < ids.size(); ++i) result.scores.emplace_back(T, report.candidates);
  // Each group's outputs, in the order of `ids`.
  std::vector<std::vector<ScoreMatrix*>> outputs;
  for (const auto& g : groups) {
    std::vector<ScoreMatrix*> o;
    for (auto id : g->ids()) o.push_back(&result.scores[std::find(ids.begin(), ids.end(), id) - ids.begin()]);
    outputs.push_back(o);
  }

  // Block length: a multiple of the storage chunk, within the memory budget.
  int64_t block = options.block_candidates;
  if (block <= 0) {
    const int64_t per_candidate = report.models * (setup.queries * 4 * static_cast<int64_t>(signals.size()) + 1);
    block = std::max<int64_t>(1, kBlockBudgetBytes / std::max<int64_t>(1, per_candidate));
    const int64_t chunk = file.signal_chunk_candidates(signals.front());
    if (block > chunk) block -= block % chunk;
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
  auto read = [&](int64_t n0, Buffers& into) {
    const int64_t n1 = std::min(report.candidates, n0 + block);
    for (size_t i = 0; i < signals.size(); ++i) file.read_signal(signals[i], n0, n1, into.signals[i]);
    file.read_keep(n0, n1, into.keep);
    for (size_t i = 0; i < token_signals.size(); ++i)
      for (int64_t ti = 0; ti < T; ++ti)
        file.read_token_signal(token_signals[i], setup.targets[static_cast<size_t>(ti)], setup.offsets[n0],
                               setup.offsets[n1], into.tokens[i * static_cast<size_t>(T) + static_cast<size_t>(ti)]);
  };
  auto for_each_block = [&](auto&& fn) {
    read(0, current);
    for (int64_t n0 = 0; n0 < report.candidates; n0 += block) {
      std::future<void> reading;
      if (n0 + block < report.candidates) reading = std::async(std::launch::async, read, n0 + block, std::ref(next));
      SignalBlock b;
      b.n0 = n0;
      b.count = std::min(report.candidates, n0 + block) - n0;
      for (size_t i = 0; i < signals.size(); ++i) b.signals[signals[i]] = current.signals[i].data();
      b.keep = current.keep.data();
      if (!token_signals.empty()) {
        b.s0 = setup.offsets[n0];
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
  for_each_block([&](const SignalBlock& b) {
    for (size_t i = 0; i < groups.size(); ++i) groups[i]->score(b, outputs[i]);
  });
  for (size_t i = 0; i < groups.size(); ++i) {
    groups[i]->finish(outputs[i]);
    for (auto& n : groups[i]->notes()) report.notes.push_back(n);
  }

  // Metrics per attack: each target, pooled, and the mean over targets.
  const int64_t N = report.candidates;
  for (size_t ai = 0; ai < ids.size(); ++ai) {
    AttackReport ar;
    ar.name = attacks[ai]->name;
    std::vector<double> all_scores;
    std::vector<uint8_t> all_members;
    for (int64_t ti = 0; ti < T; ++ti) {
      const auto row = result.scores[ai].row(ti);
      std::vector<double> kept;
      std::vector<uint8_t> member;
      kept.reserve(N), member.reserve(N);
      for (int64_t n = 0; n < N; ++n) {
        if (std::isnan(row[n])) {
          ++ar.undefined_scores;
          continue;
        }
        kept.push_back(row[n]);
        member.push_back(result.membership[ti][n]);
      }
      ar.per_target.push_back(compute_metrics(kept, member, options.fpr));
      if (T > 1) all_scores.insert(all_scores.end(), kept.begin(), kept.end()), all_members.insert(all_members.end(), member.begin(), member.end());
    }
    ar.mean = mean_metrics(ar.per_target);
    ar.pooled = T > 1 ? compute_metrics(all_scores, all_members, options.fpr) : ar.per_target.front();
    if (ar.undefined_scores > 0)
      report.notes.push_back(ar.name + ": " + std::to_string(ar.undefined_scores) +
                             " (target, candidate) pairs had no score (no IN or OUT reference) and were left out");
    report.attacks.push_back(std::move(ar));
  }
  return result;
}

}  // namespace lira
