#!/usr/bin/env bash
# Installs the Debian packages that lira builds, tests and runs with, on Debian 12
# ("bookworm": libtorch 1.13) or Debian 13 ("trixie": libtorch 2.6); both are built and
# tested by CI (docs/testing.md). The package names that differ between the two releases
# are chosen here and nowhere else.
# Idempotent: packages already present are not downloaded again, and nothing is done
# when all of them are installed. Needs root (or sudo) only when something is missing.
#   scripts/install-deps.sh          what building and running need
#   scripts/install-deps.sh --test   also what the tests need: the fuzzing toolchain (clang +
#                                    libFuzzer), a Slurm for tests/slurm, and Chromium for
#                                    tests/report
set -euo pipefail

release=$( . /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-unknown}" || echo unknown )
case "$release" in
  bookworm) clang=14 ;;
  trixie)   clang=19 ;;
  *) echo "install-deps: this is '$release'; lira supports Debian 12 (bookworm) and 13 (trixie)." \
          "Install the packages listed in scripts/install-deps.sh by hand, or use scripts/debian13.sh." >&2
     exit 2 ;;
esac

packages=(
  build-essential cmake ninja-build pkg-config zlib1g-dev
  libtorch-dev                       # libtorch (CPU): 1.13 on Debian 12, 2.6 on Debian 13
  libopenblas0-openmp                # its BLAS: without it, the reference BLAS trains 4-19x slower
  libopenmpi-dev openmpi-bin         # MPI transport and mpirun
  libhdf5-dev hdf5-tools             # results files (h5dump/h5clear for inspection)
  libyaml-cpp-dev libspdlog-dev libcli11-dev nlohmann-json3-dev doctest-dev
  dataset-fashion-mnist              # the quickstart's data (IDX under /usr/share/datasets)
  fortunes                           # the language-model quickstart's text (/usr/share/games/fortunes)
  python3-numpy python3-h5py         # the docs' h5py snippet, run by a test (/usr/bin/python3)
  python3-torch                      # exports the TorchScript test model; the training benchmark
  git                                # `lira --version` names the source revision
)
if [ "${1:-}" = --test ]; then
  packages+=("clang-$clang" "libclang-rt-$clang-dev")  # scripts/fuzz.sh: libFuzzer, ASan, UBSan
  packages+=(slurmctld slurmd slurm-client munge libpmix-dev)  # tests/slurm: a one-node Slurm on localhost
  packages+=(time procps)            # /usr/bin/time (tests/e2e/gangs.sh: idle cost), pgrep/pkill
  packages+=(chromium fonts-dejavu-core)  # tests/report: the HTML report opened in headless Chromium
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present ($release)"
  exit 0
fi

echo "install-deps: installing on $release: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
