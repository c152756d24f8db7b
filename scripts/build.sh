#!/usr/bin/env bash
# Configures (Release, unless BUILD_TYPE says otherwise) and builds lira into build/.
# Idempotent: reruns only what changed. The executable lands at build/bin/lira.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
generator=()
# Ninja (install-deps.sh installs it) for a new build folder; an existing one keeps its own.
if [ ! -f "$build_dir/CMakeCache.txt" ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$(nproc)"
