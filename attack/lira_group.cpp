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
};

class LiraGroup final : public AttackGroup {
 public:
  LiraGroup(std::vector<AttackId> ids, const ScoreSetup& setup) : ids_(std::move(ids)), s_(setup) {
    for (auto id : ids_) fixed_ = fixed_ || is_fixed(id);
    const int64_t A = s_.queries;
    ss_in_.assign(A, 0.0), ss_out_.assign(A, 0.0), c_in_.assign(A, 0), c_out_.assign(A, 0);
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
  bool needs_first_pass() const override { return fixed_; }

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
    };
    std::vector<Partial> partials(static_cast<size_t>(omp_get_max_threads()));
#pragma omp parallel
    {
      Partial& p = partials[static_cast<size_t>(omp_get_thread_num())];
      p.ss_in.assign(A, 0.0), p.ss_out.assign(A, 0.0), p.c_in.assign(A, 0), p.c_out.assign(A, 0);
      std::vector<uint8_t> keep(s_.base.size());
      std::vector<int64_t> in_models, out_models;
      std::vector<double> in, out;
      std::vector<float> tile;
      for_each_candidate(conf, s_.models, b.count, A, tile, [&](int64_t j, const float* row) {
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
            paper_sums(row, a, keep, sin, sout);
            p.ss_in[a] += sin.ss(), p.ss_out[a] += sout.ss(), p.c_in[a] += sin.n, p.c_out[a] += sout.n;
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
    if (min_in_ < 2 || min_out_ < 2)
      notes.push_back("some candidates have only " + std::to_string(std::min(min_in_, min_out_)) +
                      " IN or OUT reference model(s): their per-example sd is 0 and per-example LiRA scores "
                      "degenerate; train more models, use fewer --targets, or read the fixed-variance rows");
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
    for (int64_t a = 0; a < A; ++a) {
      sd_in_fixed[a] = c_in_[a] ? std::sqrt(ss_in_[a] / static_cast<double>(c_in_[a])) : kNaN;
      sd_out_fixed[a] = c_out_[a] ? std::sqrt(ss_out_[a] / static_cast<double>(c_out_[a])) : kNaN;
    }
    int64_t min_in = min_in_, min_out = min_out_;
#pragma omp parallel reduction(min : min_in, min_out)
    {
      std::vector<uint8_t> keep(s_.base.size());
      std::vector<double> total(ids_.size() * T);
      std::vector<float> tile;
      for_each_candidate(conf, s_.models, b.count, A, tile, [&](int64_t j, const float* row) {
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
            if (a == 0) min_in = std::min(min_in, in.n), min_out = std::min(min_out, out_side.n);
            const double mu_in = in.mean(pivot), mu_out = out_side.mean(pivot);
            for (size_t v = 0; v < ids_.size(); ++v) {
              double x = kNaN;
              switch (ids_[v]) {
                case AttackId::kLiraOnline:
                  if (in.n && out_side.n)
                    x = log_normal_pdf(s, mu_in, in.sd() + kSdEpsilon) -
                        log_normal_pdf(s, mu_out, out_side.sd() + kSdEpsilon);
                  break;
                case AttackId::kLiraOffline:
                  if (out_side.n) x = log_normal_cdf((s - mu_out) / (out_side.sd() + kSdEpsilon));
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
    min_in_ = min_in, min_out_ = min_out;
  }

  void score_official(const SignalBlock& b, const std::vector<ScoreMatrix*>& out) {
    const float* conf = b.get("logit_confidence");
    const int64_t A = s_.queries, T = static_cast<int64_t>(s_.targets.size());
    const double std_in_global = global_in_.sd(), std_out_global = global_out_.sd();
    min_in_ = in_size_, min_out_ = out_size_;
#pragma omp parallel
    {
      std::vector<uint8_t> keep(s_.base.size());
      std::vector<int64_t> in_models, out_models;
      std::vector<double> in, out_values, total(ids_.size() * T);
      std::vector<float> tile;
      for_each_candidate(conf, s_.models, b.count, A, tile, [&](int64_t j, const float* row) {
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
  bool fixed_ = false;
  std::vector<double> ss_in_, ss_out_;
  std::vector<int64_t> c_in_, c_out_;
  RunningMoments global_in_, global_out_;
  int64_t in_size_ = 0, out_size_ = 0;
  int64_t min_in_ = INT64_MAX, min_out_ = INT64_MAX;
};

}  // namespace

std::unique_ptr<AttackGroup> make_lira_group(const std::vector<AttackId>& ids, const ScoreSetup& setup) {
  return std::make_unique<LiraGroup>(ids, setup);
}

}  // namespace lira
