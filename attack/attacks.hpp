// The attacks `lira score` knows, and the small interface they implement.
//
// Scoring streams the candidates in blocks (the signals of every model for a run of
// candidates), so memory stays O(models x block) whatever N is. An attack group sees each
// block once per pass: pass 1 (optional) gathers what needs every candidate first (pooled
// variances, training samples), pass 2 writes one score per (target, candidate). Higher
// score = more likely a member, for every attack.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace lira {

enum class AttackId {
  kLiraOnline,
  kLiraOffline,
  kLiraOnlineFixedVariance,
  kLiraOfflineFixedVariance,
  kGlobalThreshold,
  kLoss,
  kReference,
  kRmia,
  kRmiaOnline,
  kBavariaNOnline,
  kBavariaNOffline,
  kBavariaTOnline,
  kBavariaTOffline,
  kShokri,
  kZlib,
  kMinK,
  kMinKPlusPlus,
};

struct AttackInfo {
  AttackId id;
  const char* name;                   // as typed in --attack
  std::vector<const char*> signals;   // the /signals/<name> it needs
  const char* description;            // one line for --help and docs
};

const std::vector<AttackInfo>& attack_catalog();
// Looks up a name; throws ScoreError listing the known ones for an unknown name.
const AttackInfo& find_attack(const std::string& name);
const AttackInfo& attack_info(AttackId id);

// paper: the LiRA paper's definitions (docs/scoring.md). official-code: what
// tensorflow/privacy research/mi_lira_2021/plot.py computes, quirks included.
enum class Flavor { kPaper, kOfficialCode };

struct RmiaOptions {
  // offline P(x) = (1 + a)/2 mean_OUT p(x) + (1 - a)/2; NaN: tuned on a reference model
  // playing target (grid 0, 0.1, ..., 1; the a of the best AUC), as ML Privacy Meter.
  double a = std::numeric_limits<double>::quiet_NaN();
  double gamma = 1.0;      // LR(x, z) > gamma counts (strict, as both reference codebases)
  int64_t population = 0;  // z: at most this many of the population candidates; 0 = all
  // p(x | theta) = softmax(logits / T)[label]: T != 1 reads /signals/logits; T = 1 uses
  // exp(-loss), the same value.
  double temperature = 1.0;
};

struct ShokriOptions {
  int64_t samples = 1000000;  // (reference model, candidate) pairs to fit the classifier on
};

// Who is scored against whom, and how.
struct ScoreSetup {
  int64_t models = 0, candidates = 0, queries = 0;
  std::vector<int64_t> targets;
  // Each target's membership row, [T][N] (the keep matrix itself is streamed with the
  // signals: at 4,096 models x 1,000,000 candidates it is 4 GB).
  std::vector<std::vector<uint8_t>> target_keep;
  // Reference models of every target. Leave-one-out: every finished model, and each
  // target's own row is left out of its fits.
  std::vector<int64_t> base;
  bool leave_one_out = false;
  // Candidates IN for no model of the file (data.population): RMIA's population z, and
  // left out of every attack's evaluation (their scores stay NaN). [N], 1 = population.
  std::vector<uint8_t> population;
  int64_t population_count = 0;
  // RMIA's a-tuning: a reference model that is not a target plays the target (-1: none).
  int64_t tuning_model = -1;
  Flavor flavor = Flavor::kPaper;
  // official-code flavor: the smallest IN and OUT counts over all candidates (plot.py's
  // in_size and out_size), computed by the scorer from /keep before any signal is read.
  int64_t official_in_size = 0, official_out_size = 0;
  RmiaOptions rmia;
  ShokriOptions shokri;
  uint64_t seed = 0;  // for sampling (shokri, rmia population)
  // Text results: record n's tokens are [offsets[n], offsets[n + 1]); zlib sizes per record.
  std::vector<int64_t> offsets, zlib_bytes;
  std::vector<int64_t> labels;  // [N], empty if the file has none
  int64_t classes = 0;          // of /signals/logits [M, N, A, C], when read
  double min_k = 0.2;  // min-k and min-k++: the fraction of lowest tokens averaged
  bool has(const std::string& signal) const;
  bool in_population(int64_t n) const { return !population.empty() && population[static_cast<size_t>(n)] != 0; }
  std::vector<std::string> available;  // signals present in the file
};

// The signals of every model for candidates [n0, n0 + count): each [M, count, A] floats,
// and the same candidates' columns of the keep matrix, [M, count].
struct SignalBlock {
  int64_t n0 = 0, count = 0;
  std::map<std::string, const float*> signals;
  const uint8_t* keep = nullptr;
  const float* get(const std::string& name) const;  // throws if absent
  // Text: the targets' per-token rows for this block's records, tokens [s0, ...):
  // token_rows[name][target index] points at token s0 of that target's row.
  int64_t s0 = 0;
  std::map<std::string, std::vector<const float*>> token_rows;
  const float* token_row(const std::string& name, int64_t target_index) const;
  bool in(int64_t model, int64_t j) const { return keep[model * count + j] != 0; }
};

// Candidates per tile for the per-candidate loops (see transpose_tile).
inline constexpr int64_t kTile = 32;

// Copies candidates [j0, j1) of a block laid out [M, count, A] into tile, laid out
// [j1 - j0, M, A]: a per-candidate loop over the models then reads contiguous memory
// instead of M rows far apart (the difference between cache misses and L1 hits).
void transpose_tile(const float* block, int64_t models, int64_t count, int64_t queries, int64_t j0, int64_t j1,
                    std::vector<float>& tile);

// One score per (target, candidate), NaN where the attack has none.
class ScoreMatrix {
 public:
  ScoreMatrix(int64_t targets, int64_t candidates);
  double& at(int64_t target_index, int64_t n) { return v_[target_index * n_ + n]; }
  double at(int64_t target_index, int64_t n) const { return v_[target_index * n_ + n]; }
  std::span<const double> row(int64_t target_index) const { return {v_.data() + target_index * n_, size_t(n_)}; }

 private:
  int64_t n_;
  std::vector<double> v_;
};

// A set of attacks computed together (the LiRA variants share their per-example fits).
class AttackGroup {
 public:
  virtual ~AttackGroup() = default;
  virtual std::vector<AttackId> ids() const = 0;
  virtual std::vector<std::string> signals() const = 0;
  // Per-token signals ([M, S], text) whose target rows each block must carry.
  virtual std::vector<std::string> token_signals() const { return {}; }
  virtual bool needs_first_pass() const { return false; }
  virtual void observe(const SignalBlock& /*block*/) {}
  virtual void prepare() {}
  // Writes scores of ids()[i] into *out[i].
  virtual void score(const SignalBlock& block, const std::vector<ScoreMatrix*>& out) = 0;
  virtual void finish(const std::vector<ScoreMatrix*>& /*out*/) {}
  virtual std::vector<std::string> notes() const { return {}; }
};

// Groups for the requested attacks, in an order that keeps each attack's position.
std::vector<std::unique_ptr<AttackGroup>> make_attack_groups(const std::vector<AttackId>& ids, const ScoreSetup& setup);

// The individual groups (attack/*_group.cpp).
std::unique_ptr<AttackGroup> make_lira_group(const std::vector<AttackId>& ids, const ScoreSetup& setup);
std::unique_ptr<AttackGroup> make_simple_group(const std::vector<AttackId>& ids, const ScoreSetup& setup);
std::unique_ptr<AttackGroup> make_rmia_group(const std::vector<AttackId>& ids, const ScoreSetup& setup);
std::unique_ptr<AttackGroup> make_shokri_group(const ScoreSetup& setup);
std::unique_ptr<AttackGroup> make_lm_group(const std::vector<AttackId>& ids, const ScoreSetup& setup);

}  // namespace lira
