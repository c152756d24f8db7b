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
  FakeRunner(std::chrono::microseconds delay, std::set<int64_t> fail_first = {}, std::set<int64_t> fail_always = {},
             std::set<int64_t> config_error = {})
      : delay_(delay), fail_first_(std::move(fail_first)), fail_always_(std::move(fail_always)),
        config_error_(std::move(config_error)) {}
  ModelResult run(const JobAssignment& job) override {
    std::this_thread::sleep_for(delay_);
    if (config_error_.count(job.model))
      throw ConfigError("training.batch_size leaves no full batch of model " + std::to_string(job.model));
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
  std::set<int64_t> fail_first_, fail_always_, config_error_;
};

class RecordingObserver final : public SchedulerObserver {
 public:
  void on_result(int worker, const ModelResult& r) override {
    std::lock_guard lock(mutex);
    ++results[r.model];
    by_worker[worker]++;
    in_count[r.model] = static_cast<int64_t>(r.train_accuracy);
  }
  void on_job_started(int, int64_t, int32_t) override { ++started; }
  void on_failure(int, const JobFailure& f, bool will_retry) override {
    std::lock_guard lock(mutex);
    failures.push_back({f.model, will_retry});
  }
  std::mutex mutex;
  std::map<int64_t, int> results;
  std::map<int, int> by_worker;
  std::map<int64_t, int64_t> in_count;
  std::vector<std::pair<int64_t, bool>> failures;
  std::atomic<int> started{0};
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

TEST_CASE("a worker whose gang broke retires: its job goes to another and it gets no more") {
  // Runner 0 breaks on its first job (as a gang whose collective timed out).
  class BreakingRunner final : public JobRunner {
   public:
    ModelResult run(const JobAssignment&) override {
      broken_ = true;
      throw CommError("gang 0: all-reduce timed out");
    }
    bool broken() const override { return broken_; }

   private:
    bool broken_ = false;
  };
  const Plan plan(12, 10, 0);
  InProcessHub hub(3);
  BreakingRunner breaking;
  FakeRunner ok1(500us), ok2(500us);
  std::vector<JobRunner*> runners{&breaking, &ok1, &ok2};
  std::vector<std::thread> threads;
  std::vector<int64_t> jobs(3, -1);
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&, i] { jobs[i] = run_worker(hub.worker(i), *runners[i], {"test", 0}, 20ms); });
  RecordingObserver obs;
  const auto s = run_schedule(plan, range(12), hub.coordinator(), obs, options(1));
  for (auto& t : threads) t.join();
  CHECK(s.done.size() == 12);
  CHECK(s.failed.empty());
  CHECK(s.lost_workers == std::vector<int>{0});
  CHECK(jobs[0] == 1);  // it left after its one failed job
  CHECK(s.jobs_per_worker[1] + s.jobs_per_worker[2] == 12);
  REQUIRE(obs.failures.size() == 1);
  CHECK(obs.failures[0].second);  // retried elsewhere
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

TEST_CASE("a failure the config causes (a ConfigError while training) is not retried") {
  const Plan plan(6, 10, 0);
  std::vector<std::unique_ptr<FakeRunner>> runners;
  for (int i = 0; i < 2; ++i)
    runners.push_back(std::make_unique<FakeRunner>(0us, std::set<int64_t>{1}, std::set<int64_t>{}, std::set<int64_t>{4}));
  RecordingObserver obs;
  const auto s = run_with(plan, range(6), runners, obs, /*max_retries=*/3);
  CHECK(s.done.size() == 5);
  CHECK(s.failed == std::vector<int64_t>{4});
  int tries_of_4 = 0, retried_4 = 0, retried_1 = 0;
  for (auto [m, retry] : obs.failures) {
    if (m == 4) ++tries_of_4, retried_4 += retry;
    if (m == 1) retried_1 += retry;
  }
  CHECK(tries_of_4 == 1);  // once, and final
  CHECK(retried_4 == 0);
  CHECK(retried_1 == 1);  // an ordinary failure is still retried
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

namespace {
// A worker that takes its first job and then never answers again (a hung or dead node).
void silent_worker(WorkerTransport& t) {
  t.send(WorkerReady{"hung", 1});
  (void)t.receive();
}
}  // namespace

TEST_CASE("a worker silent past the heartbeat timeout is lost, and its job goes to another") {
  const Plan plan(6, 10, 0);
  InProcessHub hub(2);
  RecordingObserver obs;
  FakeRunner fast(20ms);
  std::thread good([&] {
    std::this_thread::sleep_for(50ms);  // let the silent worker take the first job
    run_worker(hub.worker(1), fast, {"ok", 2}, 10ms);
  });
  std::thread bad([&] { silent_worker(hub.worker(0)); });
  const auto s = run_schedule(plan, range(6), hub.coordinator(), obs, options(1, 300ms));
  good.join();
  bad.join();
  CHECK(s.lost_workers == std::vector<int>{0});
  CHECK(s.done.size() == 6);
  CHECK(s.failed.empty());
  for (const auto& [model, count] : obs.results) CHECK(count == 1);
}

TEST_CASE("a silent worker is noticed on time while the others keep the coordinator busy") {
  // A big run never lets receive() time out: the heartbeat check must run on its own clock.
  const int64_t M = 20000;
  const Plan plan(M, 4, 0);
  InProcessHub hub(2);
  struct LostObserver final : SchedulerObserver {
    void on_result(int, const ModelResult&) override { ++results; }
    void on_worker_lost(int, int64_t, bool) override { results_when_lost = results; }
    int64_t results = 0, results_when_lost = -1;
  } obs;
  FakeRunner quick(50us);  // 20,000 jobs: over a second of steady messages
  std::thread bad([&] { silent_worker(hub.worker(0)); });
  std::thread good([&] {
    std::this_thread::sleep_for(50ms);  // let the silent worker take the first job
    run_worker(hub.worker(1), quick, {"ok", 2}, 10ms);
  });
  const auto s = run_schedule(plan, range(M), hub.coordinator(), obs, options(1, 200ms));
  good.join();
  bad.join();
  CHECK(s.lost_workers == std::vector<int>{0});
  CHECK(static_cast<int64_t>(s.done.size()) == M);
  // Noticed ~200 ms in, long before the other worker ran out of work.
  CHECK(obs.results_when_lost >= 0);
  CHECK(obs.results_when_lost < M - 1000);
}

TEST_CASE("heartbeats keep a slow worker alive past the timeout") {
  const Plan plan(2, 10, 0);
  InProcessHub hub(1);
  RecordingObserver obs;
  FakeRunner slow(400ms);  // longer than the timeout, but it beats every 50 ms
  std::thread w([&] { run_worker(hub.worker(0), slow, {"slow", 1}, 50ms); });
  const auto s = run_schedule(plan, range(2), hub.coordinator(), obs, options(0, 200ms));
  w.join();
  CHECK(s.lost_workers.empty());
  CHECK(s.done.size() == 2);
}

TEST_CASE("a stop request ends dispatching, running jobs finish within the grace period") {
  const Plan plan(8, 10, 0);
  InProcessHub hub(2);
  RecordingObserver obs;
  FakeRunner runner(100ms);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&, i] { run_worker(hub.worker(i), runner, {"w", i}, 20ms); });
  auto o = options(1);
  const auto start = std::chrono::steady_clock::now();
  o.stop_requested = [&] { return std::chrono::steady_clock::now() - start > 150ms ? 15 : 0; };
  o.grace = 5000ms;
  const auto s = run_schedule(plan, range(8), hub.coordinator(), obs, o);
  for (auto& t : threads) t.join();
  CHECK(s.stop_signal == 15);
  CHECK(s.abandoned.empty());
  CHECK(s.done.size() >= 2);
  CHECK(s.done.size() <= 6);  // nothing new after ~150 ms of 100 ms jobs on 2 workers
}

TEST_CASE("with no grace left, the running jobs are reported abandoned") {
  const Plan plan(4, 10, 0);
  InProcessHub hub(1);
  RecordingObserver obs;
  FakeRunner runner(500ms);
  std::thread w([&] { run_worker(hub.worker(0), runner, {"w", 0}, 20ms); });
  auto o = options(1);
  o.stop_requested = [&] { return obs.started > 0 ? 2 : 0; };  // as soon as model 0 runs
  o.grace = 0ms;
  const auto s = run_schedule(plan, range(4), hub.coordinator(), obs, o);
  CHECK(s.stop_signal == 2);
  CHECK(s.abandoned == std::vector<int64_t>{0});
  CHECK(s.done.empty());
  // The worker is mid-job: stop it once it is done, then join.
  hub.coordinator().send(0, StopWorker{});
  w.join();
}

namespace {

// Records the packs it is given, then runs them one by one (JobRunner's default).
class PackRecorder final : public JobRunner {
 public:
  explicit PackRecorder(std::set<int64_t> fail_first = {}) : fail_first_(std::move(fail_first)) {}
  ModelResult run(const JobAssignment& job) override {
    if (job.attempt == 0 && fail_first_.count(job.model)) throw TrainError("planned failure");
    std::lock_guard lock(mutex);
    attempts.push_back({job.model, job.attempt});
    return {};
  }
  std::vector<WorkerMessage> run_pack(const std::vector<JobAssignment>& jobs) override {
    {
      std::lock_guard lock(mutex);
      std::vector<std::pair<int64_t, int32_t>> pack;
      for (const auto& j : jobs) pack.push_back({j.model, j.attempt});
      packs.push_back(pack);
    }
    return JobRunner::run_pack(jobs);
  }
  std::mutex mutex;
  std::vector<std::vector<std::pair<int64_t, int32_t>>> packs;
  std::vector<std::pair<int64_t, int32_t>> attempts;

 private:
  std::set<int64_t> fail_first_;
};

ScheduleSummary run_packs(const Plan& plan, int64_t k, std::vector<std::unique_ptr<PackRecorder>>& runners,
                          RecordingObserver& obs) {
  InProcessHub hub(static_cast<int>(runners.size()));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < runners.size(); ++i)
    threads.emplace_back([&, i] { run_worker(hub.worker(static_cast<int>(i)), *runners[i], {"test", 0}, 20ms); });
  auto o = options(1);
  o.models_per_job = k;
  const auto s = run_schedule(plan, range(plan.models()), hub.coordinator(), obs, o);
  for (auto& t : threads) t.join();
  return s;
}

}  // namespace

TEST_CASE("models_per_job: workers get packs of K first attempts and every model is done once") {
  const Plan plan(22, 10, 1);
  std::vector<std::unique_ptr<PackRecorder>> runners;
  for (int i = 0; i < 2; ++i) runners.push_back(std::make_unique<PackRecorder>());
  RecordingObserver obs;
  const auto s = run_packs(plan, 4, runners, obs);
  CHECK(s.done.size() == 22);
  CHECK(s.failed.empty());
  CHECK(obs.results.size() == 22);
  for (const auto& [model, count] : obs.results) CHECK(count == 1);
  CHECK(obs.started == 22);
  // 22 models in packs of at most 4: at least 5 packs of two or more, none larger than 4.
  size_t packs = 0, in_packs = 0, singles = 0;
  for (auto& r : runners) {
    for (const auto& p : r->packs) {
      CHECK(p.size() >= 2);
      CHECK(p.size() <= 4);
      ++packs, in_packs += p.size();
    }
    singles += r->attempts.size();
  }
  CHECK(packs >= 5);
  CHECK(singles == 22);  // each model trained once (the default run_pack: one by one)
  CHECK(s.jobs_per_worker[0] + s.jobs_per_worker[1] == 22);
}

TEST_CASE("models_per_job: a model that failed in its pack is retried alone") {
  const Plan plan(8, 10, 2);
  std::vector<std::unique_ptr<PackRecorder>> runners;
  runners.push_back(std::make_unique<PackRecorder>(std::set<int64_t>{1, 5}));
  RecordingObserver obs;
  const auto s = run_packs(plan, 4, runners, obs);
  CHECK(s.done.size() == 8);
  CHECK(s.failed.empty());
  REQUIRE(obs.failures.size() == 2);
  for (const auto& [model, retry] : obs.failures) CHECK(retry);
  // The two packs of first attempts, then each retry on its own (JobAssignment, no pack).
  const auto& r = *runners[0];
  CHECK(r.packs.size() == 2);
  for (const auto& p : r.packs)
    for (const auto& [model, attempt] : p) CHECK(attempt == 0);
  int retries = 0;
  for (const auto& [model, attempt] : r.attempts) retries += attempt == 1;
  CHECK(retries == 2);
}
