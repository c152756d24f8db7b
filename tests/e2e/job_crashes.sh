#!/usr/bin/env bash
# Job isolation (parallel.isolation: process): job processes that crash in every way a
# training process can -- segfault, abort, SIGKILL (as the OOM killer sends it), a hang,
# an uncaught exception, an exit -- each during two jobs, planted with LIRA_TEST_CRASH.
# Each costs only its job: the run completes with every model done and signals bitwise
# identical to an uninterrupted run's, in one process and under mpirun. A model that
# crashes every time fails after experiment.max_retries retries while the others finish;
# one that takes the whole job down is counted across runs and failed (crash accounting).
# A job process that dies inside a data-parallel gang retires its gang; another gang
# finishes the run. With packs of models (parallel.models_per_job), a crash retries each
# model of the pack alone.
# usage: job_crashes.sh LIRA MAKE_DATASET CHECK_RESULTS SOURCE_DIR MPIEXEC
set -uo pipefail
lira=$1 make_dataset=$2 check=$3 src=$4 mpiexec=$5
work=$(mktemp -d)
cleanup() { pkill -9 -f "$work/" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
"$make_dataset" "$work/data" 600 100 || exit 1
args=(run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/data" --set data.candidates=300
      --set experiment.models=12 --set experiment.stall_seconds=3 --log-level warn)
fail() { echo "FAIL: $*"; exit 1; }
expect_in() {  # expect_in FILE PATTERN WHAT
  grep -qE "$2" "$1" || { sed -n '1,80p' "$1"; fail "$3: no line matching /$2/ in $1"; }
}

echo "== reference: no crashes"
"$lira" "${args[@]}" --out "$work/ref.h5" >"$work/ref.log" 2>&1 || { cat "$work/ref.log"; fail "reference run"; }

plan="segv@1,abort@2,kill@3,hang@4,uncaught@5,exit@6,uncaught@7,segv@8,kill@9,abort@10,hang@11,exit@0"
echo "== one process: $plan"
LIRA_TEST_CRASH=$plan "$lira" "${args[@]}" --out "$work/one.h5" >"$work/one.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$work/one.log"; fail "the single-process run with crashes exited $rc"; }
expect_in "$work/one.log" "model 1 .*was killed by SIGSEGV \(segmentation fault\)" "segfault"
expect_in "$work/one.log" "model 2 .*was killed by SIGABRT" "abort"
expect_in "$work/one.log" "model 3 .*was killed by SIGKILL \(the kernel's out-of-memory killer" "SIGKILL"
expect_in "$work/one.log" "made no progress on model 4 for 3 s" "hang"
expect_in "$work/one.log" "model 5 .*SIGABRT.*its last line: .*injected uncaught exception" "uncaught exception"
expect_in "$work/one.log" "model 6 .*exited with status 3" "exit"
"$check" "$work/one.h5" 12 300 2 || fail "single-process file"
"$check" --same "$work/ref.h5" "$work/one.h5" || fail "crashed-and-retried signals differ from the reference"

echo "== mpirun -np 3: $plan"
LIRA_TEST_CRASH=$plan "$mpiexec" -np 3 --oversubscribe "$lira" "${args[@]}" --out "$work/mpi.h5" >"$work/mpi.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$work/mpi.log"; fail "the MPI run with crashes exited $rc"; }
[ "$(grep -oE "model [0-9]+ failed on rank [12] \(attempt 1\), will retry: rank [12]'s job process" "$work/mpi.log" |
     sort -u | wc -l)" -eq 12 ] || { cat "$work/mpi.log"; fail "not every planted crash was reported and retried"; }
"$check" --same "$work/ref.h5" "$work/mpi.h5" || fail "MPI signals differ from the reference"

echo "== packs of 4 (parallel.models_per_job): a crash retries the pack's models, each alone"
LIRA_TEST_CRASH="segv@5" "$lira" "${args[@]}" --set parallel.models_per_job=4 --out "$work/packs.h5" \
  >"$work/packs.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$work/packs.log"; fail "the packed run with a crash exited $rc"; }
expect_in "$work/packs.log" "the pack of models 4, 5, 6, 7: it was killed by SIGSEGV" "pack crash"
[ "$(grep -oE "model [4-7] failed on .*attempt 1\), will retry" "$work/packs.log" | sort -u | wc -l)" -eq 4 ] ||
  { cat "$work/packs.log"; fail "not every model of the crashed pack was retried"; }
"$check" "$work/packs.h5" 12 300 2 || fail "packed file"
"$check" --close "$work/ref.h5" "$work/packs.h5" 1e-4 || fail "packed signals differ from the reference"

echo "== a model that crashes every time fails; the run goes on"
LIRA_TEST_CRASH="segv@7!" "$lira" "${args[@]}" --out "$work/loop.h5" >"$work/loop.log" 2>&1
rc=$?
[ $rc -eq 4 ] || { cat "$work/loop.log"; fail "a run with a failed model should exit 4, not $rc"; }
expect_in "$work/loop.log" "model 7 failed for good after 2 attempt\(s\)" "crash loop"
[ "$("$check" --done "$work/loop.h5" | tr '\n' ' ')" = "0 1 2 3 4 5 6 8 9 10 11 " ] || fail "the other models are not all done"

echo "== a model in flight at every whole-job crash: counted across runs, then failed"
for i in 1 2 3; do
  LIRA_TEST_CRASH="hang@5!" "$lira" "${args[@]}" --set experiment.stall_seconds=600 --out "$work/acct.h5" \
    >"$work/acct.$i.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do grep -q "hang during model 5" "$work/acct.$i.log" && break; sleep 0.05; done
  sleep 0.5  # dispatches are group-committed like results: durable within ~0.2 s
  child=$(pgrep -P $pid -f __job-process)
  [ -n "$child" ] || fail "no job process under the run"
  kill -9 $pid; wait $pid 2>/dev/null
  sleep 0.3
  # Gone, or a zombie waiting for init to reap it (a container's init may never do so).
  state=$(ps -o stat= -p "$child" 2>/dev/null | cut -c1)
  if [ -n "$state" ] && [ "$state" != Z ]; then fail "job process $child outlived its rank (state $state)"; fi
done
"$lira" "${args[@]}" --out "$work/acct.h5" >"$work/acct.4.log" 2>&1
rc=$?
[ $rc -eq 4 ] || { cat "$work/acct.4.log"; fail "after three crashes with model 5 in flight the run should exit 4, not $rc"; }
expect_in "$work/acct.2.log" "ended abnormally .* model\(s\) 5 were training" "crash counted on resume"
expect_in "$work/acct.4.log" "model 5 was in flight at 3 abnormal ends of the run; not retried" "crash-failed model"
[ "$("$check" --done "$work/acct.h5" | wc -l)" -eq 11 ] || fail "the other 11 models should be done"
"$lira" "${args[@]}" --out "$work/acct.h5" --set experiment.max_crashes=3 >"$work/acct.5.log" 2>&1 ||
  { cat "$work/acct.5.log"; fail "raising max_crashes should let model 5 train"; }
"$check" --same "$work/ref.h5" "$work/acct.h5" || fail "the accounted run's signals differ from the reference"

echo "== gangs: a job process dies inside one gang; the other gang finishes the run"
LIRA_TEST_CRASH="segv@0" "$mpiexec" -np 5 --oversubscribe "$lira" "${args[@]}" --set parallel.ranks_per_model=2 \
  --out "$work/gang.h5" >"$work/gang.log" 2>&1
rc=$?
[ $rc -eq 6 ] || { cat "$work/gang.log"; fail "a run that lost a gang should exit 6, not $rc"; }
expect_in "$work/gang.log" "rank [13] retired: rank [13]'s job process died during model 0" "gang retired"
"$check" "$work/gang.h5" 12 300 2 || fail "gang 1 did not finish every model"
echo "job crashes OK"
