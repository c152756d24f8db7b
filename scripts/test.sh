#!/usr/bin/env bash
# Installs the packages, builds, and runs every test (unit, mpirun end-to-end, bad
# input, the quickstart). Tests labelled `gpu` skip themselves without a GPU.
# Every skip is counted and listed at the end: whole tests CTest skipped (exit 77), and
# cases inside a test that printed a line starting "SKIP " (tests/e2e/*.sh). With
# LIRA_STRICT_SKIPS=1 (CI) a skip is a failure unless it is a `gpu` test: on a CI machine
# every other feature a test needs (root, tmpfs, Slurm, the Debian datasets) is there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
rc=0
ctest --output-on-failure -j "$(nproc)" "$@" 2>&1 | tee ctest-output.txt || rc=$?  # pipefail: ctest's status

gpu_tests=$(ctest -N -L gpu | sed -n 's/^ *Test *#[0-9]*: //p')
skipped_tests=$(sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .*\*\*\*Skipped.*/\1/p' ctest-output.txt)
skipped_cases=$(grep -h "^SKIP " Testing/Temporary/LastTest.log 2>/dev/null | sort -u || true)
unexpected=0
echo "=== skips: $(printf '%s' "$skipped_tests" | grep -c . || true) test(s), $(printf '%s' "$skipped_cases" | grep -c . || true) case(s) inside tests"
for t in $skipped_tests; do
  if grep -qx "$t" <<<"$gpu_tests"; then echo "  skipped test $t (label gpu: no GPU here)"
  else echo "  skipped test $t"; unexpected=$((unexpected + 1)); fi
done
while IFS= read -r line; do
  [ -n "$line" ] || continue
  echo "  $line"
  unexpected=$((unexpected + 1))
done <<<"$skipped_cases"
if [ "${LIRA_STRICT_SKIPS:-0}" = 1 ] && [ $unexpected -gt 0 ]; then
  echo "=== $unexpected skip(s) where this machine should have the feature (LIRA_STRICT_SKIPS=1): failing"
  [ $rc -ne 0 ] || rc=1
fi
exit $rc
