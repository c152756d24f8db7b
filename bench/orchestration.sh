#!/usr/bin/env bash
# Orchestration benchmarks with the synthetic workload (bench/synthetic.yaml), each figure
# next to its baseline: overhead against the ideal time, dispatch rate, gather-and-store
# bandwidth against dd, coordinator memory against M, idle CPU cost, and a 64-rank
# simulation with failures and slow workers. docs/performance.md records the results.
#   bench/orchestration.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
lira=$PWD/$build/bin/lira
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
config=bench/synthetic.yaml

# run NAME RANKS --set... : one synthetic run; prints the coordinator's schedule seconds.
run() {
  local name=$1 ranks=$2
  shift 2
  local args=()
  for s in "$@"; do args+=(--set "$s"); done
  mpirun -np "$ranks" --oversubscribe "$lira" run "$config" "${args[@]}" --out "$work/$name.h5" \
    --log-level "${LOG_LEVEL:-warn}" >"$work/$name.out" 2>&1 || { echo "run $name failed:"; tail -5 "$work/$name.out"; exit 1; }
  "${LIRA_PYTHON:-/usr/bin/python3}" -c "import json,sys; print(json.load(open(sys.argv[1]))['schedule_seconds'])" \
    "$work/$name.h5.status.json"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }

printf "%-52s %14s %14s %10s\n" "orchestration (8 ranks = 7 workers, 2 cores)" "measured" "baseline" "ratio"
for ms in 10 100; do
  s=$(run "o$ms" 8 experiment.models=2000 "model.job_seconds=$(awk -v m=$ms 'BEGIN {print m / 1000}')")
  # Ideal: no scheduler beats ceil(2000 / 7) = 286 jobs back to back on some worker.
  ideal=$(awk -v m=$ms 'BEGIN {print 286 * m / 1000}')
  printf "%-52s %13.2fs %13.2fs %10s\n" "2000 jobs of $ms ms: wall vs ideal (286 x t)" "$s" "$ideal" \
    "$(awk -v a="$s" -v b="$ideal" 'BEGIN {printf "+%.2f%%", 100 * (a / b - 1)}')"
done
s=$(run d0 8 experiment.models=20000 model.job_seconds=0)
printf "%-52s %12.0f/s %12s/s %10s\n" "dispatch rate, 20000 jobs of 0 ms" "$(awk -v s="$s" 'BEGIN {print 20000 / s}')" \
  "10000" "$(ratio "$(awk -v s="$s" 'BEGIN {print 20000 / s}')" 10000)"

# Gather and store: CIFAR-sized results (N = 50,000, A = 18 queries, two float32 signals:
# 7.2 MB per model), 56 models from 7 workers into the HDF5 file, against dd writing the
# same bytes (fsync'd, as lira fsyncs its commits) to the same filesystem.
# (parallel.result_writes=coordinator: the coordinator's own intake; bench/result_intake.sh
# compares it with workers writing their rows.)
s=$(run g 8 experiment.models=56 model.job_seconds=0 data.candidates=50000 queries.mirror=true queries.shift=1 \
    parallel.result_writes=coordinator)
bytes=$((56 * 50000 * 18 * 4 * 2))
dd_s=$( { /usr/bin/time -f "%e" dd if=/dev/zero of="$work/dd" bs=7200000 count=56 conv=fsync status=none; } 2>&1 )
lira_mbs=$(awk -v b=$bytes -v s="$s" 'BEGIN {print b / s / 1e6}')
dd_mbs=$(awk -v b=$bytes -v s="$dd_s" 'BEGIN {print b / s / 1e6}')
printf "%-52s %11.0fMB/s %11.0fMB/s %10s\n" "gather+store 56 x 7.2 MB (lira vs dd, same bytes)" "$lira_mbs" "$dd_mbs" \
  "$(ratio "$lira_mbs" "$dd_mbs")"

# Coordinator memory for M = 256 and M = 4096 models (N = 10,000): peak RSS of rank 0. The
# coordinator holds no keep matrix (it reads each job's row from the file), so the growth
# should be a small fraction of the M x N bytes it would take.
coord_rss() {
  local m=$1
  mpirun -np 3 --oversubscribe bash -c 'if [ "$OMPI_COMM_WORLD_RANK" = 0 ]; then
      exec /usr/bin/time -f "%M" -o "'"$work"'/rss" "$0" "$@"; else exec "$0" "$@"; fi' \
    "$lira" run "$config" --set "experiment.models=$m" --set model.job_seconds=0 --set data.candidates=10000 \
    --out "$work/m$m.h5" --log-level warn >"$work/m$m.out" 2>&1
  cat "$work/rss"
}
r256=$(coord_rss 256) r4096=$(coord_rss 4096)
keep_growth=$(( (4096 - 256) * 10000 / 1024 ))
printf "%-52s %12sKB %12sKB\n" "coordinator peak RSS, M=4096 and M=256 (N=10,000)" "$r4096" "$r256"
printf "%-52s %12sKB %12sKB %10s\n" "  RSS growth vs the keep matrix's (M x N bytes)" "$((r4096 - r256))" "$keep_growth" \
  "$(ratio "$((r4096 - r256))" "$keep_growth")"

# Idle cost: 6 ranks, 2 jobs of 4 s: 3 workers and the coordinator wait the whole time.
mpirun -np 6 --oversubscribe bash -c 'exec /usr/bin/time -f "%U %S %e" -o "'"$work"'/cpu.$OMPI_COMM_WORLD_RANK" "$0" "$@"' \
  "$lira" run "$config" --set experiment.models=2 --set model.job_seconds=4 --out "$work/idle.h5" --log-level warn \
  >"$work/idle.out" 2>&1
idle=$(cat "$work"/cpu.* | sort -n | head -3 | awk '{c += $1 + $2; w += $3} END {printf "%.3f", c / w}')
printf "%-52s %13s %14s\n" "idle rank CPU use (CPU s per wall s, 3 idlest ranks)" "$idle" "1.000 (a spinning rank)"

# Scale: 10,000 jobs on 64 ranks (63 workers), 5% of attempts fail, 10% of the workers 4x
# slow. Logged at info level (a line per model, as a user sees it) to check that every
# model was done exactly once.
s=$(LOG_LEVEL=info run scale 64 experiment.models=10000 model.job_seconds=0.05 model.synthetic_failure_rate=0.05 \
    model.synthetic_slow_fraction=0.1 model.synthetic_slowdown=4 experiment.max_retries=5)
# Ideal: the work (with the expected 1/(1 - 0.05) attempts) over the workers' total speed.
ideal=$(awk 'BEGIN {w = 63; slow = 6; rate = (w - slow) / 0.05 + slow / 0.2; print 10000 / 0.95 / rate}')
results=$(grep -cE "model [0-9]+ done by" "$work/scale.out" || true)
distinct=$(grep -oE "model [0-9]+ done by" "$work/scale.out" | sort -u | wc -l)
retried=$(grep -cE "will retry" "$work/scale.out" || true)
flagged=$("$PWD/$build/tests/check_results" --done "$work/scale.h5" | wc -w)
printf "%-52s %13.2fs %13.2fs %10s\n" "64 ranks, 10,000 jobs of 50 ms, failures, slow workers" "$s" "$ideal" \
  "$(awk -v a="$s" -v b="$ideal" 'BEGIN {printf "+%.1f%%", 100 * (a / b - 1)}')"
printf "%-52s %14s\n" "  failed attempts retried" "$retried"
printf "%-52s %14s\n" "  results received / distinct models / done flags" "$results / $distinct / $flagged"
if [ "$results" -ne 10000 ] || [ "$distinct" -ne 10000 ] || [ "$flagged" -ne 10000 ]; then
  echo "scale: not every job done exactly once"
  exit 1
fi
