#!/usr/bin/env bash
# kill -9 at random instants, then the same command again, until the run completes:
# nothing finished is lost, no finished model is trained again, and the final file has
# keep, labels, seeds and signals bitwise identical to an uninterrupted run's. The victim
# rotates between a single-process run, the coordinator (rank 0), a worker rank, mpirun
# itself, every process of the job at once (ranks and job processes), and a run killed
# at a random instant of its start-up, when it may be creating the results file.
# With PACK=K (env) every run trains packs of K models (parallel.models_per_job): a model
# resumed in another pack than the reference's may differ in its last bits, so the final
# comparison allows 1e-4 of the signals' scale instead of bitwise (docs/training.md).
# usage: kill_resume.sh LIRA MAKE_DATASET CHECK_RESULTS SOURCE_DIR MPIEXEC [KILLS]
set -uo pipefail
lira=$1 make_dataset=$2 check=$3 src=$4 mpiexec=$5 kills_wanted=${6:-6}
work=$(mktemp -d)
cleanup() { pkill -9 -f "$work/" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
"$make_dataset" "$work/data" 1500 100 || exit 1
args=(run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/data" --set data.candidates=1000
      --set training.epochs=150 --set experiment.models=24 --set experiment.heartbeat_seconds=1
      --set experiment.max_crashes=100  # crash accounting: a model may be in flight at many kills
      --set "parallel.models_per_job=${PACK:-1}")
fail() { echo "FAIL: $*"; exit 1; }

echo "== reference: one uninterrupted run"
"$lira" "${args[@]}" --out "$work/ref.h5" --log-level warn || fail "reference run"

out="$work/victim.h5"
kills=0 attempt=0 RANDOM=42
while :; do
  attempt=$((attempt + 1))
  [ $attempt -le 40 ] || fail "no completion after 40 attempts"
  # A run that completed before enough kills happened: start over on a fresh file.
  if [ $kills -lt "$kills_wanted" ] && [ -e "$out" ] && [ "$("$check" --done "$out" | wc -l)" -eq 24 ]; then
    echo "attempt $attempt: the file is complete with $kills kills so far: starting a new one"
    rm -f "$out"
  fi
  rm -f "$out.lock" "$out.status.json"  # no run is alive now: these are the last one's leftovers
  before=$(test -e "$out" && "$check" --done "$out" | tr '\n' ' ')
  # 0: single process; 1: kill rank 0; 2: kill a worker; 3: kill mpirun; 4: kill the whole
  # job; 5: kill a single-process run during its start-up (the creation window)
  mode=$(( attempt % 6 ))
  if [ $mode -eq 0 ] || [ $mode -eq 5 ]; then
    "$lira" "${args[@]}" --out "$out" >"$work/log.$attempt" 2>&1 &
  else
    "$mpiexec" -np 3 --oversubscribe "$lira" "${args[@]}" --out "$out" >"$work/log.$attempt" 2>&1 &
  fi
  launcher=$!
  if [ $kills -lt "$kills_wanted" ]; then
    if [ $mode -eq 5 ]; then
      # Any instant of the first 1.5 s: loading, locking, creating the file, the first models.
      sleep "$(awk -v r=$RANDOM 'BEGIN {printf "%.3f", 1.5 * r / 32767}')"
    else
      # Wait for the run to hold its results file (start-up done), then a random instant.
      for _ in $(seq 100); do grep -q "^pid" "$out.lock" 2>/dev/null && [ -e "$out.status.json" ] && break; sleep 0.05; done
      sleep "$(awk -v r=$RANDOM 'BEGIN {printf "%.2f", 0.1 + 2.5 * r / 32767}')"
    fi
    if kill -0 $launcher 2>/dev/null; then
      case $mode in
        0) victim=$launcher what="the single-process run" ;;
        1) victim=$(sed -n 's/^pid \([0-9]*\) on .*/\1/p' "$out.lock" 2>/dev/null) what="the coordinator (rank 0)" ;;
        2) victim=$(pgrep -P $launcher -f "bin/lira run" | grep -vx "$(sed -n 's/^pid \([0-9]*\) on .*/\1/p' "$out.lock")" | head -1)
           what="a worker rank" ;;
        3) victim=$launcher what="mpirun" ;;
        4) victim="$launcher $(pgrep -f -- "$out" | tr '\n' ' ')" what="the whole job" ;;
        5) victim=$launcher what="a single-process run in its start-up" ;;
      esac
      # shellcheck disable=SC2086
      if [ -n "$victim" ] && kill -9 $victim 2>/dev/null; then
        # It counts if it interrupted work: some model was still to train.
        if [ "$("$check" --done "$out" 2>/dev/null | wc -l)" -lt 24 ]; then kills=$((kills + 1)); fi
        echo "attempt $attempt: kill -9 $what (pid $victim); done before: [${before}]"
      fi
      # A killed mpirun leaves its ranks running; a cluster would clean them up: so do we.
      [ $mode -eq 3 ] && sleep 0.2 && pkill -9 -f "$work/victim.h5" 2>/dev/null
    fi
  fi
  wait $launcher
  rc=$?
  [ -z "${KILL_RESUME_DEBUG:-}" ] || echo "  attempt $attempt mode $mode: exit $rc, log: $(grep -cE 'model [0-9]+ done by' "$work/log.$attempt") models done, $(grep -m1 -oE 'error.*' "$work/log.$attempt" | cut -c1-120)"
  pkill -9 -f "$work/victim.h5" 2>/dev/null  # leftovers of an aborted mpirun job
  sleep 0.2
  # No model that was done before this attempt was trained again by it.
  for m in $before; do
    if grep -q "\] model $m done by" "$work/log.$attempt"; then fail "attempt $attempt trained model $m again"; fi
  done
  if [ $rc -eq 0 ] && [ $kills -ge "$kills_wanted" ]; then
    echo "attempt $attempt completed the run"
    break
  fi
done
"$check" "$out" 24 1000 2 || fail "final file"
if [ "${PACK:-1}" -gt 1 ]; then
  "$check" --close "$work/ref.h5" "$out" 1e-4 || fail "signals differ from the uninterrupted run"
else
  "$check" --same "$work/ref.h5" "$out" || fail "signals differ from the uninterrupted run"
fi
echo "kill/resume OK: $kills kills, $attempt attempts"
