#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each for FUZZ_SECONDS
# (default 60) from the seed corpus in fuzz/corpus/<target> (new inputs go to a scratch
# directory, the committed corpus is not modified). A crash stops with the input saved as
# crash-* in the current directory and a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
# The clang that install-deps.sh --test installed (clang-14 on Debian 12, clang-19 on 13).
if [ -z "${CC:-}" ]; then
  cc=$(compgen -c clang- | grep -E '^clang-[0-9]+$' | sort -t- -k2 -n | tail -n 1 || true)
  [ -n "$cc" ] || { echo "fuzz.sh: no clang-N found; run scripts/install-deps.sh --test" >&2; exit 1; }
  CC=$cc
fi
[ -n "${CXX:-}" ] || case "$CC" in clang-[0-9]*) CXX=clang++-${CC#clang-} ;; *) CXX=clang++ ;; esac
CC=$CC CXX=$CXX cmake -S . -B "$build" -DLIRA_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in config readers messages; do
  mkdir -p "$scratch/$target"
  echo "== fuzz_$target for $seconds s"
  # The fuzzer's own status decides (not a filter's): output to a file, status kept.
  rc=0
  "$build/bin/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 "$scratch/$target" "fuzz/corpus/$target" \
    >"$scratch/$target.log" 2>&1 || rc=$?
  grep -E "^Done|stat::number_of_executed_units|ERROR|SUMMARY" "$scratch/$target.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$scratch/$target.log"
    echo "fuzz_$target found a failure (exit $rc); the input is saved as crash-* / leak-* / timeout-* in $PWD"
    exit 1
  fi
done
