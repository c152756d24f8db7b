// Implements BlockScorer; OpenMP parallel over the candidates of a block.
#include "block_scorer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "common/errors.hpp"
#include "gaussian.hpp"

namespace lira {
namespace {

constexpr double kSdEpsilon = 1e-30;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Fit {
  double mean_in, sd_in, mean_out, sd_out;
  int64_t n_in, n_out;
};

// IN/OUT fits of one candidate and query from the reference models.
// scratch vectors are per thread, reused across candidates.
Fit fit(const float* block, int64_t count, int64_t queries, int64_t j, int64_t a, std::span<const uint8_t> keep_col,
        const std::vector<int64_t>& refs, std::vector<double>& in, std::vector<double>& out) {
  in.clear();
  out.clear();
  for (size_t k = 0; k < refs.size(); ++k) {
    const int64_t r = refs[k];
    const double v = block[(r * count + j) * queries + a];
    (keep_col[k] ? in : out).push_back(v);
  }
  const Moments mi = moments(in), mo = moments(out);
  return {mi.mean, mi.sd, mo.mean, mo.sd, mi.count, mo.count};
}

}  // namespace

BlockScorer::BlockScorer(std::vector<AttackId> attacks, int64_t models, int64_t candidates, int64_t queries,
                         std::span<const uint8_t> keep, std::vector<int64_t> targets, std::vector<int64_t> references)
    : attacks_(std::move(attacks)),
      models_(models),
      candidates_(candidates),
      queries_(queries),
      keep_(keep),
      targets_(std::move(targets)),
      references_(std::move(references)),
      ss_in_(queries, 0.0),
      ss_out_(queries, 0.0),
      count_in_(queries, 0),
      count_out_(queries, 0),
      min_in_(std::numeric_limits<int64_t>::max()),
      min_out_(std::numeric_limits<int64_t>::max()) {
  if (static_cast<int64_t>(keep_.size()) != models_ * candidates_) throw ScoreError("keep matrix size mismatch");
  for (auto m : targets_)
    if (m < 0 || m >= models_) throw ScoreError("target model " + std::to_string(m) + " out of range");
  for (auto m : references_)
    if (m < 0 || m >= models_) throw ScoreError("reference model " + std::to_string(m) + " out of range");
  scores_.assign(attacks_.size(),
                 std::vector<std::vector<double>>(targets_.size(), std::vector<double>(candidates_, kNaN)));
}

bool BlockScorer::needs_variance_pass() const {
  for (auto a : attacks_)
    if (a == AttackId::kLiraOnlineFixedVariance || a == AttackId::kLiraOfflineFixedVariance) return true;
  return false;
}

void BlockScorer::accumulate_variance(const SignalBlock& b) {
  if (!b.logit_confidence) throw ScoreError("accumulate_variance: block has no logit_confidence");
  const int64_t A = queries_;
  std::vector<double> ss_in(A, 0.0), ss_out(A, 0.0);
  std::vector<int64_t> c_in(A, 0), c_out(A, 0);
  double* ssi = ss_in.data();
  double* sso = ss_out.data();
  int64_t* ci = c_in.data();
  int64_t* co = c_out.data();
#pragma omp parallel reduction(+ : ssi[:A], sso[:A], ci[:A], co[:A])
  {
    std::vector<double> in, out;
    std::vector<uint8_t> keep_col(references_.size());
#pragma omp for schedule(static)
    for (int64_t j = 0; j < b.count; ++j) {
      const int64_t n = b.n0 + j;
      for (size_t k = 0; k < references_.size(); ++k) keep_col[k] = keep_[references_[k] * candidates_ + n];
      for (int64_t a = 0; a < A; ++a) {
        const Fit f = fit(b.logit_confidence, b.count, A, j, a, keep_col, references_, in, out);
        for (double v : in) ssi[a] += (v - f.mean_in) * (v - f.mean_in);
        for (double v : out) sso[a] += (v - f.mean_out) * (v - f.mean_out);
        ci[a] += f.n_in;
        co[a] += f.n_out;
      }
    }
  }
  for (int64_t a = 0; a < A; ++a) {
    ss_in_[a] += ss_in[a];
    ss_out_[a] += ss_out[a];
    count_in_[a] += c_in[a];
    count_out_[a] += c_out[a];
  }
}

std::vector<double> BlockScorer::pooled_sd_in() const {
  std::vector<double> sd(queries_);
  for (int64_t a = 0; a < queries_; ++a) sd[a] = count_in_[a] ? std::sqrt(ss_in_[a] / count_in_[a]) : kNaN;
  return sd;
}

std::vector<double> BlockScorer::pooled_sd_out() const {
  std::vector<double> sd(queries_);
  for (int64_t a = 0; a < queries_; ++a) sd[a] = count_out_[a] ? std::sqrt(ss_out_[a] / count_out_[a]) : kNaN;
  return sd;
}

void BlockScorer::score(const SignalBlock& b) {
  const int64_t A = queries_;
  const auto sd_in_fixed = pooled_sd_in();
  const auto sd_out_fixed = pooled_sd_out();
  for (auto id : attacks_) {
    if (id == AttackId::kLoss ? !b.loss : !b.logit_confidence)
      throw ScoreError("score: block lacks the signal an attack needs");
  }
  int64_t min_in = min_in_, min_out = min_out_;
#pragma omp parallel reduction(min : min_in, min_out)
  {
    std::vector<double> in, out;
    std::vector<uint8_t> keep_col(references_.size());
    std::vector<Fit> fits(A);
#pragma omp for schedule(static)
    for (int64_t j = 0; j < b.count; ++j) {
      const int64_t n = b.n0 + j;
      if (b.logit_confidence) {
        for (size_t k = 0; k < references_.size(); ++k) keep_col[k] = keep_[references_[k] * candidates_ + n];
        for (int64_t a = 0; a < A; ++a) fits[a] = fit(b.logit_confidence, b.count, A, j, a, keep_col, references_, in, out);
        min_in = std::min(min_in, fits[0].n_in);
        min_out = std::min(min_out, fits[0].n_out);
      }
      for (size_t ai = 0; ai < attacks_.size(); ++ai) {
        for (size_t ti = 0; ti < targets_.size(); ++ti) {
          const int64_t t = targets_[ti];
          double total = 0;
          for (int64_t a = 0; a < A; ++a) {
            const size_t at = static_cast<size_t>((t * b.count + j) * A + a);
            const Fit& f = fits[a];
            switch (attacks_[ai]) {
              case AttackId::kLiraOnline: {
                const double s = b.logit_confidence[at];
                total += (f.n_in && f.n_out) ? log_normal_pdf(s, f.mean_in, f.sd_in + kSdEpsilon) -
                                                   log_normal_pdf(s, f.mean_out, f.sd_out + kSdEpsilon)
                                             : kNaN;
                break;
              }
              case AttackId::kLiraOffline: {
                const double s = b.logit_confidence[at];
                total += f.n_out ? log_normal_cdf((s - f.mean_out) / (f.sd_out + kSdEpsilon)) : kNaN;
                break;
              }
              case AttackId::kLiraOnlineFixedVariance: {
                const double s = b.logit_confidence[at];
                total += (f.n_in && f.n_out) ? log_normal_pdf(s, f.mean_in, sd_in_fixed[a] + kSdEpsilon) -
                                                   log_normal_pdf(s, f.mean_out, sd_out_fixed[a] + kSdEpsilon)
                                             : kNaN;
                break;
              }
              case AttackId::kLiraOfflineFixedVariance: {
                const double s = b.logit_confidence[at];
                total += f.n_out ? log_normal_cdf((s - f.mean_out) / (sd_out_fixed[a] + kSdEpsilon)) : kNaN;
                break;
              }
              case AttackId::kLoss:
                total += -static_cast<double>(b.loss[at]);
                break;
            }
          }
          scores_[ai][ti][n] = total / static_cast<double>(A);
        }
      }
    }
  }
  min_in_ = min_in;
  min_out_ = min_out;
}

}  // namespace lira
