// RMIA (Zarifzadeh et al. 2024), offline and online (docs/scoring.md):
//   p(x | theta) = the model's probability of the true class, mean over queries
//                  (exp(-loss), from /signals/loss);
//   offline P(x) = (1 + a)/2 * mean over OUT references of p(x | theta_ref) + (1 - a)/2;
//   online  P(x) = 20%-trimmed mean of p(x | theta_ref) over as many IN as OUT references;
//   LR(x, z)     = [p(x | theta)/P(x)] / [p(z | theta)/P(z)];
//   score(x)     = share of population samples z with LR(x, z) > gamma (strict).
// The population Z is the candidates no model trained on (data.population): every
// reference is OUT for z, so P(z) is the offline formula (online: the trimmed mean of the
// OUT references). Since LR(x, z) > gamma iff ratio(z) < ratio(x) / gamma, each target
// sorts its population's ratios once and scores every x by binary search.
//
// a (offline) is given, or tuned as ML Privacy Meter tunes it: a reference model that is
// not a target plays the target, the other non-target references are its references,
// and the a of the grid 0, 0.1, ..., 1 with the best AUC on its candidates is used.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "attacks.hpp"
#include "common/rng.hpp"
#include "metrics.hpp"

namespace lira {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kTrim = 0.2;  // online: scipy.stats.trim_mean's proportiontocut in PMr
constexpr double kDefaultA = 0.3;  // when a cannot be tuned: PMr's value for CIFAR-10
constexpr uint64_t kPopulationStream = 3;

// scipy.stats.trim_mean: drops floor(cut * n) values at each end (reorders v).
double trimmed_mean(std::vector<double>& v, double cut) {
  if (v.empty()) return kNaN;
  const size_t k = static_cast<size_t>(cut * static_cast<double>(v.size()));
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (size_t i = k; i < v.size() - k; ++i) sum += v[i];
  return sum / static_cast<double>(v.size() - 2 * k);
}

class RmiaGroup final : public AttackGroup {
 public:
  RmiaGroup(std::vector<AttackId> ids, const ScoreSetup& setup) : ids_(std::move(ids)), s_(setup) {
    const size_t T = s_.targets.size(), N = static_cast<size_t>(s_.candidates);
    p_.assign(T, std::vector<double>(N, kNaN));
    mean_out_ = p_;
    if (has(AttackId::kRmiaOnline)) online_ = p_;
    tune_ = std::isnan(s_.rmia.a) && has(AttackId::kRmia);
    if (tune_) {
      // As positions in base (the tuning model is one of base).
      auto is_target = [&](int64_t r) { return std::find(s_.targets.begin(), s_.targets.end(), r) != s_.targets.end(); };
      bool found = false;
      for (size_t k = 0; k < s_.base.size(); ++k) {
        if (s_.base[k] == s_.tuning_model) tuning_index_ = k, found = true;
        else if (!is_target(s_.base[k])) tune_refs_.push_back(k);
      }
      if (tune_refs_.empty() && s_.leave_one_out)  // every model is a target: the others are references
        for (size_t k = 0; k < s_.base.size(); ++k)
          if (s_.base[k] != s_.tuning_model) tune_refs_.push_back(k);
      if (!found || tune_refs_.empty()) {
        tune_ = false;
        a_note_ = "a = 0.3 (not tuned: the file has no reference model besides the targets to tune it on; give "
                  "--rmia-a)";
      } else {
        tune_p_.assign(N, kNaN), tune_mean_out_.assign(N, kNaN), tune_member_.assign(N, 0);
      }
    }
  }
  std::vector<AttackId> ids() const override { return ids_; }
  std::vector<std::string> signals() const override {
    if (s_.rmia.temperature != 1.0) return {"logits"};
    return {"loss"};
  }

  void score(const SignalBlock& b, const std::vector<ScoreMatrix*>&) override {
    const bool tempered = s_.rmia.temperature != 1.0;
    const float* loss = tempered ? nullptr : b.get("loss");
    const float* logits = tempered ? b.get("logits") : nullptr;
    const int64_t A = s_.queries, T = static_cast<int64_t>(s_.targets.size()), C = s_.classes;
    const double inv_t = 1.0 / s_.rmia.temperature;
    // p(x | theta): the true class's probability, mean over queries; at temperature T from
    // the logits (softmax(z / T)[y], around the row's max), else exp(-loss).
    auto prob = [&](int64_t m, int64_t j) {
      double p = 0;
      for (int64_t q = 0; q < A; ++q) {
        if (!tempered) {
          p += std::exp(-static_cast<double>(loss[(m * b.count + j) * A + q]));
          continue;
        }
        const float* z = logits + ((m * b.count + j) * A + q) * C;
        double top = z[0];
        for (int64_t c = 1; c < C; ++c) top = std::max(top, static_cast<double>(z[c]));
        double sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += std::exp((z[c] - top) * inv_t);
        const auto y = s_.labels[static_cast<size_t>(b.n0 + j)];
        if (y < 0 || y >= C) return std::numeric_limits<double>::quiet_NaN();
        p += std::exp((z[y] - top) * inv_t) / sum;
      }
      return p / static_cast<double>(A);
    };
    const bool online = has(AttackId::kRmiaOnline);
#pragma omp parallel
    {
      std::vector<double> pr(s_.base.size()), in_p, out_p, mix;
#pragma omp for schedule(static)
      for (int64_t j = 0; j < b.count; ++j) {
        const size_t n = static_cast<size_t>(b.n0 + j);
        // Every reference's p once per candidate; the OUT mean of each target by removing
        // its own value (leave-one-out) from the shared sum.
        double out_sum = 0;
        int64_t out_count = 0;
        for (size_t k = 0; k < s_.base.size(); ++k) {
          pr[k] = prob(s_.base[k], j);
          if (!b.in(s_.base[k], j)) out_sum += pr[k], ++out_count;
        }
        for (int64_t ti = 0; ti < T; ++ti) {
          const int64_t t = s_.targets[static_cast<size_t>(ti)];
          const double pt = prob(t, j);
          p_[ti][n] = pt;
          const bool own_out = s_.leave_one_out && !b.in(t, j);  // the target is one of base
          const int64_t count = out_count - (own_out ? 1 : 0);
          if (count > 0) mean_out_[ti][n] = (out_sum - (own_out ? pt : 0.0)) / static_cast<double>(count);
          if (!online) continue;
          in_p.clear(), out_p.clear();
          for (size_t k = 0; k < s_.base.size(); ++k)
            if (s_.base[k] != t) (b.in(s_.base[k], j) ? in_p : out_p).push_back(pr[k]);
          if (s_.in_population(b.n0 + j)) {
            online_[ti][n] = trimmed_mean(out_p, kTrim);
          } else if (!in_p.empty() && !out_p.empty()) {
            // As many IN as OUT references, the first in model order (PMr: num_ref/2 of each).
            const size_t k = std::min(in_p.size(), out_p.size());
            mix.assign(in_p.begin(), in_p.begin() + static_cast<std::ptrdiff_t>(k));
            mix.insert(mix.end(), out_p.begin(), out_p.begin() + static_cast<std::ptrdiff_t>(k));
            online_[ti][n] = trimmed_mean(mix, kTrim);
          }
        }
        if (tune_) {
          double sum = 0;
          int64_t count = 0;
          for (size_t k : tune_refs_)
            if (!b.in(s_.base[k], j)) sum += pr[k], ++count;
          tune_p_[n] = pr[tuning_index_];
          tune_member_[n] = b.in(s_.tuning_model, j) ? 1 : 0;
          if (count) tune_mean_out_[n] = sum / static_cast<double>(count);
        }
      }
    }
  }

  void finish(const std::vector<ScoreMatrix*>& out) override {
    choose_population();
    a_ = std::isnan(s_.rmia.a) ? kDefaultA : s_.rmia.a;
    if (tune_) tune_a();
    for (size_t v = 0; v < ids_.size(); ++v)
      for (size_t ti = 0; ti < s_.targets.size(); ++ti) {
        const bool on = ids_[v] == AttackId::kRmiaOnline;
        std::vector<double> ratio(static_cast<size_t>(s_.candidates));
        for (size_t n = 0; n < ratio.size(); ++n)
          ratio[n] = p_[ti][n] / (on ? online_[ti][n] : offline_p(mean_out_[ti][n], a_));
        scores_from_ratios(ratio, *out[v], static_cast<int64_t>(ti));
      }
  }

  std::vector<std::string> notes() const override {
    std::string a = a_note_.empty() ? "a = " + format(a_) : a_note_;
    return {"rmia: " + (has(AttackId::kRmia) ? a + ", " : std::string()) + "gamma = " + format(s_.rmia.gamma) +
            (s_.rmia.temperature != 1.0 ? ", temperature " + format(s_.rmia.temperature) : std::string()) +
            ", " + std::to_string(z_.size()) + " population samples (candidates no model trained on)"};
  }

 private:
  bool has(AttackId id) const { return std::find(ids_.begin(), ids_.end(), id) != ids_.end(); }
  static std::string format(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }
  static double offline_p(double mean_out, double a) { return (1 + a) / 2 * mean_out + (1 - a) / 2; }

  // Z: every population candidate, or a seeded random subset of --rmia-population of them
  // (the same for every target).
  void choose_population() {
    z_.clear();
    for (int64_t n = 0; n < s_.candidates; ++n)
      if (s_.in_population(n)) z_.push_back(n);
    if (s_.rmia.population > 0 && static_cast<int64_t>(z_.size()) > s_.rmia.population) {
      Xoshiro256 rng(derive_seed(s_.seed, kPopulationStream, 0));
      for (int64_t i = 0; i < s_.rmia.population; ++i) {  // partial Fisher-Yates
        const auto k = i + static_cast<int64_t>(rng.below(z_.size() - static_cast<size_t>(i)));
        std::swap(z_[static_cast<size_t>(i)], z_[static_cast<size_t>(k)]);
      }
      z_.resize(static_cast<size_t>(s_.rmia.population));
      std::sort(z_.begin(), z_.end());
    }
  }

  // Scores of every non-population x from its ratio p(x|theta)/P(x); NaN stays NaN.
  void scores_from_ratios(const std::vector<double>& ratio, ScoreMatrix& out, int64_t ti) const {
    std::vector<double> z;
    for (int64_t n : z_)
      if (std::isfinite(ratio[static_cast<size_t>(n)])) z.push_back(ratio[static_cast<size_t>(n)]);
    std::sort(z.begin(), z.end());
    const double gamma = s_.rmia.gamma;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < s_.candidates; ++n) {
      const double r = ratio[static_cast<size_t>(n)];
      if (!std::isfinite(r) || z.empty() || s_.in_population(n)) continue;
      // #{z : r / ratio(z) > gamma} = #{z : ratio(z) < r / gamma}
      const auto k = std::lower_bound(z.begin(), z.end(), r / gamma) - z.begin();
      out.at(ti, n) = static_cast<double>(k) / static_cast<double>(z.size());
    }
  }

  void tune_a() {
    double best_auc = -1;
    std::string grid;
    for (int i = 0; i <= 10; ++i) {
      const double a = i / 10.0;
      std::vector<double> ratio(tune_p_.size());
      for (size_t n = 0; n < ratio.size(); ++n) ratio[n] = tune_p_[n] / offline_p(tune_mean_out_[n], a);
      ScoreMatrix m(1, s_.candidates);
      scores_from_ratios(ratio, m, 0);
      std::vector<double> sc;
      std::vector<uint8_t> mem;
      for (int64_t n = 0; n < s_.candidates; ++n)
        if (!std::isnan(m.at(0, n))) sc.push_back(m.at(0, n)), mem.push_back(tune_member_[static_cast<size_t>(n)]);
      const int64_t members = std::count(mem.begin(), mem.end(), uint8_t{1});
      if (members == 0 || members == static_cast<int64_t>(mem.size())) continue;
      const double auc_a = auc(roc_curve(sc, mem));
      if (auc_a > best_auc) best_auc = auc_a, a_ = a;  // the first of equal AUCs: the smallest a
    }
    if (best_auc < 0) {
      a_note_ = "a = 0.3 (not tuned: the tuning model " + std::to_string(s_.tuning_model) +
                " has no scorable members and non-members)";
      return;
    }
    a_note_ = "a = " + format(a_) + " (tuned: model " + std::to_string(s_.tuning_model) + " as target against " +
              std::to_string(tune_refs_.size()) + " references, AUC " + format(best_auc) + ")";
  }

  std::vector<AttackId> ids_;
  const ScoreSetup& s_;
  std::vector<std::vector<double>> p_, mean_out_, online_;  // [T][N]
  bool tune_ = false;
  std::vector<size_t> tune_refs_;  // positions in base
  size_t tuning_index_ = 0;         // the tuning model's position in base
  std::vector<double> tune_p_, tune_mean_out_;
  std::vector<uint8_t> tune_member_;
  std::vector<int64_t> z_;
  double a_ = kDefaultA;
  std::string a_note_;
};

}  // namespace

std::unique_ptr<AttackGroup> make_rmia_group(const std::vector<AttackId>& ids, const ScoreSetup& setup) {
  return std::make_unique<RmiaGroup>(ids, setup);
}

}  // namespace lira
