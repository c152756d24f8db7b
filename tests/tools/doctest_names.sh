#!/usr/bin/env bash
# CTest's doctest discovery splits a test case's name at ';' (CMake's list separator) into
# two tests that match no case and fail: no unit test case may have a ';' in its name.
# usage: doctest_names.sh UNIT_TEST_BINARY...
set -uo pipefail
bad=0
for bin in "$@"; do
  listing=$("$bin" --list-test-cases 2>&1) || { echo "FAIL: $bin --list-test-cases exited $?"; bad=1; continue; }
  while IFS= read -r name; do
    echo "FAIL: $(basename "$bin"): test case name with ';': $name"
    bad=1
  done < <(printf '%s\n' "$listing" | grep -v '^\[doctest\]' | grep ';')
  echo "$(basename "$bin"): $(printf '%s\n' "$listing" | grep -vc -e '^\[doctest\]' -e '^====') case names checked"
done
exit $bad
