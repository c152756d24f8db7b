// The rank's side of job isolation (worker/child_runner.hpp) against the real job-process
// loop around a fake runner (tests/tools/fake_job_process.cpp).
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "common/errors.hpp"
#include "worker/child_runner.hpp"

using namespace lira;

namespace {

ChildOptions options(const std::string& config = "") {
  ChildOptions o;
  o.executable = LIRA_FAKE_JOB_PROCESS;
  o.init.config_yaml = config;
  o.stall = std::chrono::seconds(2);
  o.label = "the test's job process";
  return o;
}

JobAssignment job(int64_t model, uint64_t seed, int32_t attempt = 0) {
  JobAssignment j;
  j.model = model;
  j.seed = seed;
  j.attempt = attempt;
  j.keep_row = {1, 0, 1, 1};
  return j;
}

// Each job on a thread of its own, as the worker loop runs them: the job process must
// outlive the thread that (re)started it.
ModelResult run_on_new_thread(ChildRunner& r, const JobAssignment& j) {
  return std::async(std::launch::async, [&] { return r.run(j); }).get();
}

std::string failure_of(ChildRunner& r, const JobAssignment& j) {
  try {
    run_on_new_thread(r, j);
  } catch (const TrainError& e) {
    return e.what();
  }
  FAIL("the job did not fail");
  return "";
}

// A gang of two identical ranks as the rank sees it: sums double, broadcasts keep.
class TwoRankGang final : public GangComm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string name() const override { return "test gang"; }
  bool device_memory() const override { return false; }
  void allreduce_sum(float* d, size_t n, const char*) override {
    for (size_t i = 0; i < n; ++i) d[i] *= 2;
  }
  void allreduce_sum(double* d, size_t n, const char*) override {
    for (size_t i = 0; i < n; ++i) d[i] *= 2;
    ++calls;
  }
  void broadcast(void*, size_t, const char*) override { ++calls; }
  bool broken() const override { return false; }
  int calls = 0;
};

struct CrashPlan {
  explicit CrashPlan(const char* plan) { ::setenv("LIRA_TEST_CRASH", plan, 1); }
  ~CrashPlan() { ::unsetenv("LIRA_TEST_CRASH"); }
};

}  // namespace

TEST_CASE("a job process runs job after job, each from a new thread, and returns their results") {
  ChildRunner runner(options());
  for (int64_t m = 0; m < 3; ++m) {
    const auto r = run_on_new_thread(runner, job(m, 100 + m));
    REQUIRE(r.signals.size() == 1);
    CHECK(r.signals[0].values == std::vector<float>{static_cast<float>(100 + m), 3.0f});
  }
  CHECK(runner.starts() == 1);
  CHECK(runner.pid() > 0);
}

TEST_CASE("the job process writes a finished model's rows into the results file itself: only scalars cross its pipe") {
  // A stand-in results file: the run's nonce at byte 0, signal x's rows (2 floats each)
  // from byte 64.
  const auto path = std::filesystem::temp_directory_path() / ("lira-rows-" + std::to_string(::getpid()) + ".bin");
  const std::vector<uint8_t> nonce{1, 2, 3, 4, 5, 6, 7, 8};
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(nonce.data()), static_cast<std::streamsize>(nonce.size()));
    f.write(std::string(120, '\0').data(), 120);
  }
  ChildRunner runner(options());
  auto j = job(3, 42);
  j.direct = DirectRows{path.string(), 0, nonce, {RowTarget{"x", 64, 2 * sizeof(float)}}};
  const auto r = run_on_new_thread(runner, j);
  CHECK(r.written);
  REQUIRE(r.signals.size() == 1);
  CHECK(r.signals[0].values.empty());  // the values stayed in the job process
  std::ifstream f(path, std::ios::binary);
  f.seekg(64 + 3 * 2 * sizeof(float));
  float row[2] = {0, 0};
  f.read(reinterpret_cast<char*>(row), sizeof row);
  CHECK(row[0] == 42.0f);  // the seed
  CHECK(row[1] == 3.0f);   // the IN candidates of {1, 0, 1, 1}
  // Another file at that path (its nonce differs): the rows travel to the rank instead.
  j.direct.nonce = {9, 9, 9, 9, 9, 9, 9, 9};
  const auto sent = run_on_new_thread(runner, j);
  CHECK(!sent.written);
  CHECK(sent.signals[0].values == std::vector<float>{42.0f, 3.0f});
  std::filesystem::remove(path);
}

TEST_CASE("a job process started through a link of another name is named as its program (ps, top, pkill)") {
  // lira starts its job processes through /proc/self/exe, whose name is "exe".
  const auto dir = std::filesystem::temp_directory_path() / ("lira-comm-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto link = dir / "exe";
  std::filesystem::create_symlink(LIRA_FAKE_JOB_PROCESS, link);
  auto o = options();
  o.executable = link.string();
  ChildRunner runner(o);
  run_on_new_thread(runner, job(0, 1));
  std::ifstream comm("/proc/" + std::to_string(runner.pid()) + "/comm");
  std::string name;
  std::getline(comm, name);
  CHECK(name == std::filesystem::path(LIRA_FAKE_JOB_PROCESS).filename().string().substr(0, 15));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a crashed job process costs its job only: the cause and its last line, and the next job starts a new one") {
  CrashPlan plan("segv@1,kill@2,abort@3,exit@4,uncaught@5");
  ChildRunner runner(options());
  auto e = failure_of(runner, job(1, 1));
  CHECK(e.find("died during model 1") != std::string::npos);
  CHECK(e.find("was killed by SIGSEGV (segmentation fault)") != std::string::npos);
  CHECK(e.find("its last line: \"LIRA_TEST_CRASH: segv during model 1\"") != std::string::npos);
  CHECK(run_on_new_thread(runner, job(6, 6)).signals[0].values[0] == 6.0f);
  CHECK(runner.starts() == 2);
  CHECK(failure_of(runner, job(2, 2)).find("SIGKILL (the kernel's out-of-memory killer, or kill -9)") != std::string::npos);
  CHECK(failure_of(runner, job(3, 3)).find("SIGABRT") != std::string::npos);
  CHECK(failure_of(runner, job(4, 4)).find("exited with status 3") != std::string::npos);
  CHECK(failure_of(runner, job(5, 5)).find("injected uncaught exception") != std::string::npos);
  // A retry (attempt 1) is not planted: it trains.
  CHECK(run_on_new_thread(runner, job(1, 1, 1)).signals[0].values[0] == 1.0f);
  CHECK(runner.starts() == 6);  // the first, then one after each of the five crashes
  CHECK_FALSE(runner.broken());
}

TEST_CASE("a job process that makes no progress is killed after the stall limit") {
  ChildRunner runner(options());
  const auto t0 = std::chrono::steady_clock::now();
  const auto e = failure_of(runner, job(7, 777));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(e.find("made no progress on model 7 for 2 s") != std::string::npos);
  CHECK(e.find("was killed (SIGKILL, by this rank)") != std::string::npos);
  CHECK(seconds >= 2.0);
  CHECK(seconds < 10.0);
  CHECK(run_on_new_thread(runner, job(8, 8)).signals[0].values[0] == 8.0f);
}

TEST_CASE("a job that throws is a failure and the job process lives on") {
  ChildRunner runner(options());
  CHECK(failure_of(runner, job(3, 999)) == "fake failure of model 3");
  CHECK(run_on_new_thread(runner, job(4, 4)).signals[0].values[0] == 4.0f);
  CHECK(runner.starts() == 1);
}

TEST_CASE("a job process that cannot set up reports its error and exit code to the rank") {
  try {
    ChildRunner runner(options("refuse"));
    FAIL("the job process started");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "fake job process: refusing to start");
    CHECK(e.exit_code() == ExitCode::kUsage);
  }
}

TEST_CASE("set-up may take longer than stall_seconds, up to the set-up floor") {
  auto o = options("slow 3");  // stall 2 s
  o.setup_floor = std::chrono::seconds(5);
  {
    ChildRunner runner(o);
    CHECK(run_on_new_thread(runner, job(1, 1)).signals[0].values[0] == 1.0f);
  }
  o.setup_floor = std::chrono::seconds(1);  // now max(stall, floor) = 2 s < 3 s
  try {
    ChildRunner runner(o);
    FAIL("a job process that took 3 s to set up was accepted with a 2 s limit");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("did not finish setting up within 2 s") != std::string::npos);
  }
}

TEST_CASE("a job process's collectives run on the rank's gang, and a crash in a gang breaks it") {
  TwoRankGang gang;
  auto o = options();
  o.gang = &gang;
  o.init.gang_size = 2;
  o.init.gang_name = "test gang";
  {
    ChildRunner runner(o);
    const auto r = run_on_new_thread(runner, job(0, 5));
    CHECK(r.train_accuracy == 3.0);  // 1.5 summed over two ranks
    CHECK(r.test_accuracy == 0.25);  // the leader's value
    CHECK(gang.calls == 2);
    CHECK_FALSE(runner.broken());
  }
  CrashPlan plan("segv@1");
  ChildRunner runner(o);
  failure_of(runner, job(1, 1));
  CHECK(runner.broken());  // its gang's other ranks wait in a collective it never joins
}

TEST_CASE("a pack goes to the job process whole: one reply per model, a model that throws fails in place") {
  ChildRunner runner(options());
  auto run_pack = [&](const std::vector<JobAssignment>& jobs) {
    return std::async(std::launch::async, [&] { return runner.run_pack(jobs); }).get();
  };
  // A model that throws fails alone; its pack-mates' results come back in order.
  const auto replies = run_pack({job(0, 100), job(1, 999), job(2, 102)});
  REQUIRE(replies.size() == 3);
  REQUIRE(std::holds_alternative<ModelResult>(replies[0]));
  CHECK(std::get<ModelResult>(replies[0]).signals[0].values[0] == 100.0f);
  REQUIRE(std::holds_alternative<JobFailure>(replies[1]));
  CHECK(std::get<JobFailure>(replies[1]).model == 1);
  CHECK(std::get<JobFailure>(replies[1]).message.find("fake failure of model 1") != std::string::npos);
  REQUIRE(std::holds_alternative<ModelResult>(replies[2]));
  CHECK(std::get<ModelResult>(replies[2]).signals[0].values[0] == 102.0f);
  CHECK(runner.starts() == 1);
}

TEST_CASE("a crash during any model of a pack ends its job process: the pack fails as a whole") {
  CrashPlan plan("segv@5");  // read by each job process at its start
  ChildRunner runner(options());
  std::string error;
  try {
    std::async(std::launch::async, [&] { return runner.run_pack({job(4, 4), job(5, 5), job(6, 6)}); }).get();
  } catch (const TrainError& e) {
    error = e.what();
  }
  CHECK(error.find("died during the pack of models 4, 5, 6") != std::string::npos);
  CHECK(error.find("SIGSEGV") != std::string::npos);
  CHECK(run_on_new_thread(runner, job(7, 7)).signals[0].values[0] == 7.0f);  // a new job process
  CHECK(runner.starts() == 2);
}
