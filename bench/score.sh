#!/usr/bin/env bash
# Scoring benchmark: `lira score` (online LiRA, official-code flavor: the same numbers as
# the reference code) against bench/score_numpy.py (the reference code's generate_ours in
# numpy, all signals in memory) on one synthetic file of M = 256 models, N = 200,000
# candidates, A = 2 queries. Whole processes, start-up included; best of 3 runs each.
#   bench/score.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
python=${LIRA_PYTHON:-/usr/bin/python3}
file=${BENCH_SCORE_FILE:-/tmp/lira-bench-256x200000x2.h5}
[ -f "$file" ] || "$build/bench/make_synthetic_results" "$file" --models 256 --candidates 200000 --queries 2 >/dev/null

best() {  # prints "seconds peak_kib", the best of 3 runs of the command
  local best_s=999999 best_m=0
  for _ in 1 2 3; do
    local out
    out=$( { /usr/bin/time -f "TIME %e %M" "$@" >/dev/null; } 2>&1 | grep '^TIME')
    local s m
    s=$(echo "$out" | cut -d' ' -f2) m=$(echo "$out" | cut -d' ' -f3)
    if awk -v a="$s" -v b="$best_s" 'BEGIN {exit !(a < b)}'; then best_s=$s best_m=$m; fi
  done
  echo "$best_s $best_m"
}
read -r ls lm < <(best "$build/bin/lira" score "$file" --attack lira-online --flavor official-code --bootstrap 0)
read -r ps pm < <(best "$python" bench/score_numpy.py "$file")
printf "%-44s %10s %12s\n" "scoring 256 x 200,000 x 2 (online LiRA)" "seconds" "peak MiB"
printf "%-44s %10s %12s\n" "lira score (official-code flavor)" "$ls" "$((lm / 1024))"
printf "%-44s %10s %12s\n" "numpy generate_ours (baseline)" "$ps" "$((pm / 1024))"
printf "%-44s %10s %12s\n" "ratio (baseline / lira)" "$(awk -v a="$ps" -v b="$ls" 'BEGIN {printf "%.1fx", a / b}')" \
  "$(awk -v a="$pm" -v b="$lm" 'BEGIN {printf "%.1fx", a / b}')"
