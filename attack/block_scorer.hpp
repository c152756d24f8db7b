// The scoring core: per-example reference statistics and attack scores, computed block
// by block over the candidates, so memory stays O(models x block) for any N.
//
// Paper form (docs/scoring.md): for candidate n and query a, the IN (resp. OUT) fit is the
// mean and the ddof = 0 standard deviation of the reference models' signals with
// keep = 1 (resp. 0); sd gets + 1e-30 so a constant signal does not divide by zero.
// Fixed variance replaces the per-example sd by one sd per query and side, pooled from
// every reference signal's squared deviation from its own candidate's mean. Per-query
// scores are averaged over the queries. Higher score = more likely a member.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "attacks.hpp"

namespace lira {

// The signals of every model for the candidates [n0, n0 + count), layout [M, count, A].
struct SignalBlock {
  int64_t n0 = 0, count = 0;
  const float* logit_confidence = nullptr;  // null when no requested attack reads it
  const float* loss = nullptr;
};

class BlockScorer {
 public:
  BlockScorer(std::vector<AttackId> attacks, int64_t models, int64_t candidates, int64_t queries,
              std::span<const uint8_t> keep, std::vector<int64_t> targets, std::vector<int64_t> references);

  bool needs_variance_pass() const;
  // Pass 1 (only if needs_variance_pass): call for every block, in any order.
  void accumulate_variance(const SignalBlock& block);
  // Pass 2: call for every block after pass 1 is complete.
  void score(const SignalBlock& block);

  // Scores of attack i (in constructor order) for target j (in constructor order), [N];
  // NaN for a candidate that has no IN (online) or no OUT reference.
  const std::vector<double>& scores(size_t attack, size_t target) const { return scores_[attack][target]; }
  // Pooled standard deviations per query (after pass 1).
  std::vector<double> pooled_sd_in() const;
  std::vector<double> pooled_sd_out() const;
  // Fewest IN / OUT reference signals any candidate had (over the blocks scored so far).
  // Below 2, that candidate's per-example sd is 0 and its online score degenerate.
  int64_t min_in_references() const { return min_in_; }
  int64_t min_out_references() const { return min_out_; }

 private:
  std::vector<AttackId> attacks_;
  int64_t models_, candidates_, queries_;
  std::span<const uint8_t> keep_;
  std::vector<int64_t> targets_, references_;
  std::vector<double> ss_in_, ss_out_;
  std::vector<int64_t> count_in_, count_out_;
  int64_t min_in_, min_out_;
  std::vector<std::vector<std::vector<double>>> scores_;  // [attack][target][N]
};

}  // namespace lira
