#!/usr/bin/env bash
# The rendered script's decision after lira exits, under bash with stub Slurm commands (no
# Slurm needed): an abnormal end (137, 139, 1) resubmits with the crash count carried in
# LIRA_SLURM_CRASHES until more than --max-crashes of them, then stops with a summary; an
# input error (2) never resubmits; an interruption (5) resubmits without counting a crash.
# usage: crash_budget.sh LIRA
set -uo pipefail
lira=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cat >"$work/exp.yaml" <<'YAML'
experiment:
  models: 2
data:
  candidates: 10
model:
  arch: synthetic
YAML
(cd "$work" && "$lira" slurm exp.yaml --out "$work/r.h5" --max-crashes 2 --launcher srun --dry-run >"$work/script.sh") ||
  fail "lira slurm --dry-run"
mkdir -p "$work/bin"
# srun "runs" lira by exiting with $STUB_RC; sbatch records the crash count it was given.
cat >"$work/bin/srun" <<'STUB'
#!/bin/bash
[ "${1:-}" = --mpi=list ] && { echo "pmix"; exit 0; }
exit "$STUB_RC"
STUB
cat >"$work/bin/sbatch" <<'STUB'
#!/bin/bash
echo "crashes=${LIRA_SLURM_CRASHES:-} codes=${LIRA_SLURM_CRASH_CODES:-} link=${LIRA_SLURM_LINK:-}" >>"$SBATCH_LOG"
echo 1001
STUB
printf '#!/bin/bash\necho localhost\n' >"$work/bin/scontrol"
chmod +x "$work/bin"/*
# run RC CRASHES_SO_FAR: the script's exit code; its output in $work/out
run() {
  rm -f "$work/sbatch.log"
  STUB_RC=$1 LIRA_SLURM_CRASHES=$2 LIRA_SLURM_CRASH_CODES=${3:-} SBATCH_LOG=$work/sbatch.log PATH="$work/bin:$PATH" \
    SLURM_JOB_ID=1000 SLURM_JOB_NODELIST=localhost bash "$work/script.sh" >"$work/out" 2>&1
}
run 137 0; rc=$?
[ $rc -eq 0 ] || { cat "$work/out"; fail "a first crash should resubmit and exit 0, not $rc"; }
grep -q "abnormal end 1 of at most 2 (exit 137): resubmitting" "$work/out" || { cat "$work/out"; fail "no crash line"; }
grep -q "crashes=1 codes=137 link=2" "$work/sbatch.log" || fail "the crash count did not travel: $(cat "$work/sbatch.log")"
run 139 1 137; rc=$?
[ $rc -eq 0 ] && grep -q "crashes=2 codes=137 139" "$work/sbatch.log" || fail "second crash: exit $rc, $(cat "$work/sbatch.log" 2>&1)"
run 137 2 "137 139"; rc=$?
[ $rc -eq 137 ] || { cat "$work/out"; fail "past the budget the script should exit 137, not $rc"; }
grep -q "crash budget spent: 3 abnormal end(s) (exit codes: 137 139 137), more than --max-crashes 2" "$work/out" ||
  { cat "$work/out"; fail "no budget summary"; }
[ -e "$work/sbatch.log" ] && fail "resubmitted past the crash budget"
run 2 0; rc=$?
[ $rc -eq 2 ] && [ ! -e "$work/sbatch.log" ] || fail "an input error was resubmitted (exit $rc)"
run 5 1 137; rc=$?
[ $rc -eq 0 ] && grep -q "crashes=1 codes=137 link=2" "$work/sbatch.log" || fail "an interruption changed the crash count"
echo "ok: crash budget"
