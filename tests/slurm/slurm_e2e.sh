#!/usr/bin/env bash
# `lira slurm --submit` against a real one-node Slurm on localhost (tests/slurm/cluster.sh):
#   1. submit: a tiny experiment runs to the end; its file equals a local run's, and scores.
#   2. preemption: `scontrol requeue` mid-run; the job starts again, resumes, completes:
#      the file equals the local run's and no model is reported done twice.
#   3. time limit: --time=1 with work for longer; the script continues in a new allocation
#      (sbatch --dependency=afterany) until every model is done, then stops chaining.
#   4. a lost rank: kill -9 of one worker rank mid-run ends the srun step; the script counts
#      an abnormal end and resubmits; the next allocation resumes and completes: the file
#      equals the local run's and no finished model is trained again.
# Exits 77 (skipped) where Slurm is not installed or the test is not root.
# usage: slurm_e2e.sh LIRA MAKE_DATASET CHECK_RESULTS SOURCE_DIR
set -uo pipefail
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
lira=$(abs "$1") make_dataset=$(abs "$2") check=$(abs "$3") src=$(cd "$4" && pwd)
cluster=$src/tests/slurm/cluster.sh
work=$(mktemp -d /tmp/lira-slurm-test.XXXXXX)
env_line=$(bash "$cluster" start "$work/cluster")
rc=$?
[ $rc -eq 77 ] && { echo "SKIP: no Slurm here (see tests/slurm/cluster.sh)"; rm -rf "$work"; exit 77; }
[ $rc -eq 0 ] || { echo "FAIL: could not start the Slurm cluster"; rm -rf "$work"; exit 1; }
eval "$env_line"
[ -n "${KEEP:-}" ] || trap 'bash "$cluster" stop "$work/cluster"; pkill -9 -f "$work/" 2>/dev/null; rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # for the mpirun launcher

fail() {
  echo "FAIL: $*"
  squeue -a 2>/dev/null
  for f in "$work"/*/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -30 "$f"; }; done
  echo "--- slurmctld.log"; tail -20 "$work/cluster/log/slurmctld.log"
  [ -s "$work/check-errors.txt" ] && { echo "--- check_results errors"; tail -20 "$work/check-errors.txt"; }
  exit 1
}
"$make_dataset" "$work/data" 1500 100 >/dev/null || fail "dataset"
# The jobs train nothing (tests/slurm/synthetic.yaml: each sleeps model.job_seconds and
# returns signals that depend on the model's seed alone): what is tested is Slurm's side --
# requeue, time limits, chaining, a lost rank -- and the jobs leave the CPUs to the other
# tests. Training under Slurm is the same job process as under mpirun (tests/e2e).
config=$src/tests/slurm/synthetic.yaml
base=(--set "data.path=$work/data" --set data.candidates=1000 --set experiment.grace_seconds=10
      --set experiment.heartbeat_seconds=2)

# wait_chain NAME SECONDS: until no job of that name is queued or running.
wait_chain() {
  local name=$1 limit=$2
  for _ in $(seq $((limit * 2))); do
    [ -z "$(squeue -h --name="$name" -o %i)" ] && return 0
    sleep 0.5
  done
  fail "jobs named $name still queued after $limit s"
}
# done_count FILE: models done in the results file (0 if there is none yet).
done_count() { [ -f "$1" ] || { echo 0; return; }; "$check" --done "$1" 2>>"$work/check-errors.txt" | wc -w; }
# once LOGS...: every "model N done by" appears at most once across the logs.
once() {
  local dup
  dup=$(cat "$@" | grep -oE "model [0-9]+ done by" | sort | uniq -d)
  [ -z "$dup" ] || fail "trained twice: $dup"
}
# submit DIR NAME ARGS...: lira slurm --submit from DIR; prints the job id.
submit() {
  local dir=$1 name=$2
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && "$lira" slurm "$config" "${base[@]}" --set "experiment.name=$name" \
     --out "$dir/res.h5" --ntasks-per-node 2 --overcommit "$@" --submit) >"$dir/submit.txt" 2>&1 ||
    { cat "$dir/submit.txt"; fail "lira slurm --submit ($name)"; }
  sed -n 's/^submitted job \([0-9]*\):.*/\1/p' "$dir/submit.txt"
}

# 1. Submit and finish; compare with a local run of the same experiment.
t0=$SECONDS
"$lira" run "$config" "${base[@]}" --set experiment.name=sub --set experiment.models=6 \
  --out "$work/ref1.h5" --log-level warn || fail "local reference run"
job=$(submit "$work/sub" sub --set experiment.models=6 --launcher mpirun)
[[ "$job" =~ ^[0-9]+$ ]] || fail "no job id printed: $job $(cat "$work/sub/submit.txt")"
grep -q "^follow: .* status " "$work/sub/submit.txt" || fail "no follow-up hint"
[ -f "$work/sub/res.sbatch" ] || fail "the script was not saved next to the results"
wait_chain lira-sub 120
"$check" --same "$work/ref1.h5" "$work/sub/res.h5" >/dev/null || fail "submitted run differs from the local run"
grep -q "every model is done" "$work/sub/res.h5.slurm-$job.out" || fail "no completion line in the job log"
grep -q "launching 3 ranks with mpirun" "$work/sub/res.h5.slurm-$job.out" || fail "mpirun launcher not used"
"$lira" score "$work/sub/res.h5" --attack lira-online >/dev/null || fail "lira score on the submitted run"
echo "ok: submit (mpirun launcher), $((SECONDS - t0)) s"

# 2. Preemption: requeue once a few models are done.
t0=$SECONDS
# The local reference sleeps 0 s: the signals do not depend on job_seconds.
models=12 seconds=2.5
"$lira" run "$config" "${base[@]}" --set experiment.name=pre --set experiment.models=$models \
  --out "$work/ref2.h5" --log-level warn || fail "local reference run 2"
job=$(submit "$work/pre" pre --set experiment.models=$models --set model.job_seconds=$seconds --launcher srun)
log=$work/pre/res.h5.slurm-$job.out
# Progress from the job's log: the results file is not read while the run writes it.
count_done() { grep -c "done by" "$log" 2>/dev/null || true; }
for _ in $(seq 600); do [ "$(count_done)" -ge 2 ] 2>/dev/null && break; sleep 0.2; done
before=$(count_done)
[ "$before" -ge 2 ] && [ "$before" -lt $models ] || fail "preemption: $before models done when requeueing (want 2..$((models - 1)))"
scontrol requeue "$job" || fail "scontrol requeue $job"
# Slurm holds a requeued job about two minutes (Reason=BeginTime); skip the wait.
for _ in $(seq 120); do
  [ "$(squeue -h -j "$job" -o %T)" = PENDING ] && scontrol update JobId="$job" StartTime=now 2>/dev/null && break
  sleep 0.5
done
wait_chain lira-pre 300
[ "$(grep -c "allocation 1 of" "$log")" -ge 2 ] || fail "the requeued job did not start again"
grep -q "restart 1" "$log" || fail "no restart count in the log"
grep -q "every model is done" "$log" || fail "the requeued job did not finish"
once "$log"
"$check" --same "$work/ref2.h5" "$work/pre/res.h5" >/dev/null || fail "requeued run differs from the local run"
echo "ok: requeue after $before of $models models, $((SECONDS - t0)) s"

# 3. Time limit: 1 minute per allocation, USR1 55 s before it. Slurm checks time limits
# periodically, so the signal comes 5 to 35 s into an allocation; the work (24 models of
# 4 s on each of 2 workers, 48 s) needs at least two allocations.
t0=$SECONDS
models=24 seconds=4
job=$(submit "$work/lim" lim --set experiment.models=$models --set model.job_seconds=$seconds --time 1 \
  --signal-seconds 55)
wait_chain lira-lim 420
logs=("$work"/lim/res.h5.slurm-*.out)
[ ${#logs[@]} -ge 2 ] || fail "time limit: one allocation only (${#logs[@]} log)"
grep -q "continuing as job" "$work/lim/res.h5.slurm-$job.out" || fail "the first allocation did not chain"
[ "$(done_count "$work/lim/res.h5")" -eq $models ] || fail "time limit: not every model done"
# grep on the files, not `cat | grep -q`: under pipefail, grep -q's early exit makes cat
# die of SIGPIPE when the match is not near the end (with 10+ allocations the glob puts
# the last log, slurm-1N, first), and the check failed although the line was there.
grep -q "every model is done" "${logs[@]}" || fail "no allocation reported completion"
last=$(ls -t "$work"/lim/res.h5.slurm-*.out | head -1)
grep -q "continuing as job" "$last" && fail "the last allocation chained another"
once "${logs[@]}"
"$check" "$work/lim/res.h5" $models 1000 2 >/dev/null || fail "time-limit results file"
echo "ok: time limit, ${#logs[@]} allocations, $((SECONDS - t0)) s"

# 4. A lost rank: kill -9 one worker rank (not its job process, not the coordinator).
t0=$SECONDS
models=12 seconds=2.5
job=$(submit "$work/crash" crash --set experiment.models=$models --set model.job_seconds=$seconds --launcher srun)
log=$work/crash/res.h5.slurm-$job.out
for _ in $(seq 600); do [ "$(grep -c "done by" "$log" 2>/dev/null)" -ge 2 ] 2>/dev/null && break; sleep 0.2; done
coordinator=$(sed -n 's/^pid \([0-9]*\) on .*/\1/p' "$work/crash/res.h5.lock" 2>/dev/null)
victim=$(pgrep -f "bin/lira run .*crash/res.h5" | grep -vx "${coordinator:-none}" | head -1)
[ -n "$victim" ] || fail "lost rank: no worker rank found to kill"
kill -9 "$victim"
wait_chain lira-crash 300
grep -q "abnormal end 1 of at most 3 (exit [0-9]*): resubmitting" "$log" || fail "lost rank: no resubmission after the crash"
logs=("$work"/crash/res.h5.slurm-*.out)
[ ${#logs[@]} -ge 2 ] || fail "lost rank: no second allocation"
grep -q "every model is done" "${logs[@]}" || fail "lost rank: the resubmitted job did not finish"
# The resumed allocation trained exactly the models the file did not hold as done (a result
# that arrived in the last ~0.2 s before the crash was not yet durable: trained again).
second=$(grep -l "resuming" "${logs[@]}" | head -1)
held=$(sed -n 's/.*resuming .*: \([0-9]*\) of [0-9]* models are done.*/\1/p' "$second" | head -1)
trained=$(grep -c "done by" "$second")
[ -n "$held" ] && [ $((held + trained)) -eq $models ] ||
  fail "lost rank: the resumed job found ${held:-?} models done and trained $trained of $models"
"$check" --same "$work/ref2.h5" "$work/crash/res.h5" >/dev/null || fail "lost rank: the file differs from the local run"
echo "ok: a worker rank killed, resubmitted, $((SECONDS - t0)) s"
