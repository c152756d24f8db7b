#!/usr/bin/env bash
# The multi-node rank layout against a real two-node Slurm on localhost (two slurmd, nodes
# n1 and n2: tests/slurm/cluster.sh start DIR 2). `lira slurm --nodes 2 --launcher mpirun`
# places rank 0 and two workers on n1 and two workers on n2 (the generated hostfile); the
# run completes and its file equals a local run's. (srun --mpi=pmix cannot start a step
# that spans two slurmd on one machine -- both create the same pmix directory -- so the
# srun launcher is exercised on one node by slurm_e2e.sh.)
# Exits 77 (skipped) where Slurm is not installed, the test is not root, or there is one CPU.
# usage: two_nodes.sh LIRA MAKE_DATASET CHECK_RESULTS SOURCE_DIR
set -uo pipefail
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
lira=$(abs "$1") make_dataset=$(abs "$2") check=$(abs "$3") src=$(cd "$4" && pwd)
cluster=$src/tests/slurm/cluster.sh
work=$(mktemp -d /tmp/lira-slurm2-test.XXXXXX)
env_line=$(bash "$cluster" start "$work/cluster" 2)
rc=$?
[ $rc -eq 77 ] && { echo "SKIP: no two-node Slurm here (see tests/slurm/cluster.sh)"; rm -rf "$work"; exit 77; }
[ $rc -eq 0 ] || { echo "FAIL: could not start the two-node Slurm cluster"; rm -rf "$work"; exit 1; }
eval "$env_line"
[ -n "${KEEP:-}" ] || trap 'bash "$cluster" stop "$work/cluster"; pkill -9 -f "$work/" 2>/dev/null; rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Two "nodes" on one machine: OpenMPI's shared-memory transport (vader) takes them for
# separate hosts and crashes in MPI_Comm_split_type (seen: SIGSEGV on n2); TCP between
# the ranks, as between real nodes. (The job inherits this environment.)
export OMPI_MCA_btl=self,tcp
# The two "nodes" are this machine: their ranks can only meet over loopback, which Open
# MPI's TCP transport leaves out by default (Open MPI 5 then fails MPI_Init: "Unable to
# find reachable pairing between local and remote interfaces").
export OMPI_MCA_btl_tcp_if_include=lo
export OMPI_MCA_rmaps_base_display_map=1  # mpirun prints where it placed each rank
fail() {
  echo "FAIL: $*"
  squeue -a 2>/dev/null; sinfo 2>/dev/null
  for f in "$work"/run/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -40 "$f"; }; done
  for f in "$work"/cluster/log/*.log; do echo "--- $f"; tail -20 "$f"; done
  exit 1
}
[ "$(sinfo -h -o %D)" = 2 ] || fail "the cluster does not have two nodes"
"$make_dataset" "$work/data" 1500 100 >/dev/null || fail "dataset"
args=("$src/tests/e2e/tiny.yaml" --set "data.path=$work/data" --set data.candidates=1000 --set experiment.models=8
      --set experiment.name=two)
"$lira" run "${args[@]}" --out "$work/ref.h5" --log-level warn || fail "local reference run"
mkdir -p "$work/run"
(cd "$work/run" && "$lira" slurm "${args[@]}" --out "$work/run/res.h5" --nodes 2 --ntasks-per-node 2 --overcommit \
   --launcher mpirun --submit) >"$work/run/submit.txt" 2>&1 || { cat "$work/run/submit.txt"; fail "lira slurm --submit"; }
job=$(sed -n 's/^submitted job \([0-9]*\):.*/\1/p' "$work/run/submit.txt")
[[ "$job" =~ ^[0-9]+$ ]] || fail "no job id: $(cat "$work/run/submit.txt")"
for _ in $(seq 240); do
  [ -z "$(squeue -h -j "$job" -o %i 2>/dev/null)" ] && break
  sleep 0.5
done
out="$work/run/res.h5.slurm-$job.out"
[ -f "$out" ] || fail "no job output $out"
grep -q "on n\[1-2\]" "$out" || fail "the allocation is not n[1-2]"
grep -q "launching 5 ranks with mpirun" "$out" || fail "not 5 ranks over two nodes"
grep -q "run finished" "$out" || fail "the run did not finish"
# The map: n1 holds ranks 0-2, n2 ranks 3-4.
map=$(sed -n '/JOB MAP/,/=====/p' "$out")
echo "$map" | grep -A3 "Data for node: n2" | grep -q "Num procs: 2" || { echo "$map"; fail "n2 should run 2 ranks"; }
echo "$map" | grep -A3 "Data for node: n1" | grep -q "Num procs: 3" || { echo "$map"; fail "n1 should run 3 ranks"; }
"$check" --same "$work/ref.h5" "$work/run/res.h5" || fail "the two-node file differs from the local run's"
echo "two nodes OK: job $job on n[1-2], 5 ranks (rank 0 + 2 workers on n1, 2 workers on n2), file equal to the local run's"
