#!/usr/bin/env bash
# `lira slurm` submits only what `lira run` would start, and renders what the job needs:
# a config `lira validate` refuses is never submitted; GPUs requested turn device auto
# into cuda (and are refused by a lira without CUDA); --cpus-per-task follows
# training.threads; --mem is set from a printed estimate; several nodes default to the
# mpirun launcher; a results path with spaces gets its log by absolute path on sbatch's
# command line. No Slurm needed: sbatch is a stub that records its arguments.
# usage: render.sh LIRA SOURCE_DIR
set -uo pipefail
lira=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$work/bin"
cat >"$work/bin/sbatch" <<'STUB'
#!/bin/bash
printf '%s\n' "$@" >>"$SBATCH_ARGS"
echo 4242
STUB
printf '#!/bin/bash\nexit 1\n' >"$work/bin/scontrol"
chmod +x "$work/bin/sbatch" "$work/bin/scontrol"
export PATH="$work/bin:$PATH" SBATCH_ARGS="$work/sbatch.args"
config=$src/configs/quickstart.yaml

# 1. A config lira validate refuses (its data is missing) is not submitted.
"$lira" slurm "$config" --set "data.path=$work/no-data" --out "$work/a.h5" --submit >"$work/log" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "submit of a config with missing data: exit $rc: $(cat "$work/log")"
grep -q "does not exist" "$work/log" || fail "no data message: $(cat "$work/log")"
[ ! -e "$SBATCH_ARGS" ] || fail "sbatch was called for a config that does not validate"
echo "ok   a config that does not validate is not submitted"

# 2. GPUs on a lira without CUDA: refused; with another lira (a container): device cuda.
if "$lira" --version | grep -q "CUDA no"; then
  "$lira" slurm "$config" --out "$work/b.h5" --gpus-per-node 1 --dry-run >"$work/script" 2>"$work/log"
  rc=$?
  [ $rc -eq 2 ] && grep -q "built without CUDA" "$work/log" || fail "GPUs without CUDA: exit $rc: $(cat "$work/log")"
  echo "ok   GPUs requested from a lira without CUDA: refused"
fi
"$lira" slurm "$config" --out "$work/b.h5" --gpus-per-node 1 --lira /opt/container/lira --dry-run >"$work/script" 2>"$work/log" ||
  fail "dry run with --lira: $(cat "$work/log")"
grep -q -- "--set 'training.device=cuda'" "$work/script" || fail "device auto did not become cuda"
# ... and submitted: the container's lira is another build, whose CUDA this one cannot judge.
rm -f "$SBATCH_ARGS"
"$lira" slurm "$config" --out "$work/b.h5" --gpus-per-node 1 --lira /opt/container/lira --submit >"$work/log" 2>&1 ||
  fail "submit with --lira and GPUs: $(cat "$work/log")"
[ -s "$SBATCH_ARGS" ] || fail "not submitted"
rm -f "$SBATCH_ARGS"
echo "ok   device auto becomes cuda when GPUs are requested"

# 3. CPUs per task from training.threads, memory from the estimate it prints.
"$lira" slurm "$config" --out "$work/c.h5" --set training.threads=3 --dry-run >"$work/script" 2>"$work/log" ||
  fail "dry run: $(cat "$work/log")"
grep -q "^#SBATCH --cpus-per-task=3$" "$work/script" || fail "no --cpus-per-task=3"
grep -q "^#SBATCH --mem=[0-9]*G$" "$work/script" || fail "no --mem"
grep -q -- "--mem=[0-9]*G per node (estimate" "$work/log" || fail "the memory estimate is not printed: $(cat "$work/log")"
"$lira" slurm "$config" --out "$work/c.h5" --mem 7G --dry-run >"$work/script" 2>/dev/null || fail "dry run --mem"
grep -q "^#SBATCH --mem=7G$" "$work/script" || fail "--mem 7G not kept"
echo "ok   --cpus-per-task from training.threads, --mem from the estimate (or as given)"

# 4. Several nodes: the launcher tested across nodes.
"$lira" slurm "$config" --out "$work/d.h5" --nodes 2 --dry-run >"$work/script" 2>/dev/null || fail "dry run --nodes 2"
grep -q "^LAUNCHER=mpirun$" "$work/script" || fail "--nodes 2 does not default to mpirun"
"$lira" slurm "$config" --out "$work/d.h5" --dry-run >"$work/script" 2>/dev/null || fail "dry run"
grep -q "^LAUNCHER=auto$" "$work/script" || fail "one node: the launcher is not auto"
echo "ok   several nodes default to mpirun"

# 5. A results path with spaces: the log's absolute path goes to sbatch as --output.
mkdir -p "$work/my results"
"$lira" slurm "$config" --out "$work/my results/r 1.h5" --submit >"$work/log" 2>&1 || fail "submit: $(cat "$work/log")"
grep -qxF -- "--output=$work/my results/r 1.h5.slurm-%j.out" "$SBATCH_ARGS" ||
  fail "sbatch got no absolute --output: $(cat "$SBATCH_ARGS")"
grep -qF "log:     $work/my results/r 1.h5.slurm-4242.out" "$work/log" || fail "the log path printed: $(cat "$work/log")"
echo "ok   a path with spaces: the log by absolute path"
echo "render: OK"
