#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer and UndefinedBehaviorSanitizer
# (-DLIRA_SANITIZE=address,undefined) in build-asan/ and runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIRA_SANITIZE=address,undefined >/dev/null
targets=(test_common test_orchestrator test_storage test_attack test_data test_coordinator test_trainer)
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
# Leaks inside the uninstrumented libraries (libtorch, Open MPI, HDF5) are not ours to fix.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
# doctest_names lists every unit test executable, and only some are built here.
ctest --output-on-failure -j "$(nproc)" -L unit -E '^doctest_names$'
