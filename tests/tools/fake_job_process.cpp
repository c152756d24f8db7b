// A job process for tests/worker/test_child_runner.cpp: the real job-process loop
// (worker/job_process.hpp) around a fake runner, so that the rank's side (ChildRunner)
// is tested without libtorch or the lira executable.
//   - init.config_yaml "refuse": set-up fails with a DataError; "slow N": set-up takes N s;
//   - a job's signal "x" = {seed, number of IN candidates};
//   - in a gang, train_accuracy = the gang's sum of 1.5 (through the rank), and
//     test_accuracy = the leader's broadcast of 0.25;
//   - seed 999 throws (a job failure, not a crash); seed 777 sleeps 30 s without progress;
//   - LIRA_TEST_CRASH plants crashes, as in lira.
#include <chrono>
#include <string>
#include <thread>

#include "common/errors.hpp"
#include "worker/job_process.hpp"

namespace {

class FakeRunner final : public lira::JobRunner {
 public:
  FakeRunner(lira::GangComm* gang, std::function<void()> progress) : gang_(gang), progress_(std::move(progress)) {}
  lira::ModelResult run(const lira::JobAssignment& job) override {
    progress_();
    if (job.seed == 999) throw lira::TrainError("fake failure of model " + std::to_string(job.model));
    if (job.seed == 777) std::this_thread::sleep_for(std::chrono::seconds(30));
    lira::ModelResult r;
    float in = 0;
    for (auto k : job.keep_row) in += static_cast<float>(k);
    r.signals.push_back({"x", {2}, {static_cast<float>(job.seed), in}});
    if (gang_) {
      double v = 1.5;
      gang_->allreduce_sum(&v, 1, "fake all-reduce");
      r.train_accuracy = v;
      double b = gang_->rank() == 0 ? 0.25 : -1.0;
      gang_->broadcast(&b, sizeof b, "fake broadcast");
      r.test_accuracy = b;
    }
    return r;
  }

 private:
  lira::GangComm* gang_;
  std::function<void()> progress_;
};

}  // namespace

int main() {
  return lira::run_job_process(
      3, [](const lira::child::ChildInit& init, lira::GangComm* gang, std::function<void()> progress) {
        if (init.config_yaml == "refuse") throw lira::DataError("fake job process: refusing to start");
        if (init.config_yaml.rfind("slow ", 0) == 0)
          std::this_thread::sleep_for(std::chrono::seconds(std::stoi(init.config_yaml.substr(5))));
        return std::unique_ptr<lira::JobRunner>(new FakeRunner(gang, std::move(progress)));
      });
}
