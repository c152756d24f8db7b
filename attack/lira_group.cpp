// The four LiRA attacks, computed together from one set of per-example fits, in both
// flavors (docs/scoring.md):
//
// paper: mean and ddof-0 sd of the IN (OUT) reference signals; fixed variance pools every
//   reference signal's squared deviation from its own candidate's mean, per query and side;
//   online = log N(s; in) - log N(s; out); offline = log Pr[Z < s], Z ~ N(out).
// official-code: tensorflow/privacy mi_lira_2021 plot.py -- IN/OUT sets truncated to the
//   smallest count (first models in order), median centering, two-sided offline
//   -log N(s; out), fixed variance = one std over all truncated signals (not centered per
//   example), and online fixed variance uses std(dat_in) for both sides.
//
// BaVarIA (Brannvall et al. 2026), paper flavor only: per query, a normal-inverse-gamma
// prior from the global IN (OUT) statistics -- mu0 = the mean of every IN (OUT) reference
// signal of every candidate, beta0 = their variance * (alpha0 - 1) (alpha0 = 1: their
// variance, as the authors' code), kappa0 = 1 -- updated
// with the candidate's n reference signals (mean xbar, sum of squares SS):
//   kappa_n = 1 + n, alpha_n = alpha0 + n/2,
//   beta_n = beta0 + SS/2 + n (xbar - mu0)^2 / (2 kappa_n).
// BaVarIA-n (alpha0 = 1): v = beta_n / (alpha_n - 1), score = log N(s; xbar_in, v_in) -
//   log N(s; xbar_out, v_out). BaVarIA-t (alpha0 = 2): Student-t predictives with nu =
//   2 alpha_n, location (mu0 + n xbar) / kappa_n, scale^2 = beta_n (kappa_n + 1) / (alpha_n
//   kappa_n); score = log t_in(s) - log t_out(s). Offline: the IN side is the prior (n = 0;
//   BaVarIA-n: the global IN variance).
//
// Per-example variances (lira-online, lira-offline) need at least 2 signals on a side;
// with fewer the candidate has no score (NaN, counted) instead of a degenerate sd of 0.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "attacks.hpp"
#include "candidate_loop.hpp"
#include "common/errors.hpp"
#include "gaussian.hpp"

namespace lira {
namespace {

constexpr double kSdEpsilon = 1e-30;  // added to every sd, as the reference code
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_fixed(AttackId id) {
  return id == AttackId::kLiraOnlineFixedVariance || id == AttackId::kLiraOfflineFixedVariance;
}
bool is_bavaria(AttackId id) {
  return id == AttackId::kBavariaNOnline || id == AttackId::kBavariaNOffline || id == AttackId::kBavariaTOnline ||
         id == AttackId::kBavariaTOffline;
}

// Normal-inverse-gamma prior of one side and query.
struct Prior {
  double mu0 = 0, var = 0;  // global mean and variance of that side's reference signals
};

double log_student_t(double x, double nu, double loc, double scale2) {
  const double d = x - loc;
  return std::lgamma((nu + 1) / 2) - std::lgamma(nu / 2) - 0.5 * std::log(nu * M_PI * scale2) -
         (nu + 1) / 2 * std::log1p(d * d / (nu * scale2));
}

// Sums of (x - pivot) and (x - pivot)^2 for one side (IN or OUT): mean and variance
// without the cancellation of raw sums, and with O(1) removal of one value.
struct Side {
  double s1 = 0, s2 = 0;
  int64_t n = 0;
  void add(double d) { s1 += d, s2 += d * d, ++n; }
  void remove(double d) { s1 -= d, s2 -= d * d, --n; }
  double mean(double pivot) const { return n ? pivot + s1 / static_cast<double>(n) : kNaN; }
  double ss() const { return n ? std::max(0.0, s2 - s1 * s1 / static_cast<double>(n)) : 0.0; }
  double sd() const { return n ? std::sqrt(ss() / static_cast<double>(n)) : kNaN; }
  // beta_n of the normal-inverse-gamma update (kappa0 = 1), given the mean around pivot.
  double beta_n(double pivot, double beta0, double mu0) const {
    const double nn = static_cast<double>(n);
    if (n == 0) return beta0;
    const double d = mean(pivot) - mu0;
    return beta0 + ss() / 2 + nn * d * d / (2 * (1 + nn));
  }
  // BaVarIA-n's variance (alpha0 = 1): beta_n / (alpha_n - 1) = beta_n / (n / 2); NaN for
  // n = 0. With alpha0 = 1, beta0 = var * (alpha0 - 1) would be 0; the authors' code uses
  // beta0 = var there, and so does lira.
  double bavaria_n_var(double pivot, const Prior& p) const {
    return n ? beta_n(pivot, p.var, p.mu0) / (static_cast<double>(n) / 2) : kNaN;
  }
  // BaVarIA-t's log predictive density at x (alpha0 = 2, beta0 = var).
  double bavaria_t_logpdf(double x, double pivot, const Prior& p) const {
    const double nn = static_cast<double>(n), kappa = 1 + nn, alpha = 2 + nn / 2;
    const double beta = beta_n(pivot, p.var, p.mu0);
    const double loc = (p.mu0 + (n ? nn * mean(pivot) : 0.0)) / kappa;
    return log_student_t(x, 2 * alpha, loc, beta * (kappa + 1) / (alpha * kappa) + kSdEpsilon);
  }
};

class LiraGroup final : public AttackGroup {
 public:
  LiraGroup(std::vector<AttackId> ids, const ScoreSetup& setup) : ids_(std::move(ids)), s_(setup) {
    for (auto id : ids_) fixed_ = fixed_ || is_fixed(id), bavaria_ = bavaria_ || is_bavaria(id);
    const int64_t A = s_.queries;
    ss_in_.assign(A, 0.0), ss_out_.assign(A, 0.0), c_in_.assign(A, 0), c_out_.assign(A, 0);
    g_in_.assign(A, RunningMoments{}), g_out_.assign(A, RunningMoments{});
    // BaVarIA has no official-code flavor (plot.py has no such attack): the scorer skips
    // it there, and score_official leaves its scores NaN.
    if (s_.flavor == Flavor::kOfficialCode) {
      if (s_.leave_one_out)
        throw ScoreError("--flavor official-code reproduces plot.py, which has no leave-one-out: use --targets");
      // plot.py truncates every candidate's IN (OUT) list to the smallest count.
      in_size_ = s_.official_in_size;
      out_size_ = s_.official_out_size;
      if (out_size_ == 0 || (in_size_ == 0 && needs_in()))
        throw ScoreError("--flavor official-code: some candidate has no " + std::string(out_size_ == 0 ? "OUT" : "IN") +
                         " reference model; plot.py would fail too (train more models or use fewer --targets)");
    }
  }

  std::vector<AttackId> ids() const override { return ids_; }
  std::vector<std::string> signals() const override { return {"logit_confidence"}; }
  bool needs_first_pass() const override { return fixed_ || bavaria_; }

  // Pass 1. Per-thread partial sums are merged in thread order, not as threads finish,
  // so the pooled variances -- and every score -- are the same on every rerun.
  void observe(const SignalBlock& b) override {
    const float* conf = b.get("logit_confidence");
    const int64_t A = s_.queries;
    const bool official = s_.flavor == Flavor::kOfficialCode;
    struct Partial {
      std::vector<double> ss_in, ss_out;
      std::vector<int64_t> c_in, c_out;
      RunningMoments in, out;
      std::vector<RunningMoments> g_in, g_out;  // per query: BaVarIA's global prior
    };
    std::vector<Partial> partials(static_cast<size_t>(omp_get_max_threads()));
#pragma omp parallel
    {
      Partial& p = partials[static_cast<size_t>(omp_get_thread_num())];
      p.ss_in.assign(A, 0.0), p.ss_out.assign(A, 0.0), p.c_in.assign(A, 0), p.c_out.assign(A, 0);
      p.g_in.assign(A, RunningMoments{}), p.g_out.assign(A, RunningMoments{});
      std::vector<uint8_t> keep(s_.base.size());
      std::vector<int64_t> in_models, out_models;
      std::vector<double> in, out;
      std::vector<float> tile;
      for_each_candidate(conf, s_.models, b.count, A, tile, [&](int64_t j, const float* row) {
        if (s_.in_population(b.n0 + j)) return;  // no model trained on it: not a candidate to fit
        load_keep(b, j, keep);
        if (official) truncated_models(keep, in_models, out_models);
        for (int64_t a = 0; a < A; ++a) {
          if (official) {
            gather(row, a, in_models, in);
            gather(row, a, out_models, out);
            for (double v : in) p.in.add(v);
            for (double v : out) p.out.add(v);
          } else {
            Side sin, sout;
            const double pivot = paper_sums(row, a, keep, sin, sout);
            p.ss_in[a] += sin.ss(), p.ss_out[a] += sout.ss(), p.c_in[a] += sin.n, p.c_out[a] += sout.n;
            if (bavaria_) {  // the same sums, merged as (count, mean, sum of squares)
              p.g_in[a].merge(RunningMoments{sin.n, sin.mean(pivot), sin.ss()});
              p.g_out[a].merge(RunningMoments{sout.n, sout.mean(pivot), sout.ss()});
            }
          }
        }
      });
    }
    for (const auto& p : partials) {
      if (p.ss_in.empty()) continue;  // a thread the runtime did not start
      for (int64_t a = 0; a < A; ++a)
        ss_in_[a] += p.ss_in[a], ss_out_[a] += p.ss_out[a], c_in_[a] += p.c_in[a], c_out_[a] += p.c_out[a];
      global_in_.merge(p.in);
      global_out_.merge(p.out);
      for (int64_t a = 0; a < A; ++a) g_in_[a].merge(p.g_in[a]), g_out_[a].merge(p.g_out[a]);
    }
  }

  void score(const SignalBlock& b, const std::vector<ScoreMatrix*>& out) override {
    if (s_.flavor == Flavor::kOfficialCode) {
      score_official(b, out);
    } else {
      score_paper(b, out);
    }
  }

  std::vector<std::string> notes() const override {
    std::vector<std::string> notes;
    if (s_.flavor == Flavor::kOfficialCode)
      notes.push_back("official-code flavor: IN/OUT sets truncated to " + std::to_string(in_size_) + "/" +
                      std::to_string(out_size_) + " reference models per candidate, as plot.py");
    return notes;
  }

 private:
  bool needs_in() const {
    for (auto id : ids_)
      if (id == AttackId::kLiraOnline || id == AttackId::kLiraOnlineFixedVariance) return true;
    return false;
  }

  void load_keep(const SignalBlock& b, int64_t j, std::vector<uint8_t>& keep) const {
    for (size_t k = 0; k < s_.base.size(); ++k) keep[k] = b.in(s_.base[k], j);
  }

  // A signal of candidate `row` (a tile row: [M, A]) for one model and query.
  double value(const float* row, int64_t model, int64_t a) const { return row[model * s_.queries + a]; }

  // Paper flavor: IN/OUT sums over the base references, around the first one's value.
  double paper_sums(const float* row, int64_t a, const std::vector<uint8_t>& keep, Side& in, Side& out) const {
    if (s_.base.empty()) return kNaN;
    const double pivot = value(row, s_.base[0], a);
    for (size_t k = 0; k < s_.base.size(); ++k) {
      const double d = value(row, s_.base[k], a) - pivot;
      (keep[k] ? in : out).add(d);
    }
    return pivot;
  }

  // Official flavor: the first in_size IN and out_size OUT references, in model order, as
  // model indices (the same for every query of a candidate).
  // Branch-free on the random keep pattern: each model is written to both lists, and only
  // the list it belongs to advances.
  void truncated_models(const std::vector<uint8_t>& keep, std::vector<int64_t>& in, std::vector<int64_t>& out) const {
    const size_t refs = s_.base.size();
    in.resize(refs + 1), out.resize(refs + 1);
    size_t ni = 0, no = 0;
    for (size_t k = 0; k < refs; ++k) {
      const int64_t r = s_.base[k];
      const bool is_in = keep[k] != 0;
      in[ni] = r, out[no] = r;
      ni += is_in & (static_cast<int64_t>(ni) < in_size_);
      no += !is_in & (static_cast<int64_t>(no) < out_size_);
    }
    in.resize(ni), out.resize(no);
  }
  void gather(const float* row, int64_t a, const std::vector<int64_t>& models, std::vector<double>& values) const {
    values.resize(models.size());
    for (size_t k = 0; k < models.size(); ++k) values[k] = value(row, models[k], a);
  }

  void score_paper(const SignalBlock& b, const std::vector<ScoreMatrix*>& out) {
    const float* conf = b.get("logit_confidence");
    const int64_t A = s_.queries, T = static_cast<int64_t>(s_.targets.size());
    std::vector<double> sd_in_fixed(A), sd_out_fixed(A);
    std::vector<Prior> prior_in(A), prior_out(A);
    for (int64_t a = 0; a < A; ++a) {
      sd_in_fixed[a] = c_in_[a] ? std::sqrt(ss_in_[a] / static_cast<double>(c_in_[a])) : kNaN;
      sd_out_fixed[a] = c_out_[a] ? std::sqrt(ss_out_[a] / static_cast<double>(c_out_[a])) : kNaN;
      const double vi = g_in_[a].sd(), vo = g_out_[a].sd();
      prior_in[a] = {g_in_[a].count ? g_in_[a].mean : kNaN, vi * vi};
      prior_out[a] = {g_out_[a].count ? g_out_[a].mean : kNaN, vo * vo};
    }
#pragma omp parallel
    {
      std::vector<uint8_t> keep(s_.base.size());
      std::vector<double> total(ids_.size() * T);
      std::vector<float> tile;
      for_each_candidate(conf, s_.models, b.count, A, tile, [&](int64_t j, const float* row) {
        if (s_.in_population(b.n0 + j)) return;  // not evaluated: its scores stay NaN
        load_keep(b, j, keep);
        std::fill(total.begin(), total.end(), 0.0);
        for (int64_t a = 0; a < A; ++a) {
          Side base_in, base_out;
          const double pivot = paper_sums(row, a, keep, base_in, base_out);
          for (int64_t ti = 0; ti < T; ++ti) {
            const int64_t t = s_.targets[ti];
            const double s = value(row, t, a);
            Side in = base_in, out_side = base_out;
            if (s_.leave_one_out) (b.in(t, j) ? in : out_side).remove(s - pivot);
            const double mu_in = in.mean(pivot), mu_out = out_side.mean(pivot);
            // BaVarIA's posterior variances scale with 1/n, so a side with one more signal
            // looks tighter; under a balanced keep matrix the target's own membership decides
            // which side that is (M/2 - 1 IN references for its members, M/2 for the rest),
            // which would score membership by reference counts. BaVarIA therefore fits equal
            // counts: the larger side drops its first extra references in model order.
            Side bin = in, bout = out_side;
            if (bavaria_ && bin.n != bout.n) {
              const bool drop_in = bin.n > bout.n;
              int64_t extra = drop_in ? bin.n - bout.n : bout.n - bin.n;
              for (size_t k = 0; k < s_.base.size() && extra > 0; ++k) {
                if (s_.base[k] == t || (keep[k] != 0) != drop_in) continue;
                (drop_in ? bin : bout).remove(value(row, s_.base[k], a) - pivot);
                --extra;
              }
            }
            for (size_t v = 0; v < ids_.size(); ++v) {
              double x = kNaN;
              switch (ids_[v]) {
                case AttackId::kLiraOnline:
                  if (in.n >= 2 && out_side.n >= 2)
                    x = log_normal_pdf(s, mu_in, in.sd() + kSdEpsilon) -
                        log_normal_pdf(s, mu_out, out_side.sd() + kSdEpsilon);
                  break;
                case AttackId::kLiraOffline:
                  if (out_side.n >= 2) x = log_normal_cdf((s - mu_out) / (out_side.sd() + kSdEpsilon));
                  break;
                case AttackId::kBavariaNOnline:
                  if (bin.n && bout.n)
                    x = log_normal_pdf(s, bin.mean(pivot), std::sqrt(bin.bavaria_n_var(pivot, prior_in[a])) + kSdEpsilon) -
                        log_normal_pdf(s, bout.mean(pivot),
                                       std::sqrt(bout.bavaria_n_var(pivot, prior_out[a])) + kSdEpsilon);
                  break;
                case AttackId::kBavariaNOffline:
                  if (bout.n)
                    x = log_normal_pdf(s, prior_in[a].mu0, std::sqrt(prior_in[a].var) + kSdEpsilon) -
                        log_normal_pdf(s, bout.mean(pivot),
                                       std::sqrt(bout.bavaria_n_var(pivot, prior_out[a])) + kSdEpsilon);
                  break;
                case AttackId::kBavariaTOnline:
                  if (bin.n && bout.n)
                    x = bin.bavaria_t_logpdf(s, pivot, prior_in[a]) - bout.bavaria_t_logpdf(s, pivot, prior_out[a]);
                  break;
                case AttackId::kBavariaTOffline:
                  if (bout.n)
                    x = Side{}.bavaria_t_logpdf(s, pivot, prior_in[a]) -
                        bout.bavaria_t_logpdf(s, pivot, prior_out[a]);
                  break;
                case AttackId::kLiraOnlineFixedVariance:
                  if (in.n && out_side.n)
                    x = log_normal_pdf(s, mu_in, sd_in_fixed[a] + kSdEpsilon) -
                        log_normal_pdf(s, mu_out, sd_out_fixed[a] + kSdEpsilon);
                  break;
                case AttackId::kLiraOfflineFixedVariance:
                  if (out_side.n) x = log_normal_cdf((s - mu_out) / (sd_out_fixed[a] + kSdEpsilon));
                  break;
                default:
                  break;
              }
              total[v * T + ti] += x;
            }
          }
        }
        store(out, total, b.n0 + j);
      });
    }
  }

  void score_official(const SignalBlock& b, const std::vector<ScoreMatrix*>& out) {
    const float* conf = b.get("logit_confidence");
    const int64_t A = s_.queries, T = static_cast<int64_t>(s_.targets.size());
    const double std_in_global = global_in_.sd(), std_out_global = global_out_.sd();
#pragma omp parallel
    {
      std::vector<uint8_t> keep(s_.base.size());
      std::vector<int64_t> in_models, out_models;
      std::vector<double> in, out_values, total(ids_.size() * T);
      std::vector<float> tile;
      for_each_candidate(conf, s_.models, b.count, A, tile, [&](int64_t j, const float* row) {
        if (s_.in_population(b.n0 + j)) return;
        load_keep(b, j, keep);
        truncated_models(keep, in_models, out_models);
        std::fill(total.begin(), total.end(), 0.0);
        for (int64_t a = 0; a < A; ++a) {
          gather(row, a, in_models, in);
          gather(row, a, out_models, out_values);
          const double sd_in = moments(in).sd, sd_out = moments(out_values).sd;
          const double med_in = median(in), med_out = median(out_values);
          for (int64_t ti = 0; ti < T; ++ti) {
            const double s = value(row, s_.targets[ti], a);
            for (size_t v = 0; v < ids_.size(); ++v) {
              double x = kNaN;
              switch (ids_[v]) {
                case AttackId::kLiraOnline:
                  x = log_normal_pdf(s, med_in, sd_in + kSdEpsilon) - log_normal_pdf(s, med_out, sd_out + kSdEpsilon);
                  break;
                case AttackId::kLiraOnlineFixedVariance:  // plot.py: std_out = np.std(dat_in)
                  x = log_normal_pdf(s, med_in, std_in_global + kSdEpsilon) -
                      log_normal_pdf(s, med_out, std_in_global + kSdEpsilon);
                  break;
                case AttackId::kLiraOffline:
                  x = -log_normal_pdf(s, med_out, sd_out + kSdEpsilon);
                  break;
                case AttackId::kLiraOfflineFixedVariance:
                  x = -log_normal_pdf(s, med_out, std_out_global + kSdEpsilon);
                  break;
                default:
                  break;
              }
              total[v * T + ti] += x;
            }
          }
        }
        store(out, total, b.n0 + j);
      });
    }
  }

  // Each attack's mean over the queries for candidate n, per target.
  void store(const std::vector<ScoreMatrix*>& out, const std::vector<double>& total, int64_t n) const {
    const int64_t T = static_cast<int64_t>(s_.targets.size());
    for (size_t v = 0; v < ids_.size(); ++v)
      for (int64_t ti = 0; ti < T; ++ti) out[v]->at(ti, n) = total[v * T + ti] / static_cast<double>(s_.queries);
  }

  std::vector<AttackId> ids_;
  const ScoreSetup& s_;
  bool fixed_ = false, bavaria_ = false;
  std::vector<RunningMoments> g_in_, g_out_;  // per query: BaVarIA's global IN / OUT statistics
  std::vector<double> ss_in_, ss_out_;
  std::vector<int64_t> c_in_, c_out_;
  RunningMoments global_in_, global_out_;
  int64_t in_size_ = 0, out_size_ = 0;
};

}  // namespace

std::unique_ptr<AttackGroup> make_lira_group(const std::vector<AttackId>& ids, const ScoreSetup& setup) {
  return std::make_unique<LiraGroup>(ids, setup);
}

}  // namespace lira
