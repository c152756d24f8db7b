// RMIA, offline form (Zarifzadeh et al. 2024, lira-method.md section 4):
//   p(x | theta) = the model's probability of the true class, mean over queries
//                  (exp(-loss), from /signals/loss);
//   P(x)         = (1 + a)/2 * mean over OUT references of p(x | theta_ref) + (1 - a)/2;
//   LR(x, z)     = [p(x | theta)/P(x)] / [p(z | theta)/P(z)];
//   score(x)     = share of population samples z with LR(x, z) >= gamma.
// Population: the target's non-members among the candidates (a seeded random subset of
// --rmia-population of them, or all). Since LR(x, z) >= gamma iff ratio(z) <= ratio(x) /
// gamma, each target sorts its population's ratios once and scores every x by binary
// search: O((N + |Z|) log |Z|) per target instead of O(N |Z|).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "attacks.hpp"
#include "common/rng.hpp"

namespace lira {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class RmiaGroup final : public AttackGroup {
 public:
  explicit RmiaGroup(const ScoreSetup& setup)
      : s_(setup), ratio_(setup.targets.size(), std::vector<double>(static_cast<size_t>(setup.candidates), kNaN)) {}
  std::vector<AttackId> ids() const override { return {AttackId::kRmia}; }
  std::vector<std::string> signals() const override { return {"loss"}; }

  void score(const SignalBlock& b, const std::vector<ScoreMatrix*>&) override {
    const float* loss = b.get("loss");
    const int64_t A = s_.queries, T = static_cast<int64_t>(s_.targets.size());
    const double a = s_.rmia.a;
    auto prob = [&](int64_t m, int64_t j) {
      double p = 0;
      for (int64_t q = 0; q < A; ++q) p += std::exp(-static_cast<double>(loss[(m * b.count + j) * A + q]));
      return p / static_cast<double>(A);
    };
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < b.count; ++j) {
      const int64_t n = b.n0 + j;
      // OUT references' mean probability; the target is left out of its own (leave-one-out).
      double sum = 0;
      int64_t count = 0;
      for (int64_t r : s_.base)
        if (!b.in(r, j)) sum += prob(r, j), ++count;
      for (int64_t ti = 0; ti < T; ++ti) {
        const int64_t t = s_.targets[ti];
        double out_sum = sum;
        int64_t out_count = count;
        if (s_.leave_one_out && !b.in(t, j)) out_sum -= prob(t, j), --out_count;
        const double px = out_count ? (1 + a) / 2 * out_sum / static_cast<double>(out_count) + (1 - a) / 2 : kNaN;
        ratio_[ti][n] = prob(t, j) / px;
      }
    }
  }

  void finish(const std::vector<ScoreMatrix*>& out) override {
    const int64_t N = s_.candidates;
    for (size_t ti = 0; ti < s_.targets.size(); ++ti) {
      const int64_t t = s_.targets[ti];
      std::vector<int64_t> population;
      for (int64_t n = 0; n < N; ++n)
        if (!s_.target_keep[ti][n] && !std::isnan(ratio_[ti][n])) population.push_back(n);
      if (s_.rmia.population > 0 && static_cast<int64_t>(population.size()) > s_.rmia.population) {
        Xoshiro256 rng(derive_seed(s_.seed, 3, static_cast<uint64_t>(t)));
        for (int64_t i = 0; i < s_.rmia.population; ++i) {  // partial Fisher-Yates
          const auto k = i + static_cast<int64_t>(rng.below(population.size() - i));
          std::swap(population[i], population[k]);
        }
        population.resize(static_cast<size_t>(s_.rmia.population));
      }
      population_size_ = static_cast<int64_t>(population.size());
      std::vector<double> z(population.size());
      for (size_t i = 0; i < population.size(); ++i) z[i] = ratio_[ti][population[i]];
      std::sort(z.begin(), z.end());
      const double gamma = s_.rmia.gamma;
#pragma omp parallel for schedule(static)
      for (int64_t n = 0; n < N; ++n) {
        const double r = ratio_[ti][n];
        if (std::isnan(r) || z.empty()) continue;
        // #{z : r / ratio(z) >= gamma} = #{z : ratio(z) <= r / gamma}
        const auto k = std::upper_bound(z.begin(), z.end(), r / gamma) - z.begin();
        out[0]->at(static_cast<int64_t>(ti), n) = static_cast<double>(k) / static_cast<double>(z.size());
      }
    }
  }

  std::vector<std::string> notes() const override {
    return {"rmia: a = " + std::to_string(s_.rmia.a) + ", gamma = " + std::to_string(s_.rmia.gamma) + ", " +
            std::to_string(population_size_) + " population samples (the target's non-members)"};
  }

 private:
  const ScoreSetup& s_;
  std::vector<std::vector<double>> ratio_;
  int64_t population_size_ = 0;
};

}  // namespace

std::unique_ptr<AttackGroup> make_rmia_group(const ScoreSetup& setup) { return std::make_unique<RmiaGroup>(setup); }

}  // namespace lira
