#!/usr/bin/env bash
# Result intake (parallel.result_writes, docs/performance.md): the synthetic workload
# (bench/synthetic.yaml) with CIFAR-sized results -- N = 50,000 candidates, 18 queries, two
# float32 signals: 7.2 MB per model -- at 8, 16, 32 and 64 ranks with 0 ms and 10 ms jobs,
# each run twice: rows sent to the coordinator (the old design, the baseline) and rows
# written by the workers. Prints results per second and rank 0's CPU seconds per result,
# the new/old ratios, and checks that the two files hold bitwise the same data.
#   bench/result_intake.sh [BUILD_DIR]     env: RANKS ("8 16 32 64"), JOBS_MS ("0 10"), MODELS (128)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
lira=$PWD/$build/bin/lira
check=$PWD/$build/tests/check_results
ranks_list=${RANKS:-8 16 32 64} jobs_ms=${JOBS_MS:-0 10} models=${MODELS:-128}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# run NAME RANKS MS MODE: prints "results/s rank0-cpu-ms/result"
run() {
  local name=$1 ranks=$2 ms=$3 mode=$4
  mpirun -np "$ranks" --oversubscribe bash -c 'if [ "$OMPI_COMM_WORLD_RANK" = 0 ]; then
      exec /usr/bin/time -f "%U %S" -o "'"$work"'/$0.cpu" "$1" "${@:2}"; else exec "$1" "${@:2}"; fi' \
    "$name" "$lira" run bench/synthetic.yaml --set "experiment.models=$models" --set data.candidates=50000 \
    --set queries.mirror=true --set queries.shift=1 --set "model.job_seconds=$(awk -v m="$ms" 'BEGIN {print m / 1000}')" \
    --set "parallel.result_writes=$mode" --out "$work/$name.h5" --log-level warn >"$work/$name.out" 2>&1 ||
    { echo "run $name failed:"; tail -5 "$work/$name.out"; exit 1; }
  local s cpu
  s=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['schedule_seconds'])" "$work/$name.h5.status.json")
  cpu=$(awk '{print $1 + $2}' "$work/$name.cpu")
  awk -v m="$models" -v s="$s" -v c="$cpu" 'BEGIN {printf "%.1f %.2f", m / s, 1000 * c / m}'
}

printf "%-28s %14s %14s %8s %16s %16s %8s\n" "ranks, job ($models x 7.2 MB)" "old results/s" "new results/s" "ratio" \
  "old rank0 ms/res" "new rank0 ms/res" "ratio"
for ms in $jobs_ms; do
  for ranks in $ranks_list; do
    read -r old_rate old_cpu <<<"$(run "old-$ranks-$ms" "$ranks" "$ms" coordinator)"
    read -r new_rate new_cpu <<<"$(run "new-$ranks-$ms" "$ranks" "$ms" worker)"
    "$check" --same "$work/old-$ranks-$ms.h5" "$work/new-$ranks-$ms.h5" >/dev/null ||
      { echo "the files of $ranks ranks, $ms ms differ"; exit 1; }
    printf "%-28s %14s %14s %8s %16s %16s %8s\n" "$ranks ranks, $ms ms jobs" "$old_rate" "$new_rate" \
      "$(awk -v a="$new_rate" -v b="$old_rate" 'BEGIN {printf "%.2f", a / b}')" "$old_cpu" "$new_cpu" \
      "$(awk -v a="$new_cpu" -v b="$old_cpu" 'BEGIN {printf "%.2f", a / b}')"
    rm -f "$work"/*.h5
  done
done
echo "(each pair of files: identical keep, labels, seeds, done flags and signals -- check_results --same)"
