// `lira run`: wires config, data, plan, results file, scheduler, transport and trainer
// together, under mpirun (rank 0 coordinates, every other rank is a worker) or in one
// process (the coordinator plus one worker thread).
//
// Start-up is a sequence of collective agreements: configuration, then data on every
// rank, then the results file. Any rank's failure stops every rank with the same exit
// code before a results file exists, so bad input never leaves a file behind.
#include "run_command.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "common/results_layout.hpp"
#include "lira/build_info.hpp"
#include "mpi/mpi_session.hpp"
#include "mpi/mpi_transport.hpp"
#include "orchestrator/in_process_transport.hpp"
#include "orchestrator/progress.hpp"
#include "orchestrator/scheduler.hpp"
#include "storage/results_file.hpp"
#include "trainer/dataset.hpp"
#include "trainer_loader.hpp"
#include "worker/worker_loop.hpp"

namespace lira {
namespace {

using Clock = std::chrono::steady_clock;

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

Config resolve_config(const RunArgs& args) {
  auto overrides = args.overrides;
  if (!args.out.empty()) overrides.push_back("experiment.output=" + args.out);
  return load_config(args.config_path, overrides);
}

int exit_code_of(const std::exception& e) {
  if (const auto* le = dynamic_cast<const Error*>(&e)) return static_cast<int>(le->exit_code());
  return static_cast<int>(ExitCode::kInternal);
}

std::string log_path_for(const std::string& results) {
  const auto dot = results.rfind('.');
  const auto slash = results.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_ext ? results.substr(0, dot) : results) + ".log";
}

// Creates the results file for the plan: layout, keep matrix, labels, seeds, config.
std::unique_ptr<ResultsWriter> create_results(const Config& config, const Plan& plan, const Dataset& data,
                                              bool overwrite) {
  std::vector<uint64_t> seeds(static_cast<size_t>(plan.models()));
  for (int64_t m = 0; m < plan.models(); ++m) seeds[m] = plan.model_seed(m);
  RunMetadata meta{to_yaml(config), std::string(build::kVersion) + " (" + build::kGitRevision + ")"};
  return std::make_unique<ResultsWriter>(
      config.experiment.output, results_layout(config, data.classes), meta, plan.keep(), data.candidates.labels,
      data.candidate_index, seeds, overwrite ? ResultsWriter::Mode::kOverwrite : ResultsWriter::Mode::kCreateNew);
}

// The coordinator's reactions to scheduler events: store, count, tell the user.
class CoordinatorObserver final : public SchedulerObserver {
 public:
  CoordinatorObserver(ResultsWriter& writer, CoordinatorTransport& transport, int64_t total)
      : writer_(writer), transport_(transport), progress_(total, 0), last_line_(Clock::now()) {}

  void on_worker_ready(int worker, const WorkerReady& hello) override {
    spdlog::debug("{} ready on {} (pid {})", transport_.worker_name(worker), hello.host, hello.pid);
  }

  void on_result(int worker, const ModelResult& r) override {
    writer_.write_model(r, worker);
    progress_.model_finished();
    last_line_ = Clock::now();
    spdlog::info("model {} done by {}: train acc {:.4f}, test acc {:.4f}, {:.1f} s | {}", r.model,
                 transport_.worker_name(worker), r.train_accuracy, r.test_accuracy, r.train_seconds,
                 progress_.summary());
  }

  void on_failure(int worker, const JobFailure& f, bool will_retry) override {
    if (will_retry) {
      spdlog::warn("model {} failed on {} (attempt {}), will retry: {}", f.model, transport_.worker_name(worker),
                   f.attempt + 1, f.message);
      return;
    }
    writer_.record_failure(f.model, f.attempt + 1);
    progress_.model_failed();
    failures_.push_back("model " + std::to_string(f.model) + ": " + f.message);
    spdlog::error("model {} failed for good after {} attempt(s) on {}: {}", f.model, f.attempt + 1,
                  transport_.worker_name(worker), f.message);
  }

  void on_tick() override {
    if (Clock::now() - last_line_ < std::chrono::seconds(60)) return;
    last_line_ = Clock::now();
    spdlog::info("still running: {}", progress_.summary());
  }

  const std::vector<std::string>& failures() const { return failures_; }

 private:
  ResultsWriter& writer_;
  CoordinatorTransport& transport_;
  Progress progress_;
  Clock::time_point last_line_;
  std::vector<std::string> failures_;
};

std::vector<int64_t> all_models(const Plan& plan) {
  std::vector<int64_t> v(static_cast<size_t>(plan.models()));
  for (int64_t m = 0; m < plan.models(); ++m) v[m] = m;
  return v;
}

int finish(const Config& config, ResultsWriter& writer, const ScheduleSummary& summary,
           const CoordinatorObserver& observer, Clock::time_point start) {
  writer.close();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  spdlog::info("run finished in {}: {}/{} models done, {} failed; results in {}", format_duration(seconds),
               summary.done.size(), config.experiment.models, summary.failed.size(), config.experiment.output);
  std::string per_worker;
  for (size_t w = 0; w < summary.jobs_per_worker.size(); ++w)
    per_worker += (w ? ", " : "") + std::to_string(summary.jobs_per_worker[w]);
  spdlog::info("jobs per worker: {}", per_worker);
  if (!summary.failed.empty()) {
    for (const auto& f : observer.failures()) spdlog::error("failed {}", f);
    return static_cast<int>(ExitCode::kModelsFailed);
  }
  spdlog::info("next: lira score {}", config.experiment.output);
  return 0;
}

void log_start(const Config& config, int workers, int threads_hint) {
  spdlog::info("lira {} ({}): experiment '{}', {} models x {} candidates, {} worker(s){}", build::kVersion,
               build::kGitRevision, config.experiment.name, config.experiment.models, config.data.candidates,
               workers, threads_hint > 0 ? ", " + std::to_string(threads_hint) + " thread(s) each" : "");
  spdlog::info("resolved configuration:\n{}", to_yaml(config));
}

int auto_threads(const Config& config, int workers_on_node) {
  if (config.training.threads > 0) return static_cast<int>(config.training.threads);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, workers_on_node));
}

// One process: the coordinator on this thread, one worker on another.
int run_in_process(const Config& config, bool overwrite) {
  const auto start = Clock::now();
  const int threads = auto_threads(config, 1);
  log_start(config, 1, threads);
  auto data = load_dataset(config.data);
  const Plan plan(config.experiment.models, config.data.candidates, static_cast<uint64_t>(config.experiment.seed));
  auto runner = trainer().make_runner(config, data, threads, 0);
  auto writer = create_results(config, plan, *data, overwrite);
  add_log_file(log_path_for(config.experiment.output));

  InProcessHub hub(1);
  std::thread worker([&] { run_worker(hub.worker(0), *runner, hostname(), getpid()); });
  CoordinatorObserver observer(*writer, hub.coordinator(), plan.models());
  ScheduleSummary summary;
  try {
    summary = run_schedule(plan, all_models(plan), hub.coordinator(), observer,
                           {config.experiment.max_retries, std::chrono::milliseconds(500)});
  } catch (...) {
    hub.coordinator().send(0, StopWorker{});  // let the worker thread end before unwinding
    worker.join();
    throw;
  }
  worker.join();
  return finish(config, *writer, summary, observer, start);
}

int run_distributed(mpi::Session& session, const RunArgs& args) {
  const auto start = Clock::now();
  const bool coordinator = session.rank() == 0;

  // 1. Configuration: rank 0 reads and resolves it, everyone else gets the resolved text.
  std::string failure, yaml;
  int code = 0;
  Config config;
  if (coordinator) {
    try {
      config = resolve_config(args);
      yaml = to_yaml(config);
    } catch (const std::exception& e) {
      failure = e.what();
      code = exit_code_of(e);
    }
  }
  auto agreed = session.agree(failure, code);
  if (!agreed.ok()) {
    if (coordinator) spdlog::error("{}", failure);
    return agreed.exit_code;
  }
  session.broadcast(yaml);
  if (!coordinator) config = parse_config(yaml, "configuration from rank 0");

  if (session.size() == 1) {
    spdlog::info("a single MPI rank: running coordinator and worker in this process");
    return run_in_process(config, args.overwrite);
  }

  // 2. Data, on every rank (rank 0 needs the labels and validates N).
  const int workers_here = session.local_size() - (session.coordinator_is_local() ? 1 : 0);
  const int threads = auto_threads(config, workers_here);
  if (coordinator) log_start(config, session.size() - 1, static_cast<int>(config.training.threads));
  std::shared_ptr<const Dataset> data;
  std::unique_ptr<JobRunner> runner;
  try {
    data = load_dataset(config.data);
    if (!coordinator) runner = trainer().make_runner(config, data, threads, session.local_worker_index());
  } catch (const std::exception& e) {
    failure = e.what();
    code = exit_code_of(e);
  }
  agreed = session.agree(failure, code);
  if (!agreed.ok()) {
    if (coordinator)
      for (const auto& f : agreed.failures) spdlog::error("cannot start: {}", f);
    return agreed.exit_code;
  }

  // 3. The results file, on rank 0 only.
  std::unique_ptr<ResultsWriter> writer;
  std::unique_ptr<Plan> plan;
  if (coordinator) {
    try {
      plan = std::make_unique<Plan>(config.experiment.models, config.data.candidates,
                                    static_cast<uint64_t>(config.experiment.seed));
      writer = create_results(config, *plan, *data, args.overwrite);
      add_log_file(log_path_for(config.experiment.output));
    } catch (const std::exception& e) {
      failure = e.what();
      code = exit_code_of(e);
    }
  }
  agreed = session.agree(failure, code);
  if (!agreed.ok()) {
    if (coordinator) spdlog::error("cannot start: {}", failure);
    return agreed.exit_code;
  }

  // 4. The run.
  if (coordinator) {
    data.reset();  // the coordinator needed only the labels, now in the file
    mpi::CoordinatorEnd transport(session.world());
    CoordinatorObserver observer(*writer, transport, plan->models());
    const auto summary = run_schedule(*plan, all_models(*plan), transport, observer,
                                      {config.experiment.max_retries, std::chrono::milliseconds(500)});
    return finish(config, *writer, summary, observer, start);
  }
  spdlog::debug("worker with {} thread(s)", threads);
  mpi::WorkerEnd transport(session.world());
  run_worker(transport, *runner, hostname(), getpid());
  return 0;
}

}  // namespace

int run_command(const RunArgs& args) {
  if (!mpi::launched_by_mpi_launcher()) {
    init_logging(-1, args.log_level);
    return run_in_process(resolve_config(args), args.overwrite);
  }
  mpi::Session session;
  init_logging(session.rank(), args.log_level);
  int code = 0;
  try {
    code = run_distributed(session, args);
  } catch (const std::exception& e) {
    // Past start-up, one rank's failure leaves the others waiting on it: abort them all.
    spdlog::critical("{}", e.what());
    session.abort(exit_code_of(e));
  }
  session.finalize();
  return code;
}

}  // namespace lira
