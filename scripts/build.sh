#!/usr/bin/env bash
# Configures (Release, unless BUILD_TYPE says otherwise) and builds lira into build/.
# Idempotent: reruns only what changed. The executable lands at build/bin/lira.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$(nproc)"
