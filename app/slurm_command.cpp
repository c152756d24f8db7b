// Implements `lira slurm`.
#include "slurm_command.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/run_lock.hpp"
#include "lira/build_info.hpp"
#include "preflight.hpp"
#include "slurm/sbatch_script.hpp"
#include "data/dataset.hpp"
#include "trainer_loader.hpp"

namespace lira {
namespace {

namespace fs = std::filesystem;

struct SlurmArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string out;
  std::string lira;
  slurm::ScriptSpec spec;
  int ntasks_per_node = 0;
  int ranks_per_gpu = 1;
  int signal_seconds = 0;
  int max_crashes = 3;
  bool dry_run = false;
  bool submit = false;
};

std::string script_path_for(const std::string& results) {
  const fs::path p(results);
  return (p.parent_path() / (p.stem().string() + ".sbatch")).string();
}

// Runs `sbatch --parsable SCRIPT` in DIR (so the job's relative log path lands there) and
// returns the job id it prints.
std::string submit(const std::string& dir, const std::string& script, const std::string& log) {
  int out[2];
  if (pipe(out) != 0) throw Error("lira slurm: pipe failed", ExitCode::kInternal);
  const pid_t pid = fork();
  if (pid < 0) throw Error("lira slurm: fork failed", ExitCode::kInternal);
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    if (chdir(dir.c_str()) != 0) _exit(126);
    const std::string output = "--output=" + log;  // an argument, not a directive: any path
    execlp("sbatch", "sbatch", "--parsable", output.c_str(), script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[256];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == 127)
    throw ConfigError("lira slurm: sbatch not found on PATH: submit from a Slurm login node, or use --dry-run");
  if (code != 0)
    throw ConfigError("lira slurm: sbatch refused the job (exit " + std::to_string(code) +
                      "; its message is above). The script is saved: " + script);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const auto semi = text.find(';');  // --parsable prints "id" or "id;cluster"
  return semi == std::string::npos ? text : text.substr(0, semi);
}

// Slurm's KillWait (seconds between the SIGTERM of a time limit, scancel or preemption and
// the SIGKILL), from `scontrol show config`; -1 where scontrol is not available.
int kill_wait_seconds() {
  FILE* p = ::popen("scontrol show config 2>/dev/null", "r");
  if (!p) return -1;
  int seconds = -1;
  char line[512];
  while (std::fgets(line, sizeof line, p)) {
    int v = 0;
    if (std::sscanf(line, "KillWait = %d", &v) == 1) seconds = v;
  }
  ::pclose(p);
  return seconds;
}

int run_slurm(SlurmArgs a) {
  if (a.dry_run == a.submit) throw ConfigError("lira slurm: give exactly one of --dry-run and --submit");
  if (a.ranks_per_gpu < 1) throw ConfigError("lira slurm: --ranks-per-gpu must be at least 1");
  // --ranks-per-gpu is lira's parallel.ranks_per_gpu too: without it the ranks would not
  // fit the node's GPUs and the job would stop at start-up.
  if (a.ranks_per_gpu > 1) a.overrides.push_back("parallel.ranks_per_gpu=" + std::to_string(a.ranks_per_gpu));
  auto overrides = a.overrides;
  if (!a.out.empty()) overrides.push_back("experiment.output=" + a.out);
  Config config = load_config(a.config, overrides);  // every key checked now, not on the cluster
  // A stop by SIGTERM (scancel, preemption, the time limit's end) is followed by SIGKILL
  // after KillWait: the grace period must end before that, with time to close the file.
  const int kill_wait = kill_wait_seconds();
  const int grace_cap = kill_wait > 0 ? std::max(1, kill_wait - 10) : 20;
  if (config.experiment.grace_seconds > grace_cap) {
    std::fprintf(stderr,
                 "lira slurm: experiment.grace_seconds %lld is lowered to %d under Slurm: %s, so a longer grace "
                 "period would end in SIGKILL (raise KillWait to allow more)\n",
                 static_cast<long long>(config.experiment.grace_seconds), grace_cap,
                 kill_wait > 0 ? ("Slurm's KillWait is " + std::to_string(kill_wait) + " s").c_str()
                               : "Slurm's KillWait could not be read here (scontrol show config), and its default is 30 s");
    a.overrides.push_back("experiment.grace_seconds=" + std::to_string(grace_cap));
    config.experiment.grace_seconds = grace_cap;
  }

  auto& s = a.spec;
  // GPUs requested: every rank must use one. `training.device: auto` would quietly train on
  // the CPU of a node whose GPU is not visible, and a lira without CUDA would train all of
  // them there: refuse the second, and turn auto into cuda so that the first fails loudly.
  if (s.gpus_per_node > 0 && config.training.device != "cuda") {
    const bool own_build = a.lira.empty();  // with --lira (a container), its build is unknown here
    if (config.training.device == "cpu")
      throw ConfigError("lira slurm: --gpus-per-node " + std::to_string(s.gpus_per_node) +
                        " asks for GPUs, but training.device is cpu: every rank would leave its GPU idle. Set "
                        "training.device: cuda (or auto), or give --gpus-per-node 0");
    if (own_build && !trainer().torch_info().cuda_compiled)
      throw ConfigError("lira slurm: --gpus-per-node " + std::to_string(s.gpus_per_node) +
                        " asks for GPUs, but this lira's libtorch was built without CUDA (lira --version): every rank "
                        "would train on the CPU. Build lira against a CUDA libtorch (docs/gpu.md), give --lira PATH "
                        "of one that has CUDA, or give --gpus-per-node 0");
    a.overrides.push_back("training.device=cuda");
    config.training.device = "cuda";
    std::fprintf(stderr, "lira slurm: training.device auto becomes cuda: GPUs were requested\n");
  }
  // What `lira run` would refuse at start, refused before anything is submitted
  // (app/preflight.hpp: the same checks as `lira validate`).
  Preflight checked;
  try {
    checked = preflight(config, a.config, false, /*check_device=*/a.lira.empty());
  } catch (const Error& e) {
    if (a.submit) throw;
    std::fprintf(stderr, "lira slurm: warning: lira run would refuse this config: %s\n", e.what());
  }
  // Each rank's threads (training.threads; 0: the node's cores shared by its ranks).
  if (s.cpus_per_task == 0 && config.training.threads > 0) s.cpus_per_task = static_cast<int>(config.training.threads);
  // Memory per node: an estimate from the data every worker rank holds, unless given.
  if (s.mem.empty() && checked.data) {
    const auto& d = *checked.data;
    const double examples = static_cast<double>(d.candidates.count + d.test.count) *
                            static_cast<double>(std::max<int64_t>(1, d.candidates.example_size()));
    const double tokens = d.text ? static_cast<double>(d.text->tokens.size()) : 0.0;
    // Each worker: the data as stored (1 byte a pixel) and as float32 tensors, the tokens
    // (int64), and about 1.5 GB for libtorch, the model and its optimizer state.
    const double per_rank = 5.0 * examples + 8.0 * tokens + 1.5e9;
    const int ranks = s.workers_per_node > 0 ? s.workers_per_node : 1;
    const double node = per_rank * (ranks + 1);  // + the coordinator, on the first node
    const auto gb = static_cast<int64_t>(std::ceil(node / 1e9));
    s.mem = std::to_string(std::max<int64_t>(2, gb)) + "G";
    std::fprintf(stderr,
                 "lira slurm: --mem=%s per node (estimate: %d worker rank(s) + the coordinator, each %.2f GB: the "
                 "data as bytes and float32, plus 1.5 GB for libtorch and the model); give --mem to change it\n",
                 s.mem.c_str(), ranks, per_rank / 1e9);
  }
  // Across nodes, the launcher that is tested there (tests/slurm/two_nodes.sh): mpirun.
  if (s.launcher == "auto" && s.nodes > 1) s.launcher = "mpirun";
  std::error_code ec;
  s.workdir = fs::current_path().string();
  if (a.lira.empty()) {
    s.lira = fs::canonical("/proc/self/exe", ec).string();
    if (ec) throw Error("lira slurm: cannot find this executable's path", ExitCode::kInternal);
  } else {
    s.lira = a.lira;  // e.g. the path inside a container
  }
  s.config = fs::absolute(a.config).lexically_normal().string();
  s.results = fs::absolute(config.experiment.output).lexically_normal().string();
  s.script = script_path_for(s.results);
  s.overrides = a.overrides;
  s.experiment = config.experiment.name;
  s.max_crashes = a.max_crashes;
  s.version = build::kVersion;
  s.workers_per_node = a.ntasks_per_node > 0 ? a.ntasks_per_node
                       : s.gpus_per_node > 0 ? s.gpus_per_node * a.ranks_per_gpu
                                             : 1;
  // The warning must leave the grace period and some margin (Slurm checks time limits
  // about every 30 s) before the job is killed.
  s.signal_seconds = a.signal_seconds > 0 ? a.signal_seconds : static_cast<int>(config.experiment.grace_seconds) + 60;
  const std::string text = slurm::render_script(s);

  if (a.dry_run) {
    std::cout << text;
    return 0;
  }
  std::string holder;
  if (RunLock::held(s.results, &holder))
    throw StorageError("lira slurm: a run of " + s.results + " is active (" + holder +
                       "); wait for it or stop it before submitting another");
  const std::string dir = fs::path(s.results).parent_path().string();
  fs::create_directories(dir, ec);
  if (ec) throw StorageError("lira slurm: cannot create " + dir + ": " + ec.message());
  {
    const std::string tmp = s.script + ".tmp";
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    f.close();
    if (!f) throw StorageError("lira slurm: cannot write " + tmp);
    fs::permissions(tmp, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read, ec);
    fs::rename(tmp, s.script, ec);
    if (ec) throw StorageError("lira slurm: cannot write " + s.script + ": " + ec.message());
  }
  const std::string log_pattern = slurm::log_path(s.results);
  const std::string job = submit(dir, s.script, log_pattern);
  std::string log = s.results + ".slurm-" + job + ".out";
  std::printf("submitted job %s: experiment '%s', %d node(s) x %d worker rank(s) + the coordinator\n", job.c_str(),
              config.experiment.name.c_str(), s.nodes, s.workers_per_node);
  std::printf("script:  %s\nresults: %s\nlog:     %s (each later allocation writes its own)\n", s.script.c_str(),
              s.results.c_str(), log.c_str());
  std::printf("follow:  %s status %s   |   tail -f %s   |   squeue --name=lira-%s\n", s.lira.c_str(),
              slurm::shell_quote(s.results).c_str(), slurm::shell_quote(log).c_str(),
              slurm::sanitize_name(config.experiment.name).c_str());
  std::printf("cancel:  scancel --name=lira-%s   (the job and any allocation it chained)\n",
              slurm::sanitize_name(config.experiment.name).c_str());
  return 0;
}

}  // namespace

Subcommand add_slurm_command(CLI::App& app) {
  auto a = std::make_shared<SlurmArgs>();
  auto* cmd = app.add_subcommand("slurm", "Render (--dry-run) or submit (--submit) the experiment as a preemption-safe sbatch job");
  cmd->add_option("config", a->config, "Experiment config (YAML)")->required();
  cmd->add_flag("--dry-run", a->dry_run, "Print the sbatch script; submit nothing");
  cmd->add_flag("--submit", a->submit, "Save the script next to the results file and submit it with sbatch");
  cmd->add_option("--set", a->overrides, "Override a config key, passed on to lira run (repeatable)");
  cmd->add_option("--out", a->out, "Results file (overrides experiment.output)");
  auto& s = a->spec;
  cmd->add_option("--nodes", s.nodes, "Nodes")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--ntasks-per-node", a->ntasks_per_node,
                  "Worker ranks per node (default: gpus-per-node x ranks-per-gpu, or 1 without GPUs); the first node "
                  "also runs the coordinator")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--gpus-per-node", s.gpus_per_node, "GPUs per node (0: CPU)")->capture_default_str()->check(CLI::Range(0, 1024));
  cmd->add_option("--ranks-per-gpu", a->ranks_per_gpu, "Worker ranks sharing each GPU")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--cpus-per-task", s.cpus_per_task, "CPUs per rank (training.threads: 0 uses them all)")->check(CLI::Range(1, 4096));
  cmd->add_option("--mem", s.mem, "Memory per node, as sbatch --mem (e.g. 64G)");
  cmd->add_option("--time", s.time, "Time limit of one allocation, as sbatch --time (e.g. 4:00:00)");
  cmd->add_option("--partition", s.partition, "Slurm partition");
  cmd->add_option("--account", s.account, "Slurm account");
  cmd->add_option("--qos", s.qos, "Slurm QOS");
  cmd->add_option("--constraint", s.constraint, "Node features, as sbatch --constraint");
  cmd->add_flag("--overcommit", s.overcommit, "Allow more ranks than CPUs (sbatch --overcommit)");
  cmd->add_option("--sbatch", s.sbatch_lines, "An extra #SBATCH option, e.g. --sbatch=--exclusive (repeatable)");
  cmd->add_option("--prelude", s.prelude,
                  "A shell line run before lira, e.g. 'module load openmpi' (repeatable, verbatim)");
  cmd->add_option("--exec-prefix", s.exec_prefix,
                  "Shell words run before lira on every rank, e.g. 'apptainer exec --nv /images/lira.sif' (verbatim)");
  cmd->add_option("--lira", a->lira, "The lira executable the ranks run (default: this one; with a container: its path inside)");
  cmd->add_option("--launcher", s.launcher, "auto (one node: srun --mpi=pmix where Slurm has pmix, else mpirun; several nodes: mpirun, the launcher "
                  "tested across nodes), srun or mpirun")
      ->capture_default_str();
  cmd->add_option("--signal-seconds", a->signal_seconds,
                  "Ask Slurm for SIGUSR1 this long before the time limit (default: experiment.grace_seconds + 60)")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--max-crashes", a->max_crashes,
                  "Resubmit after at most this many abnormal ends (a lost rank or node, a signal, exit 137/139); "
                  "then stop with a summary")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--max-links", s.max_links, "At most this many allocations in a chain")->capture_default_str()->check(CLI::Range(1, 10000));
  return {cmd, [a] { return run_slurm(*a); }};
}

}  // namespace lira
