// Implements the synthetic JobRunner.
#include "synthetic_runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "common/errors.hpp"
#include "common/results_layout.hpp"
#include "common/rng.hpp"

namespace lira {
namespace {

class SyntheticRunner final : public JobRunner {
 public:
  SyntheticRunner(const Config& config, int worker_index, std::function<void()> progress)
      : config_(config), progress_(std::move(progress)) {
    const auto& m = config.model;
    // Worker w is slow when floor(w * f) steps up: an even spread of a fraction f.
    const bool slow = m.synthetic_slow_fraction > 0 &&
                      std::floor((worker_index + 1) * m.synthetic_slow_fraction) >
                          std::floor(worker_index * m.synthetic_slow_fraction);
    seconds_ = m.job_seconds * (slow ? m.synthetic_slowdown : 1.0);
    layout_ = results_layout(config, 10);
  }

  ModelResult run(const JobAssignment& job) override {
    // The "training": a sleep, in slices of at most a second with a progress beat after
    // each, so that a long synthetic job is not taken for a hung one.
    for (double left = seconds_; left > 0; left -= 1.0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(left, 1.0)));
      if (progress_) progress_();
    }
    // Failures are drawn per attempt; the signals depend on the model's seed alone, as a
    // trained model's do, so a retried or resumed model gives the same rows.
    Xoshiro256 failure(derive_seed(job.seed, 7, static_cast<uint64_t>(job.attempt)));
    if (failure.uniform() < config_.model.synthetic_failure_rate)
      throw TrainError("synthetic failure of model " + std::to_string(job.model) + " (attempt " +
                       std::to_string(job.attempt + 1) + ")");
    ModelResult r;
    r.model = job.model;
    r.attempt = job.attempt;
    r.train_accuracy = 1.0;
    r.test_accuracy = 0.5;
    r.train_seconds = seconds_;
    Xoshiro256 rng(derive_seed(job.seed, 8, 0));
    const int64_t n = layout_.candidates;
    for (const auto& spec : layout_.signals) {
      SignalArray s{spec.name, spec.shape, std::vector<float>(static_cast<size_t>(spec.elements()))};
      for (int64_t i = 0; i < n; ++i)
        for (int64_t q = 0; q < spec.elements() / n; ++q) {
          const double member = i < static_cast<int64_t>(job.keep_row.size()) && job.keep_row[i] ? 1.0 : 0.0;
          s.values[i * (spec.elements() / n) + q] = static_cast<float>(member + 2.0 * rng.uniform() - 1.0);
        }
      r.signals.push_back(std::move(s));
    }
    return r;
  }

 private:
  Config config_;
  std::function<void()> progress_;
  ResultsLayout layout_;
  double seconds_ = 0;
};

}  // namespace

std::unique_ptr<JobRunner> make_synthetic_runner(const Config& config, int worker_index,
                                                 std::function<void()> progress) {
  if (config.model.arch != "synthetic") throw Error("make_synthetic_runner: model.arch is " + config.model.arch);
  return std::make_unique<SyntheticRunner>(config, worker_index, std::move(progress));
}

}  // namespace lira
