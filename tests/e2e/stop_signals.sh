#!/usr/bin/env bash
# SIGTERM to every rank (what Slurm does on preemption), SIGUSR1 to mpirun (forwarded, as
# with sbatch --signal) and SIGINT (Ctrl-C):
# the run stops dispatching, lets running models finish within the grace period, records
# "interrupted", and the same command resumes it to a file identical to an uninterrupted
# run's. A grace period of 0 abandons the running models instead.
# usage: stop_signals.sh LIRA MAKE_DATASET CHECK_RESULTS SOURCE_DIR MPIEXEC
set -uo pipefail
lira=$1 make_dataset=$2 check=$3 src=$4 mpiexec=$5
work=$(mktemp -d)
trap 'pkill -9 -f "$work/" 2>/dev/null; rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
"$make_dataset" "$work/data" 1500 100 || exit 1
args=(run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/data" --set data.candidates=1000
      --set training.epochs=150 --set experiment.models=12 --set experiment.heartbeat_seconds=1)
fail() { echo "FAIL: $*"; exit 1; }
"$lira" "${args[@]}" --out "$work/ref.h5" --log-level warn || fail "reference run"

# Starts a run, waits until a model is done, sends the signal -- to the launched process,
# or with target "ranks" to every rank of an mpirun job, as Slurm signals every task of a
# step -- and prints the exit code.
interrupt() {  # out signal grace target launcher...
  local out=$1 sig=$2 grace=$3 target=$4
  shift 4
  "$@" "${args[@]}" --set "experiment.grace_seconds=$grace" --out "$out" >"$out.out" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do grep -q "done by" "$out.out" 2>/dev/null && break; sleep 0.05; done
  if [ "$target" = ranks ]; then
    kill -"$sig" $(pgrep -P $pid)
  else
    kill -"$sig" $pid
  fi
  wait $pid
  echo $?
}

mpi=("$mpiexec" -np 3 --oversubscribe)
for case in "SIGTERM ranks 30" "SIGUSR1 mpirun 30" "SIGINT local 30" "SIGTERM local 0"; do
  set -- $case
  sig=$1 mode=$2 grace=$3 out="$work/$1-$2-$3.h5"
  case $mode in
    ranks) rc=$(interrupt "$out" "$sig" "$grace" ranks "${mpi[@]}" "$lira") ;;
    mpirun) rc=$(interrupt "$out" "$sig" "$grace" launcher "${mpi[@]}" "$lira") ;;
    *) rc=$(interrupt "$out" "$sig" "$grace" launcher "$lira") ;;
  esac
  grep -q "stopped by $sig" "$out.out" || fail "$case: no 'stopped by $sig' in the log"
  grep -q '"state": "interrupted"' "$out.status.json" || fail "$case: status file does not say interrupted"
  done_now=$("$check" --done "$out" | wc -l)
  [ "$done_now" -lt 12 ] || fail "$case: the run was not interrupted"
  [ "$rc" -eq 5 ] || fail "$case: exit code $rc, expected 5"
  "$lira" "${args[@]}" --out "$out" --log-level warn || fail "$case: resume"
  "$check" --same "$work/ref.h5" "$out" >/dev/null || fail "$case: resumed file differs"
  echo "ok   $case: stopped with $done_now/12 models done (exit $rc), resumed to an identical file"
done
