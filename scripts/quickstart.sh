#!/usr/bin/env bash
# The quickstart, from a fresh Debian 12 or 13 machine: install the packages, build, train the
# 32 reference models of configs/quickstart.yaml under mpirun (a coordinator and 2
# workers), then score them. Reruns replace results/quickstart.h5 (--overwrite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # Open MPI refuses root otherwise
fi
mpirun -np 3 --oversubscribe "${BUILD_DIR:-build}"/bin/lira run configs/quickstart.yaml --overwrite
"${BUILD_DIR:-build}"/bin/lira score results/quickstart.h5
