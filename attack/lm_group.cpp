// The language-model attacks of MIMIR (Duan et al. 2024) on per-token signals:
//   zlib:      -loss / zlib_bytes of the record's text
//   min-k:     mean of the lowest k% of the record's token log-probabilities
//   min-k++:   mean of the lowest k% of z_t = (log p_t - mu_t) / sigma_t
// under the target model; higher = more likely a member. The token arrays are ragged
// (/offsets); each block brings the targets' rows for its records only.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attacks.hpp"
#include "lm_attacks.hpp"

namespace lira {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Mean of the lowest max(1, floor(k n)) finite values of v (MIMIR: int(len * k), at least 1).
double mean_lowest(std::vector<double>& v, double k) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return kNaN;
  const size_t m = std::max<size_t>(1, static_cast<size_t>(static_cast<double>(v.size()) * k));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m - 1), v.end());
  std::sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m));
  double sum = 0;
  for (size_t i = 0; i < m; ++i) sum += v[i];
  return sum / static_cast<double>(m);
}

}  // namespace

double min_k_score(std::span<const float> logprob, double k) {
  std::vector<double> v(logprob.begin(), logprob.end());
  return mean_lowest(v, k);
}

double min_k_plus_plus_score(std::span<const float> logprob, std::span<const float> mu, std::span<const float> sigma,
                             double k) {
  std::vector<double> z(logprob.size());
  for (size_t i = 0; i < logprob.size(); ++i)
    z[i] = sigma[i] > 0 ? (static_cast<double>(logprob[i]) - mu[i]) / sigma[i] : kNaN;
  return mean_lowest(z, k);
}

namespace {

class LmGroup final : public AttackGroup {
 public:
  LmGroup(std::vector<AttackId> ids, const ScoreSetup& setup) : ids_(std::move(ids)), s_(setup) {}
  std::vector<AttackId> ids() const override { return ids_; }
  std::vector<std::string> signals() const override {
    if (has(AttackId::kZlib)) return {"loss"};
    return {};
  }
  std::vector<std::string> token_signals() const override {
    if (has(AttackId::kMinKPlusPlus)) return {"token_logprob", "token_mu", "token_sigma"};
    if (has(AttackId::kMinK)) return {"token_logprob"};
    return {};
  }

  void score(const SignalBlock& b, const std::vector<ScoreMatrix*>& out) override {
    const int64_t T = static_cast<int64_t>(s_.targets.size()), A = s_.queries;
    const float* loss = has(AttackId::kZlib) ? b.get("loss") : nullptr;
    for (int64_t j = 0; j < b.count; ++j) {
      const int64_t n = b.n0 + j;
      const int64_t a0 = s_.offsets[n] - b.s0, len = s_.offsets[n + 1] - s_.offsets[n];
      for (int64_t ti = 0; ti < T; ++ti) {
        const int64_t t = s_.targets[ti];
        for (size_t v = 0; v < ids_.size(); ++v) {
          double score = kNaN;
          switch (ids_[v]) {
            case AttackId::kZlib: {
              double l = 0;
              for (int64_t a = 0; a < A; ++a) l += loss[(t * b.count + j) * A + a];
              const double z = n < static_cast<int64_t>(s_.zlib_bytes.size()) ? static_cast<double>(s_.zlib_bytes[n]) : 0.0;
              score = z > 0 ? -(l / static_cast<double>(A)) / z : kNaN;
              break;
            }
            case AttackId::kMinK:
              score = min_k_score({b.token_row("token_logprob", ti) + a0, static_cast<size_t>(len)}, s_.min_k);
              break;
            case AttackId::kMinKPlusPlus:
              score = min_k_plus_plus_score({b.token_row("token_logprob", ti) + a0, static_cast<size_t>(len)},
                                            {b.token_row("token_mu", ti) + a0, static_cast<size_t>(len)},
                                            {b.token_row("token_sigma", ti) + a0, static_cast<size_t>(len)}, s_.min_k);
              break;
            default:
              break;
          }
          out[v]->at(ti, n) = score;
        }
      }
    }
  }

 private:
  bool has(AttackId id) const { return std::find(ids_.begin(), ids_.end(), id) != ids_.end(); }

  std::vector<AttackId> ids_;
  const ScoreSetup& s_;
};

}  // namespace

std::unique_ptr<AttackGroup> make_lm_group(const std::vector<AttackId>& ids, const ScoreSetup& setup) {
  return std::make_unique<LmGroup>(ids, setup);
}

}  // namespace lira
