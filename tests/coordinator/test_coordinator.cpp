// Tests of the coordinator library: the run shared by the MPI and in-process modes
// (run_coordinator over the in-process transport with synthetic workers), resuming, and
// the observer's bookkeeping driven event by event: what reaches the results file, the
// status file and the exit code.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/errors.hpp"
#include "coordinator/coordinator.hpp"
#include "orchestrator/in_process_transport.hpp"
#include "worker/synthetic_runner.hpp"
#include "worker/worker_loop.hpp"

using namespace lira;
namespace fs = std::filesystem;

namespace {

struct Dir {
  fs::path path = fs::temp_directory_path() / ("lira-coordinator-test-" + std::to_string(getpid()));
  Dir() { fs::create_directories(path); }
  ~Dir() { fs::remove_all(path); }
};

Config synthetic_config(const fs::path& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> ov{"model.arch=synthetic", "experiment.models=6", "data.candidates=40",
                              "model.job_seconds=0", "experiment.output=" + out.string()};
  ov.insert(ov.end(), extra.begin(), extra.end());
  return parse_config("", "test", ov);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The whole coordinator run with `workers` synthetic workers on threads.
int run(const Config& config, int workers, bool& must_abort, bool overwrite = false) {
  const Plan plan(config.experiment.models, config.data.candidates, static_cast<uint64_t>(config.experiment.seed),
                  config.data.population);
  auto data = synthetic_dataset(config.data.candidates);
  auto opened = open_results(config, plan, *data, overwrite);
  InProcessHub hub(workers);
  std::vector<std::unique_ptr<JobRunner>> runners;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) runners.push_back(make_synthetic_runner(config, w));
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&, w] { run_worker(hub.worker(w), *runners[w], {"test", w}); });
  const int code = run_coordinator(config, plan, opened, hub.coordinator(), must_abort);
  for (auto& t : threads) t.join();
  return code;
}

}  // namespace

TEST_CASE("run_coordinator: every model stored and done, status finished, exit 0") {
  Dir dir;
  const auto config = synthetic_config(dir.path / "r.h5");
  bool must_abort = true;
  CHECK(run(config, 2, must_abort) == 0);
  CHECK_FALSE(must_abort);
  ResultsReader reader((dir.path / "r.h5").string());
  for (auto d : reader.done()) CHECK(d == 1);
  const auto status = slurp(RunStatus::path_for((dir.path / "r.h5").string()));
  CHECK(status.find("\"finished\"") != std::string::npos);
}

TEST_CASE("run_coordinator: models that keep failing are recorded with their message, exit 4") {
  Dir dir;
  const auto config = synthetic_config(dir.path / "f.h5", {"model.synthetic_failure_rate=1", "experiment.max_retries=1"});
  bool must_abort = true;
  CHECK(run(config, 2, must_abort) == static_cast<int>(ExitCode::kModelsFailed));
  CHECK_FALSE(must_abort);
  ResultsReader reader((dir.path / "f.h5").string());
  for (auto d : reader.done()) CHECK(d == 0);
  const auto errors = reader.model_errors();
  REQUIRE(errors.size() == 6);
  for (const auto& e : errors) CHECK(e.find("synthetic failure") != std::string::npos);
  CHECK(slurp(RunStatus::path_for((dir.path / "f.h5").string())).find("finished with failures") != std::string::npos);
}

TEST_CASE("open_results resumes: the failed models are pending again, the done ones are not retrained") {
  Dir dir;
  const auto path = dir.path / "resume.h5";
  bool must_abort = false;
  // About half the models fail for good (failures are seeded per job and attempt); a
  // resume with retries allowed finishes exactly those.
  run(synthetic_config(path, {"model.synthetic_failure_rate=0.5", "experiment.max_retries=0"}), 1, must_abort);
  int64_t done_first = 0;
  {
    ResultsReader first(path.string());
    for (auto d : first.done()) done_first += d;
  }
  REQUIRE(done_first > 0);
  REQUIRE(done_first < 6);
  const auto config = synthetic_config(path, {"model.synthetic_failure_rate=0.5", "experiment.max_retries=8"});
  const Plan plan(6, 40, 0);
  auto data = synthetic_dataset(40);
  {
    auto opened = open_results(config, plan, *data, false);
    CHECK(opened.already_done == done_first);
    CHECK(static_cast<int64_t>(opened.pending.size()) == 6 - done_first);
    opened.writer->close();
  }
  CHECK(run(config, 1, must_abort) == 0);
  ResultsReader second(path.string());
  for (auto d : second.done()) CHECK(d == 1);
}

TEST_CASE("the observer: a lost worker's model without retries fails, and the run must be aborted (exit 6)") {
  Dir dir;
  const auto config = synthetic_config(dir.path / "lost.h5", {"experiment.max_retries=0"});
  const Plan plan(6, 40, 0);
  auto data = synthetic_dataset(40);
  auto opened = open_results(config, plan, *data, false);
  InProcessHub hub(2);
  CoordinatorObserver observer(*opened.writer, hub.coordinator(), config, 0);
  observer.on_worker_ready(0, {"host-a", 10});
  observer.on_worker_ready(1, {"host-b", 11});
  observer.on_job_started(0, 3, 0);
  observer.on_worker_lost(0, 3, false);
  ScheduleSummary summary;
  summary.failed = {3};
  summary.lost_workers = {0};
  bool must_abort = false;
  CHECK(observer.finish(summary, must_abort) == static_cast<int>(ExitCode::kWorkersLost));
  CHECK(must_abort);
  ResultsReader reader((dir.path / "lost.h5").string());
  CHECK(reader.model_errors()[3].find("worker lost") != std::string::npos);
  CHECK(reader.done()[3] == 0);
}

TEST_CASE("the observer: a stop signal ends the run as interrupted (exit 5), abandoned models named") {
  Dir dir;
  const auto config = synthetic_config(dir.path / "stop.h5");
  const Plan plan(6, 40, 0);
  auto data = synthetic_dataset(40);
  auto opened = open_results(config, plan, *data, false);
  InProcessHub hub(1);
  CoordinatorObserver observer(*opened.writer, hub.coordinator(), config, 0);
  observer.on_stop_requested(15);
  ScheduleSummary summary;
  summary.stop_signal = 15;
  summary.abandoned = {2};
  bool must_abort = false;
  CHECK(observer.finish(summary, must_abort) == static_cast<int>(ExitCode::kInterrupted));
  CHECK(must_abort);
  CHECK(slurp(RunStatus::path_for((dir.path / "stop.h5").string())).find("interrupted") != std::string::npos);
}

TEST_CASE("the status file shows a worker's whole pack until its last model ends") {
  Dir dir;
  const std::string results = (dir.path / "packs.h5").string();
  RunStatus status(results, 8, {"rank 1"});
  status.worker_ready(0, "host", 42);
  for (int64_t m : {4, 5, 6}) status.job_started(0, m, 0);
  REQUIRE(status.write(true));
  auto text = slurp(RunStatus::path_for(results));
  CHECK(text.find("\"busy\"") != std::string::npos);
  CHECK(text.find("\"model\": 4") != std::string::npos);
  status.job_ended(0, 4, "model 4 done");
  REQUIRE(status.write(true));
  text = slurp(RunStatus::path_for(results));
  CHECK(text.find("\"busy\"") != std::string::npos);  // 5 and 6 still in flight
  CHECK(text.find("\"model\": 5") != std::string::npos);
  status.job_ended(0, 6, "model 6 done");
  status.job_ended(0, 5, "model 5 done");
  REQUIRE(status.write(true));
  text = slurp(RunStatus::path_for(results));
  CHECK(text.find("\"idle\"") != std::string::npos);
  CHECK(text.find("\"jobs\": 3") != std::string::npos);
}
