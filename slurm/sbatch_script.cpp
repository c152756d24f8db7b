#include "slurm/sbatch_script.hpp"

#include <sstream>

#include "common/errors.hpp"

namespace lira::slurm {
namespace {

std::string dirname_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void check_value(const std::string& option, const std::string& value) {
  if (!safe_directive_value(value))
    throw ConfigError("lira slurm: " + option + " '" + value +
                      "' cannot go into an #SBATCH line: use letters, digits and -_.,:=+@/&|[]*() only");
}

void directive(std::ostringstream& o, const std::string& option, const std::string& value, const char* comment = "") {
  if (value.empty()) return;
  check_value("--" + option, value);
  o << "#SBATCH --" << option << "=" << value << comment << "\n";
}

}  // namespace

std::string shell_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

std::string sanitize_name(std::string_view s, size_t max_len) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max_len) break;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    out += ok ? c : '_';
  }
  return out.empty() ? "lira" : out;
}

bool safe_directive_value(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;  // whitespace, control characters, non-ASCII
    switch (c) {
      case '\'': case '"': case '\\': case '$': case '`': case '#': case '%': case ';': case '<': case '>':
      case '!': case '{': case '}':
        return false;
      default:
        break;
    }
  }
  return true;
}

std::string log_file_name(const std::string& results) {
  return sanitize_name(basename_of(results), 200) + ".slurm-%j.out";
}

std::string log_path(const std::string& results) {
  // Slurm expands %-patterns (and a backslash stops the expansion) in --output: a
  // results name holding them is kept literal with "%%" and "\\".
  std::string name;
  for (char c : basename_of(results)) {
    if (c == '%' || c == '\\') name += c;
    name += c;
  }
  return dirname_of(results) + "/" + name + ".slurm-%j.out";
}

std::string render_script(const ScriptSpec& s) {
  if (s.nodes < 1) throw ConfigError("lira slurm: --nodes must be at least 1");
  if (s.workers_per_node < 1) throw ConfigError("lira slurm: at least one worker rank per node is needed");
  if (s.gpus_per_node < 0 || s.cpus_per_task < 0) throw ConfigError("lira slurm: negative resource count");
  if (s.launcher != "auto" && s.launcher != "srun" && s.launcher != "mpirun")
    throw ConfigError("lira slurm: --launcher must be auto, srun or mpirun, not '" + s.launcher + "'");
  if (s.signal_seconds < 1 || s.signal_seconds > 65535)
    throw ConfigError("lira slurm: --signal-seconds must be in [1, 65535]");
  if (s.max_links < 1) throw ConfigError("lira slurm: --max-links must be at least 1");
  if (s.max_crashes < 0) throw ConfigError("lira slurm: --max-crashes must be at least 0");
  for (const auto* p : {&s.lira, &s.workdir, &s.config, &s.results, &s.script})
    if (p->empty() || (*p)[0] != '/') throw ConfigError("lira slurm: internal: paths must be absolute");

  std::ostringstream o;
  const std::string job = "lira-" + sanitize_name(s.experiment);
  o << "#!/bin/bash\n"
    << "# sbatch script rendered by `lira slurm` (lira " << sanitize_name(s.version) << ") for experiment " << job
    << ".\n"
    << "# Submitting it again (sbatch, from the results directory) resumes the same run. docs/slurm.md\n"
    << "# explains every line.\n";
  o << "#SBATCH --job-name=" << job << "\n";
  o << "#SBATCH --nodes=" << s.nodes << "\n";
  o << "# worker ranks per node + 1: the coordinator's slot (used on the first node only)\n";
  if (s.overcommit) {
    // Slurm refuses --ntasks-per-node above a node's CPU count even with --overcommit;
    // a task count is accepted (with one node it is the same request).
    o << "#SBATCH --ntasks=" << static_cast<int64_t>(s.nodes) * (s.workers_per_node + 1) << "\n";
  } else {
    o << "#SBATCH --ntasks-per-node=" << s.workers_per_node + 1 << "\n";
  }
  if (s.gpus_per_node > 0) o << "#SBATCH --gpus-per-node=" << s.gpus_per_node << "\n";
  if (s.cpus_per_task > 0) o << "#SBATCH --cpus-per-task=" << s.cpus_per_task << "\n";
  directive(o, "mem", s.mem);
  directive(o, "time", s.time);
  directive(o, "partition", s.partition);
  directive(o, "account", s.account);
  directive(o, "qos", s.qos);
  directive(o, "constraint", s.constraint);
  if (s.overcommit) o << "#SBATCH --overcommit\n";
  // The log goes next to the results file, by absolute path. A path an #SBATCH line cannot
  // hold (spaces, quotes) goes on sbatch's command line instead: `lira slurm --submit` and
  // the chain pass --output there (the line below is then only the fallback of a bare
  // `sbatch SCRIPT` from the results directory).
  const std::string log = log_path(s.results);
  if (safe_directive_value(s.results)) {  // the log is the results path + ".slurm-%j.out"
    o << "#SBATCH --output=" << log << "\n";
  } else {
    o << "# the log path holds characters an #SBATCH line cannot: lira slurm --submit and the chain give it to\n"
      << "# sbatch as --output; a bare `sbatch SCRIPT` writes this name in the directory it runs in\n"
      << "#SBATCH --output=" << log_file_name(s.results) << "\n";
  }
  o << "# a requeued job appends to its log; preemption requeues the job, which resumes from the\n"
    << "# results file; SIGUSR1 to this script before the time limit starts the next allocation\n";
  o << "#SBATCH --open-mode=append\n";
  o << "#SBATCH --requeue\n";
  o << "#SBATCH --signal=B:USR1@" << s.signal_seconds << "\n";
  for (const auto& line : s.sbatch_lines) {
    check_value("--sbatch", line);
    if (line[0] != '-') throw ConfigError("lira slurm: --sbatch '" + line + "' must be an option such as --exclusive");
    o << "#SBATCH " << line << "\n";
  }
  // The first command ends sbatch's scan for directives: nothing below is read as one.
  o << "set -uo pipefail\n";
  if (!s.prelude.empty()) {
    o << "\n# --prelude lines, verbatim\n";
    for (const auto& line : s.prelude) o << line << "\n";
  }

  o << "\n# The run. Every value is single-quoted: nothing in it is expanded or executed.\n";
  o << "LIRA=" << shell_quote(s.lira) << "\n";
  o << "WORKDIR=" << shell_quote(s.workdir) << "\n";
  o << "RESULTS=" << shell_quote(s.results) << "\n";
  o << "SCRIPT=" << shell_quote(s.script) << "\n";
  o << "LOG=" << shell_quote(log) << "\n";
  if (s.exec_prefix.find('\n') != std::string::npos)
    throw ConfigError("lira slurm: --exec-prefix must be one line");
  o << "EXEC_PREFIX=(" << s.exec_prefix << ")   # --exec-prefix, verbatim\n";
  o << "RUN=(\"$LIRA\" run " << shell_quote(s.config) << " --out \"$RESULTS\"";
  for (const auto& kv : s.overrides) o << " --set " << shell_quote(kv);
  o << ")\n";
  o << "WORKERS_PER_NODE=" << s.workers_per_node << "\n";
  o << "GPUS_PER_NODE=" << s.gpus_per_node << "\n";
  o << "LAUNCHER=" << s.launcher << "\n";
  o << "OVERCOMMIT=" << (s.overcommit ? 1 : 0) << "\n";
  o << "MAX_LINKS=" << s.max_links << "\n";
  o << "MAX_CRASHES=" << s.max_crashes << "\n";
  o << "LINK=${LIRA_SLURM_LINK:-1}\n";
  o << "CRASHES=${LIRA_SLURM_CRASHES:-0}         # abnormal ends so far in this chain\n";
  o << "CRASH_CODES=${LIRA_SLURM_CRASH_CODES:-}  # their exit codes\n";

  o << R"SCRIPT(
say() { printf 'lira-slurm: %s\n' "$*"; }
# Continue in a new allocation once this one has ended (the chain's counters travel along).
resubmit() {
  if [ "$LINK" -ge "$MAX_LINKS" ]; then
    say "reached $MAX_LINKS allocations; to continue: cd $(printf %q "$(dirname "$SCRIPT")") && sbatch ${SCRIPT@Q}"
    exit "$rc"
  fi
  local job=$SLURM_JOB_ID next
  next=$(cd "$(dirname "$SCRIPT")" && for v in $(compgen -v SLURM_); do [ "$v" = SLURM_CONF ] || unset "$v"; done &&
         LIRA_SLURM_LINK=$((LINK + 1)) LIRA_SLURM_CRASHES=$CRASHES LIRA_SLURM_CRASH_CODES=$CRASH_CODES \
         sbatch --parsable --dependency="afterany:$job" --output="$LOG" "$SCRIPT") ||
    { say "resubmission failed; to continue: sbatch ${SCRIPT@Q}"; exit "$rc"; }
  say "continuing as job $next (allocation $((LINK + 1)))"
  exit 0
}
cd "$WORKDIR" || { say "cannot cd to the submission directory $WORKDIR"; exit 3; }
say "job ${SLURM_JOB_ID:-?} on ${SLURM_JOB_NODELIST:-?}: allocation $LINK of at most $MAX_LINKS, restart ${SLURM_RESTART_COUNT:-0}, $(date '+%F %T')"

# Rank layout: rank 0 (the coordinator) and WORKERS_PER_NODE workers on the first node,
# WORKERS_PER_NODE workers on every other node. lira picks each worker's GPU from its
# index among the workers of its node.
mapfile -t nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
[ ${#nodes[@]} -gt 0 ] || { say "no nodes in SLURM_JOB_NODELIST"; exit 3; }
ntasks=$(( ${#nodes[@]} * WORKERS_PER_NODE + 1 ))
hosts=$(mktemp "${TMPDIR:-/tmp}/lira-hosts.XXXXXX") || exit 3
trap 'rm -f "$hosts"' EXIT

if [ "$LAUNCHER" = auto ]; then
  if srun --mpi=list 2>&1 | grep -qw pmix; then LAUNCHER=srun; elif command -v mpirun >/dev/null; then LAUNCHER=mpirun
  else say "neither srun --mpi=pmix nor mpirun is available"; exit 3; fi
fi
if [ "$LAUNCHER" = srun ]; then
  { echo "${nodes[0]}"; for n in "${nodes[@]}"; do for ((i = 0; i < WORKERS_PER_NODE; i++)); do echo "$n"; done; done; } >"$hosts"
  launch=(srun --mpi=pmix --ntasks="$ntasks" --distribution=arbitrary --kill-on-bad-exit=0)
  [ "$GPUS_PER_NODE" -gt 0 ] && launch+=(--gpus-per-node="$GPUS_PER_NODE")
  [ -n "${SLURM_CPUS_PER_TASK:-}" ] && launch+=(--cpus-per-task="$SLURM_CPUS_PER_TASK")
  [ "$OVERCOMMIT" = 1 ] && launch+=(--overcommit)
  export SLURM_HOSTFILE=$hosts
else
  { echo "${nodes[0]} slots=$((WORKERS_PER_NODE + 1))"
    for n in "${nodes[@]:1}"; do echo "$n slots=$WORKERS_PER_NODE"; done; } >"$hosts"
  launch=(mpirun -np "$ntasks" --hostfile "$hosts" --map-by slot --bind-to none)
fi
say "launching $ntasks ranks with $LAUNCHER: rank 0 coordinates, $((ntasks - 1)) train"

# Signals: USR1 (sbatch --signal, before the time limit) and TERM (preemption, requeue,
# scancel) become USR1 to the launcher, which forwards it to every rank: lira stops
# dispatching, lets running models finish within experiment.grace_seconds, and exits 5.
stop=""
forward() { stop=${stop:-$1}; [ -n "${pid:-}" ] && kill -USR1 "$pid" 2>/dev/null; }
trap 'forward USR1' USR1
trap 'forward TERM' TERM
trap 'forward INT' INT
"${launch[@]}" "${EXEC_PREFIX[@]}" "${RUN[@]}" &
pid=$!
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
wait "$pid"
rc=$?
say "lira run exited with $rc$([ -n "$stop" ] && echo " after SIG$stop")"

case $rc in
  0) say "every model is done: $RESULTS"; exit 0 ;;
  4) say "finished; some models failed (${LIRA@Q} status ${RESULTS@Q})"; exit 4 ;;
  5 | 6)
    # Interrupted (5) or a worker stopped answering (6): the results file holds every
    # finished model. Before the time limit, continue in a new allocation; on preemption
    # or requeue, Slurm restarts this script itself; on scancel, stop.
    if [ "$stop" = TERM ] || [ "$stop" = INT ]; then say "stopped by SIG$stop; not resubmitting"; exit "$rc"; fi
    resubmit ;;
  2 | 3) say "not resubmitting: fix the error above, then sbatch ${SCRIPT@Q} resumes"; exit "$rc" ;;
  *)
    # An abnormal end: a rank or node lost (the launcher ends the step), a signal, a
    # segfault (139), the OOM killer (137), MPI_Abort. The results file keeps every
    # finished model and counts the models in flight as crashed; resubmit, up to a budget.
    if [ "$stop" = TERM ] || [ "$stop" = INT ]; then say "stopped by SIG$stop; not resubmitting"; exit "$rc"; fi
    CRASHES=$((CRASHES + 1)); CRASH_CODES="${CRASH_CODES:+$CRASH_CODES }$rc"
    if [ "$CRASHES" -gt "$MAX_CRASHES" ]; then
      say "crash budget spent: $CRASHES abnormal end(s) (exit codes: $CRASH_CODES), more than --max-crashes $MAX_CRASHES."
      say "not resubmitting. The models in flight at each crash are counted in /models/crashes of the results;"
      say "see: ${LIRA@Q} status ${RESULTS@Q}   and the log above. To go on anyway: sbatch ${SCRIPT@Q}"
      exit "$rc"
    fi
    say "abnormal end $CRASHES of at most $MAX_CRASHES (exit $rc): resubmitting"
    resubmit ;;
esac
)SCRIPT";
  return o.str();
}

}  // namespace lira::slurm
