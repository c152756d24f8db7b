// Tests of the dynamic scheduler, driven in-process with fake workers of uneven speeds.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/errors.hpp"
#include "orchestrator/in_process_transport.hpp"
#include "orchestrator/scheduler.hpp"
#include "worker/worker_loop.hpp"

using namespace lira;
using namespace std::chrono_literals;

namespace {

// A JobRunner that sleeps `delay` per job and fails the models in `fail_first` on
// their first attempt and the models in `fail_always` on every attempt.
class FakeRunner final : public JobRunner {
 public:
  FakeRunner(std::chrono::microseconds delay, std::set<int64_t> fail_first = {}, std::set<int64_t> fail_always = {})
      : delay_(delay), fail_first_(std::move(fail_first)), fail_always_(std::move(fail_always)) {}
  ModelResult run(const JobAssignment& job) override {
    std::this_thread::sleep_for(delay_);
    if (fail_always_.count(job.model) || (job.attempt == 0 && fail_first_.count(job.model)))
      throw TrainError("planned failure of model " + std::to_string(job.model));
    int64_t in = 0;
    for (auto k : job.keep_row) in += k;
    ModelResult r;
    r.train_accuracy = static_cast<double>(in);  // echo the keep row back for checking
    return r;
  }

 private:
  std::chrono::microseconds delay_;
  std::set<int64_t> fail_first_, fail_always_;
};

class RecordingObserver final : public SchedulerObserver {
 public:
  void on_result(int worker, const ModelResult& r) override {
    std::lock_guard lock(mutex);
    ++results[r.model];
    by_worker[worker]++;
    in_count[r.model] = static_cast<int64_t>(r.train_accuracy);
  }
  void on_failure(int, const JobFailure& f, bool will_retry) override {
    std::lock_guard lock(mutex);
    failures.push_back({f.model, will_retry});
  }
  std::mutex mutex;
  std::map<int64_t, int> results;
  std::map<int, int> by_worker;
  std::map<int64_t, int64_t> in_count;
  std::vector<std::pair<int64_t, bool>> failures;
};

SchedulerOptions options(int64_t max_retries, std::chrono::milliseconds heartbeat_timeout = 2000ms) {
  SchedulerOptions o;
  o.max_retries = max_retries;
  o.poll_interval = 5ms;
  o.heartbeat_timeout = heartbeat_timeout;
  return o;
}

std::vector<int64_t> range(int64_t n) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

// Runs a schedule with one fake worker thread per runner.
ScheduleSummary run_with(const Plan& plan, const std::vector<int64_t>& models,
                         std::vector<std::unique_ptr<FakeRunner>>& runners, RecordingObserver& obs,
                         int64_t max_retries = 1) {
  InProcessHub hub(static_cast<int>(runners.size()));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < runners.size(); ++i)
    threads.emplace_back([&, i] { run_worker(hub.worker(static_cast<int>(i)), *runners[i], {"test", 0}, 20ms); });
  ScheduleSummary s;
  try {
    s = run_schedule(plan, models, hub.coordinator(), obs, options(max_retries));
  } catch (...) {
    for (size_t i = 0; i < runners.size(); ++i) hub.coordinator().send(static_cast<int>(i), StopWorker{});
    for (auto& t : threads) t.join();
    throw;
  }
  for (auto& t : threads) t.join();
  return s;
}

}  // namespace

TEST_CASE("every job is done exactly once and faster workers do more") {
  const Plan plan(64, 100, 3);
  std::vector<std::unique_ptr<FakeRunner>> runners;
  runners.push_back(std::make_unique<FakeRunner>(1000us));   // fast
  runners.push_back(std::make_unique<FakeRunner>(8000us));   // 8x slower
  runners.push_back(std::make_unique<FakeRunner>(8000us));
  RecordingObserver obs;
  const auto s = run_with(plan, range(64), runners, obs);
  CHECK(s.done.size() == 64);
  CHECK(s.failed.empty());
  REQUIRE(obs.results.size() == 64);
  for (const auto& [model, count] : obs.results) CHECK(count == 1);
  CHECK(s.jobs_per_worker[0] + s.jobs_per_worker[1] + s.jobs_per_worker[2] == 64);
  CHECK(s.jobs_per_worker[0] > 2 * s.jobs_per_worker[1]);
  // Each job carried its own keep row.
  for (const auto& [model, in] : obs.in_count) {
    int64_t expect = 0;
    for (auto k : plan.keep_row(model)) expect += k;
    CHECK(in == expect);
  }
}

TEST_CASE("a failed job is retried, then marked failed, and the run goes on") {
  const Plan plan(16, 10, 0);
  std::vector<std::unique_ptr<FakeRunner>> runners;
  for (int i = 0; i < 3; ++i) runners.push_back(std::make_unique<FakeRunner>(200us, std::set<int64_t>{2, 5}, std::set<int64_t>{7}));
  RecordingObserver obs;
  const auto s = run_with(plan, range(16), runners, obs, /*max_retries=*/2);
  CHECK(s.done.size() == 15);
  REQUIRE(s.failed == std::vector<int64_t>{7});
  CHECK(obs.results.count(7) == 0);
  CHECK(obs.results.at(2) == 1);
  CHECK(obs.results.at(5) == 1);
  int retries_of_7 = 0, final_of_7 = 0;
  for (auto [m, retry] : obs.failures)
    if (m == 7) (retry ? retries_of_7 : final_of_7)++;
  CHECK(retries_of_7 == 2);
  CHECK(final_of_7 == 1);
}

TEST_CASE("no retries: a failure is final at once") {
  const Plan plan(4, 10, 0);
  std::vector<std::unique_ptr<FakeRunner>> runners;
  runners.push_back(std::make_unique<FakeRunner>(0us, std::set<int64_t>{1}));
  RecordingObserver obs;
  const auto s = run_with(plan, range(4), runners, obs, 0);
  CHECK(s.failed == std::vector<int64_t>{1});
  CHECK(s.done.size() == 3);
}

TEST_CASE("a subset of models (a resumed run) and an empty one") {
  const Plan plan(8, 10, 0);
  std::vector<std::unique_ptr<FakeRunner>> runners;
  runners.push_back(std::make_unique<FakeRunner>(0us));
  runners.push_back(std::make_unique<FakeRunner>(0us));
  RecordingObserver obs;
  const auto s = run_with(plan, {6, 1, 3}, runners, obs);
  CHECK(std::set<int64_t>(s.done.begin(), s.done.end()) == std::set<int64_t>{1, 3, 6});
  RecordingObserver none;
  const auto e = run_with(plan, {}, runners, none);
  CHECK(e.done.empty());
}

TEST_CASE("more workers than jobs: the idle ones are stopped") {
  const Plan plan(2, 10, 0);
  std::vector<std::unique_ptr<FakeRunner>> runners;
  for (int i = 0; i < 6; ++i) runners.push_back(std::make_unique<FakeRunner>(500us));
  RecordingObserver obs;
  const auto s = run_with(plan, range(2), runners, obs);
  CHECK(s.done.size() == 2);
}

TEST_CASE("a result for a job the worker was not given is a protocol error") {
  const Plan plan(2, 4, 0);
  InProcessHub hub(1);
  RecordingObserver obs;
  std::thread rogue([&] {
    hub.worker(0).send(WorkerReady{"h", 1});
    (void)hub.worker(0).receive();  // the job for model 0
    ModelResult r;
    r.model = 1;  // claims another model
    hub.worker(0).send(r);
  });
  CHECK_THROWS_WITH_AS(run_schedule(plan, {0, 1}, hub.coordinator(), obs, options(1)),
                       doctest::Contains("protocol violation"), CommError);
  rogue.join();
}
