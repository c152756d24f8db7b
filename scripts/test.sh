#!/usr/bin/env bash
# Installs the packages, builds, and runs every test (unit, mpirun end-to-end, bad
# input, the quickstart). Tests labelled `gpu` skip themselves without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
