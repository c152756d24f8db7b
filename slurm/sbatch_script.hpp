// Renders the sbatch script of `lira slurm`: plain C++ (no Slurm, no MPI), so a unit test
// can check every line. docs/slurm.md explains the script line by line.
//
// Safety rule: nothing from a config or a path reaches a shell unquoted. Values that go
// into `#SBATCH` lines (which sbatch parses itself, and where a newline would start a
// shell command) are either derived and sanitized (job name, log file name) or checked
// against a conservative character set, with an error naming the option. Everything in
// the script body is single-quoted (shell_quote).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lira::slurm {

struct ScriptSpec {
  // What to run. Absolute paths (the job starts elsewhere than `lira slurm` did).
  std::string lira;          // the lira executable
  std::string workdir;       // where `lira slurm` ran: relative paths in the config resolve here
  std::string config;        // the experiment config
  std::string results;       // the results file (lira run --out)
  std::string script;        // where this script is saved (for resubmission)
  std::vector<std::string> overrides;  // --set k=v, passed on to lira run
  std::string experiment;    // experiment.name (sanitized into the job name)
  std::string version;       // lira's version, for the header

  // Resources. workers_per_node worker ranks on every node, plus the coordinator on the
  // first node: the allocation reserves workers_per_node + 1 tasks per node.
  int nodes = 1;
  int workers_per_node = 1;
  int gpus_per_node = 0;
  int cpus_per_task = 0;        // 0: Slurm's default
  std::string mem, time, partition, account, qos, constraint;  // empty: not given
  bool overcommit = false;
  std::vector<std::string> sbatch_lines;  // extra directives: "--exclusive" -> "#SBATCH --exclusive"
  std::vector<std::string> prelude;       // shell lines run first (module loads, ...), verbatim
  std::string exec_prefix;  // shell words put before lira on every rank (a container), verbatim

  std::string launcher = "auto";  // auto | srun | mpirun
  int signal_seconds = 120;       // USR1 this long before the time limit
  int max_links = 20;             // at most this many allocations in a chain
  int max_crashes = 3;            // resubmissions after abnormal ends (lost rank, signal, 137/139)
};

// A single-quoted shell word equal to s, whatever s holds ('\'' for each quote).
std::string shell_quote(std::string_view s);

// s reduced to [A-Za-z0-9._-] (others become '_'), at most max_len characters, never empty.
std::string sanitize_name(std::string_view s, size_t max_len = 64);

// Whether s may go into an #SBATCH line verbatim: non-empty, no whitespace, quotes,
// backslashes, '$', '`', '#' or control characters.
bool safe_directive_value(std::string_view s);

// The script. Throws ConfigError for a value that cannot go into it safely.
std::string render_script(const ScriptSpec& spec);

// The log file of job JOBID: <results dir>/<results name>.slurm-JOBID.out, as an sbatch
// --output pattern (%j; a '%' or '\' of the name doubled so that Slurm keeps it).
std::string log_path(const std::string& results);
// The same name reduced to [A-Za-z0-9._-], without directory: the #SBATCH fallback for a
// results path that an #SBATCH line cannot hold.
std::string log_file_name(const std::string& results);

}  // namespace lira::slurm
