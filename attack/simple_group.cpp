// Attacks that need no model of the reference signals beyond a mean: the global
// threshold on the target's logit-scaled confidence, the LOSS threshold, and the
// calibrated "reference" attack (the OUT references' mean loss minus the target's loss).
// Each averages its per-query scores over the queries.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attacks.hpp"

namespace lira {
namespace {

class SimpleGroup final : public AttackGroup {
 public:
  SimpleGroup(std::vector<AttackId> ids, const ScoreSetup& setup) : ids_(std::move(ids)), s_(setup) {}
  std::vector<AttackId> ids() const override { return ids_; }
  std::vector<std::string> signals() const override {
    std::vector<std::string> sig;
    for (auto id : ids_) {
      const std::string name = id == AttackId::kGlobalThreshold ? "logit_confidence" : "loss";
      if (std::find(sig.begin(), sig.end(), name) == sig.end()) sig.push_back(name);
    }
    return sig;
  }

  void score(const SignalBlock& b, const std::vector<ScoreMatrix*>& out) override {
    const int64_t A = s_.queries, T = static_cast<int64_t>(s_.targets.size());
    const auto sig = signals();
    const float* conf = std::find(sig.begin(), sig.end(), "logit_confidence") != sig.end() ? b.get("logit_confidence") : nullptr;
    const float* loss = std::find(sig.begin(), sig.end(), "loss") != sig.end() ? b.get("loss") : nullptr;
    auto at = [&](const float* x, int64_t m, int64_t j, int64_t a) { return static_cast<double>(x[(m * b.count + j) * A + a]); };
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < b.count; ++j) {
      const int64_t n = b.n0 + j;
      for (int64_t ti = 0; ti < T; ++ti) {
        const int64_t t = s_.targets[ti];
        for (size_t v = 0; v < ids_.size(); ++v) {
          double total = 0;
          for (int64_t a = 0; a < A; ++a) {
            switch (ids_[v]) {
              case AttackId::kGlobalThreshold:
                total += at(conf, t, j, a);
                break;
              case AttackId::kLoss:
                total -= at(loss, t, j, a);
                break;
              case AttackId::kReference: {
                double sum = 0;
                int64_t count = 0;
                for (int64_t r : s_.base) {
                  if (r == t || b.in(r, j)) continue;
                  sum += at(loss, r, j, a);
                  ++count;
                }
                total += count ? sum / static_cast<double>(count) - at(loss, t, j, a)
                               : std::numeric_limits<double>::quiet_NaN();
                break;
              }
              default:
                break;
            }
          }
          out[v]->at(ti, n) = total / static_cast<double>(A);
        }
      }
    }
  }

 private:
  std::vector<AttackId> ids_;
  const ScoreSetup& s_;
};

}  // namespace

std::unique_ptr<AttackGroup> make_simple_group(const std::vector<AttackId>& ids, const ScoreSetup& setup) {
  return std::make_unique<SimpleGroup>(ids, setup);
}

}  // namespace lira
