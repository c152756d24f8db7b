// `lira run`: wires config, data, plan, results file, scheduler, transport and trainer
// together, under mpirun (rank 0 coordinates, every other rank is a worker) or in one
// process (the coordinator plus one worker thread).
//
// Start-up is a sequence of collective agreements: configuration, then data on every
// rank, then the results file (created, or resumed). Any rank's failure stops every rank
// with the same exit code before the results file is touched, so bad input never leaves
// a file behind. docs/reliability.md describes crashes, resume and signals.
#include "run_command.hpp"
#include "preflight.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <functional>
#include <chrono>
#include <thread>

#include "common/dp_accountant.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "common/run_lock.hpp"
#include "common/side_files.hpp"
#include "common/stop_signals.hpp"
#include "coordinator/coordinator.hpp"
#include "lira/build_info.hpp"
#include "mpi/mpi_session.hpp"
#include "mpi/gang.hpp"
#include "mpi/mpi_transport.hpp"
#include "nccl/nccl_gang.hpp"
#include "orchestrator/in_process_transport.hpp"
#include "trainer_loader.hpp"
#include "worker/child_runner.hpp"
#include "worker/job_process.hpp"
#include "worker/synthetic_runner.hpp"
#include "worker/worker_loop.hpp"

namespace lira {
Plan make_plan(const Config& config) {
  return Plan(config.experiment.models, config.data.candidates, static_cast<uint64_t>(config.experiment.seed),
              config.data.population, keep_scheme_from(config.experiment.keep_scheme));
}

std::shared_ptr<const Dataset> dataset_for(const Config& config) {
  if (config.model.arch == "synthetic") return synthetic_dataset(config.data.candidates);
  auto data = load_dataset(config.data);
  check_config_with_data(config, *data);
  return data;
}

std::string dp_budget_summary(const Config& config, const std::string& origin) {
  try {
    return dp_budget_summary(config);
  } catch (const ConfigError& e) {
    throw ConfigError("invalid configuration (" + origin + "): " + e.what());
  }
}

std::string dp_budget_summary(const Config& config) {
  const auto& dp = config.dp;
  if (!dp.enabled()) return "";
  const Plan plan = make_plan(config);
  const auto& t = config.training;
  // Models with the same IN count train the same number of steps at the same rate.
  std::map<int64_t, std::pair<double, double>> by_count;  // IN count -> {sigma, epsilon}
  for (const int64_t n : plan.in_counts()) {
    if (n == 0 || by_count.count(n)) continue;
    const auto p = dp::plan_dp_sgd(dp, t.batch_size, t.epochs, n);
    by_count[n] = {p.noise_multiplier, p.epsilon};
  }
  if (by_count.empty()) return "";
  double lo_eps = INFINITY, hi_eps = 0, lo_sigma = INFINITY, hi_sigma = 0;
  for (const auto& [n, v] : by_count) {
    lo_sigma = std::min(lo_sigma, v.first), hi_sigma = std::max(hi_sigma, v.first);
    lo_eps = std::min(lo_eps, v.second), hi_eps = std::max(hi_eps, v.second);
  }
  const auto range = [](double lo, double hi) {
    const auto a = fmt::format("{:.4g}", lo), b = fmt::format("{:.4g}", hi);
    return a == b ? a : a + " to " + b;
  };
  const int64_t n_lo = by_count.begin()->first, n_hi = by_count.rbegin()->first;
  return fmt::format(
      "DP-SGD: noise multiplier {}{}, max_grad_norm {:g}, delta {:g}; each model spends epsilon {} (RDP accountant, "
      "Poisson sampling of batch {} from its {} IN examples, {:g} epochs)",
      range(lo_sigma, hi_sigma), dp.noise_multiplier > 0 ? "" : " (solved for target epsilon " + fmt::format("{:g}", dp.target_epsilon) + ")",
      dp.max_grad_norm, dp.delta, range(lo_eps, hi_eps), t.batch_size,
      n_lo == n_hi ? std::to_string(n_lo) : std::to_string(n_lo) + " to " + std::to_string(n_hi), t.epochs);
}

namespace {

WorkerIdentity identity() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return {"unknown-host", getpid()};
  return {buf, getpid()};
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

std::string log_path_for(const std::string& results) { return side_files::log(results); }

// `dp_budget`: dp_budget_summary's line, computed once by the caller (empty without DP).
void log_start(const Config& config, int workers, int threads_hint, const std::string& dp_budget) {
  spdlog::info("lira {} ({}): experiment '{}', {} models x {} candidates, {} worker(s){}", build::kVersion,
               build::kGitRevision, config.experiment.name, config.experiment.models, config.data.candidates,
               workers, threads_hint > 0 ? ", " + std::to_string(threads_hint) + " thread(s) each" : "");
  spdlog::info("resolved configuration:\n{}", to_yaml(config));
  if (!dp_budget.empty()) spdlog::info("{}", dp_budget);
}

int auto_threads(const Config& config, int workers_on_node) {
  if (config.training.threads > 0) return static_cast<int>(config.training.threads);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, workers_on_node));
}

bool synthetic(const Config& config) { return config.model.arch == "synthetic"; }


// The synthetic benchmark workload needs no libtorch; everything else trains with it.
std::unique_ptr<JobRunner> runner_for(const Config& config, std::shared_ptr<const Dataset> data, int threads,
                                      int local_index, int global_index, GangComm* gang = nullptr,
                                      GangComm* tensor_gang = nullptr, int workers_on_node = 0,
                                      std::function<void()> progress = {}) {
  if (synthetic(config)) return make_synthetic_runner(config, global_index, std::move(progress));
  TrainerContext context;
  context.progress = std::move(progress);
  context.config = config;
  context.dataset = std::move(data);
  context.threads = threads;
  context.device_index = local_index;
  context.workers_on_node = workers_on_node;
  context.gang = gang;
  context.tensor_gang = tensor_gang;
  return trainer().make_runner(context);
}

// The gang's tensor transport: NCCL when every rank of the gang trains on its own CUDA
// device and this build has NCCL, else null (the MPI gang itself carries the tensors, in
// host memory). On CUDA builds with NCCL it is collective over the gang, whose ranks are
// alike (one executable, nodes of one kind), so all of them take the same decision.
std::unique_ptr<GangComm> tensor_gang_for(GangComm& gang, const DeviceChoice& device, const Config& config) {
  if (!device.cuda || nccl_version().empty()) return nullptr;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  // Per rank: a hash of host:GPU; two equal ones share a GPU, which NCCL cannot.
  const auto id = static_cast<double>(std::hash<std::string>{}(std::string(host) + ":" + std::to_string(device.index)) %
                                      (1ULL << 52));
  std::vector<double> ids(static_cast<size_t>(gang.size()), 0.0);
  ids[static_cast<size_t>(gang.rank())] = id;
  gang.allreduce_sum(ids.data(), ids.size(), "exchange of the gang's devices");
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
    if (gang.rank() == 0)
      spdlog::warn("{}: ranks share a GPU (parallel.ranks_per_gpu > 1), which NCCL cannot: gradients go through MPI "
                   "on the host",
                   gang.name());
    return nullptr;
  }
  auto nccl = make_nccl_gang(gang, device.index, std::chrono::seconds(config.parallel.collective_timeout));
  spdlog::info("{}: NCCL {} on {}", nccl->name(), nccl_version(), device.name);
  return nccl;
}

bool isolated(const Config& config) { return config.parallel.isolation == "process"; }

// parallel.isolation: process -- the rank's jobs run in its job process (worker/child_runner.hpp),
// which loads the data and the trainer itself; `gang` is the rank's MPI gang (or null),
// on which the job process's collectives run.
std::unique_ptr<JobRunner> job_process_runner(const Config& config, int threads, int local_index, int global_index,
                                              int workers_on_node, GangComm* gang, int log_rank,
                                              const std::string& log_level) {
  ChildOptions o;
  o.executable = "/proc/self/exe";
  // The results path too, for people reading ps (the job process gets everything else
  // from its init message).
  o.args = {"__job-process", "--for", config.experiment.output};
  o.init.config_yaml = to_yaml(config);
  o.init.log_level = log_level;
  o.init.log_rank = log_rank;
  o.init.threads = threads;
  o.init.device_index = local_index;
  o.init.workers_on_node = workers_on_node;
  o.init.worker_index = global_index;
  if (gang) {
    o.init.gang_rank = gang->rank();
    o.init.gang_size = gang->size();
    o.init.gang_name = gang->name();
  }
  o.gang = gang;
  o.stall = std::chrono::seconds(config.experiment.stall_seconds);
  o.label = log_rank >= 0 ? "rank " + std::to_string(log_rank) + "'s job process" : "the job process";
  return std::make_unique<ChildRunner>(std::move(o));
}

// The gang leader's runner: shares each job with its gang, then trains its own shard.
class GangLeader final : public JobRunner {
 public:
  GangLeader(JobRunner& inner, mpi::MpiGang& gang) : inner_(inner), gang_(gang) {}
  ModelResult run(const JobAssignment& job) override {
    gang_.share(job);
    return inner_.run(job);
  }
  // A pack (parallel.models_per_job) is shared whole: the gang trains its K models at once.
  std::vector<WorkerMessage> run_pack(const std::vector<JobAssignment>& jobs) override {
    if (jobs.size() < 2) return JobRunner::run_pack(jobs);
    gang_.share(JobPack{jobs});
    return inner_.run_pack(jobs);
  }
  bool broken() const override { return gang_.broken() || inner_.broken(); }

 private:
  JobRunner& inner_;
  mpi::MpiGang& gang_;
};

// A rank of a broken gang must not reach MPI_Finalize: a collective it abandoned is still
// pending (finalizing then crashed Open MPI). The coordinator counts its gang as lost and
// ends the run with MPI_Abort; until then this rank sleeps.
[[noreturn]] void wait_for_abort(const mpi::MpiGang& gang) {
  spdlog::warn("{} is broken: this rank waits for the coordinator to end the run", gang.name());
  spdlog::default_logger()->flush();
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

// A gang member: trains whatever the leader shares (a job or a pack) until told to stop; reports nothing
// (the leader does). Leaves when the gang breaks: the run then ends with MPI_Abort.
void run_gang_member(mpi::MpiGang& gang, JobRunner& runner) {
  for (;;) {
    const auto message = gang.await();
    if (std::holds_alternative<StopWorker>(message)) return;
    const auto* pack = std::get_if<JobPack>(&message);
    const auto& first = pack ? pack->jobs.at(0) : std::get<JobAssignment>(message);
    try {
      if (pack) {
        runner.run_pack(pack->jobs);
      } else {
        runner.run(first);
      }
    } catch (const std::exception& e) {
      spdlog::error("{}: model {} failed on this rank: {}", gang.name(), first.model, e.what());
      if (gang.broken() || runner.broken()) return;
    }
  }
}

std::chrono::milliseconds heartbeat(const Config& config) {
  return std::chrono::seconds(config.experiment.heartbeat_seconds);
}

// One process: the coordinator on this thread, one worker on another.
// `checked`: preflight's outcome for this config.
int run_in_process(const Config& config, const Preflight& checked, bool overwrite, const std::string& log_level) {
  if (config.parallel.ranks_per_model > 1)
    throw ConfigError("parallel.ranks_per_model is " + std::to_string(config.parallel.ranks_per_model) +
                      ": data-parallel gangs need MPI ranks; run under mpirun -np " +
                      std::to_string(config.parallel.ranks_per_model + 1) + " (or more)");
  const int threads = auto_threads(config, 1);
  log_start(config, 1, threads, checked.dp_budget);
  auto data = checked.data;
  const Plan plan = make_plan(config);
  auto runner = isolated(config) ? job_process_runner(config, threads, 0, 0, 0, nullptr, -1, log_level)
                                 : runner_for(config, data, threads, 0, 0);
  RunLock lock(config.experiment.output);
  auto opened = open_results(config, plan, *data, overwrite);
  add_log_file(log_path_for(config.experiment.output));

  InProcessHub hub(1);
  std::thread worker([&] { run_worker(hub.worker(0), *runner, identity(), heartbeat(config)); });
  bool must_abort = false;
  int code = 0;
  try {
    code = run_coordinator(config, plan, opened, hub.coordinator(), must_abort);
  } catch (...) {
    hub.coordinator().send(0, StopWorker{});  // let the worker thread end before unwinding
    worker.join();
    throw;
  }
  if (must_abort) {
    // A model is still training on the worker thread, which cannot be interrupted: the
    // results are durable, so leave without waiting for it (and without a stale lock file).
    ::unlink(RunLock::lock_path(config.experiment.output).c_str());
    spdlog::default_logger()->flush();
    std::_Exit(code);
  }
  worker.join();
  return code;
}

int run_distributed(mpi::Session& session, const RunArgs& args) {
  const bool coordinator = session.rank() == 0;

  // 1. Configuration: rank 0 reads and resolves it, everyone else gets the resolved text.
  std::string failure, yaml;
  int code = 0;
  Config config;
  Preflight checked;
  if (coordinator) {
    try {
      config = resolve_config(args);
      checked = preflight(config, args.config_path, args.overwrite);
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
    return run_in_process(config, checked, args.overwrite, args.log_level);
  }

  // 2. Data, on every rank (rank 0 needs the labels and the files' fingerprint).
  const int workers_here = session.local_size() - (session.coordinator_is_local() ? 1 : 0);
  const int threads = auto_threads(config, workers_here);
  if (coordinator) log_start(config, session.size() - 1, static_cast<int>(config.training.threads), checked.dp_budget);
  std::shared_ptr<const Dataset> data;
  std::unique_ptr<JobRunner> runner;
  mpi::GangLayout layout;
  std::unique_ptr<mpi::MpiGang> gang;
  std::unique_ptr<GangComm> tensor_gang;  // NCCL over `gang`, on CUDA
  try {
    layout = mpi::gang_layout(session.rank(), session.size(), static_cast<int>(config.parallel.ranks_per_model));
    if (layout.ranks_per_model > 1 && session.thread_level() < MPI_THREAD_SERIALIZED)
      throw ConfigError("parallel.ranks_per_model is " + std::to_string(layout.ranks_per_model) +
                        ": a gang leader calls MPI from its job thread as well as its main thread, which needs "
                        "MPI_THREAD_SERIALIZED, but this MPI provides " +
                        mpi::Session::thread_level_name(session.thread_level()) +
                        "; use an MPI built with thread support, or parallel.ranks_per_model: 1");
    // Collective over every rank, the same on all of them: agreed by construction.
    gang = std::make_unique<mpi::MpiGang>(session.world(), layout, std::chrono::seconds(config.parallel.collective_timeout));
    // With job processes, a worker's data is loaded by its job process, not by the rank.
    if (coordinator) {
      data = checked.data;  // read and checked by preflight
    } else if (!isolated(config)) {
      data = dataset_for(config);
    }
    if (!coordinator && isolated(config)) {
      runner = job_process_runner(config, threads, session.local_worker_index(), session.rank() - 1, workers_here,
                                  layout.ranks_per_model > 1 ? gang.get() : nullptr, session.rank(), args.log_level);
    } else if (!coordinator) {
      GangComm* host_gang = layout.ranks_per_model > 1 ? gang.get() : nullptr;
      if (host_gang && !synthetic(config)) {
        const auto device = trainer().choose_device(config, session.local_worker_index(), workers_here);
        tensor_gang = tensor_gang_for(*gang, device, config);
      }
      runner = runner_for(config, data, threads, session.local_worker_index(), session.rank() - 1, host_gang,
                          tensor_gang ? tensor_gang.get() : host_gang, workers_here);
    }
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

  // 3. The results file, on rank 0 only: locked, then created or resumed.
  std::unique_ptr<RunLock> lock;
  std::unique_ptr<Plan> plan;
  OpenedResults opened;
  if (coordinator) {
    try {
      plan = std::make_unique<Plan>(make_plan(config));
      lock = std::make_unique<RunLock>(config.experiment.output);
      opened = open_results(config, *plan, *data, args.overwrite);
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
    data.reset();  // the coordinator needed only the labels and fingerprint, now in the file
    mpi::CoordinatorEnd transport(session.world(), layout.leaders);
    if (layout.ranks_per_model > 1)
      spdlog::info("{} data-parallel gang(s) of {} ranks; the leaders (ranks {}{}) take the jobs",
                   layout.leaders.size(), layout.ranks_per_model, layout.leaders.front(),
                   layout.leaders.size() > 1 ? "..." + std::to_string(layout.leaders.back()) : "");
    bool must_abort = false;
    const int result = run_coordinator(config, *plan, opened, transport, must_abort);
    if (must_abort) {
      // Workers still training an abandoned model, or silent: end them all (the lock file
      // goes first: MPI_Abort runs no destructor).
      ::unlink(RunLock::lock_path(config.experiment.output).c_str());
      spdlog::default_logger()->flush();
      session.abort(result);
    }
    return result;
  }
  spdlog::debug("worker with {} thread(s)", threads);
  if (layout.ranks_per_model > 1 && !layout.leader()) {
    run_gang_member(*gang, *runner);
    if (gang->broken() || runner->broken()) wait_for_abort(*gang);
    return 0;
  }
  mpi::WorkerEnd transport(session.world());
  if (layout.ranks_per_model > 1) {
    GangLeader leader(*runner, *gang);
    run_worker(transport, leader, identity(), heartbeat(config));
    if (leader.broken()) wait_for_abort(*gang);
    gang->share(StopWorker{});
  } else {
    run_worker(transport, *runner, identity(), heartbeat(config));
  }
  return 0;
}

}  // namespace

int job_process_command() {
  return run_job_process(3, [](const child::ChildInit& init, GangComm* gang, std::function<void()> progress) {
    init_logging(init.log_rank, init.log_level);
    const Config config = parse_config(init.config_yaml, "configuration from the worker rank");
    std::shared_ptr<const Dataset> data = dataset_for(config);
    // An NCCL gang, when the job processes of a gang each own a GPU: set up by them, its
    // unique id broadcast through the ranks (`gang` proxies to the rank's MPI gang).
    static std::unique_ptr<GangComm> tensor_gang;
    if (gang && !synthetic(config)) {
      const auto device = trainer().choose_device(config, init.device_index, init.workers_on_node);
      tensor_gang = tensor_gang_for(*gang, device, config);
    }
    return runner_for(config, std::move(data), init.threads, init.device_index, init.worker_index, gang,
                      tensor_gang ? tensor_gang.get() : gang, init.workers_on_node, std::move(progress));
  });
}

int run_command(const RunArgs& args) {
  install_stop_handlers();
  if (!mpi::launched_by_mpi_launcher()) {
    init_logging(-1, args.log_level);
    const Config config = resolve_config(args);
    const Preflight checked = preflight(config, args.config_path, args.overwrite);  // before anything is created
    return run_in_process(config, checked, args.overwrite, args.log_level);
  }
  mpi::Session session;
  init_logging(session.rank(), args.log_level);
  if (session.rank() == 0)
    spdlog::info("MPI thread support: {}", mpi::Session::thread_level_name(session.thread_level()));
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
