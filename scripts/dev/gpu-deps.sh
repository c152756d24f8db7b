#!/usr/bin/env bash
# Downloads, on this Debian 12 machine, the Debian 12 packages that scripts/dev/gpu-check.sh
# unpacks on a GPU machine that has PyTorch, CUDA, CMake and a compiler but none of lira's
# other libraries (MPI, HDF5, yaml-cpp, spdlog, CLI11, nlohmann-json, doctest), into
# .device/debs (ignored by git; the device tool carries it: carry [".device"]).
# Idempotent: files already there are kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device/debs
cd .device/debs
packages=(
  libyaml-cpp-dev libyaml-cpp0.7 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
  doctest-dev libcli11-dev nlohmann-json3-dev zlib1g zlib1g-dev libhdf5-dev libhdf5-103-1 libaec0 libsz2
  libcurl4 libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libhwloc15 libevent-core-2.1-7
  libevent-pthreads-2.1-7 libpmix2 libevent-2.1-7 libfabric1 libucx0 libibverbs1 librdmacm1
  libnl-3-200 libnl-route-3-200 libpsm2-2 libpsm-infinipath1 libmunge2 libxnvctrl0 libpciaccess0
  libnuma1 libltdl7
  # libcurl4's own libraries, which the GPU machine's image may lack
  libnghttp2-14 librtmp1 libssh2-1 libpsl5 libbrotli1 libldap-2.5-0 libsasl2-2 libsasl2-modules-db
)
todo=()
for p in "${packages[@]}"; do compgen -G "${p}_*.deb" >/dev/null || todo+=("$p"); done
if [ ${#todo[@]} -gt 0 ]; then
  apt-get download "${todo[@]}" 2>/dev/null || { apt-get update -q >/dev/null && apt-get download "${todo[@]}"; }
fi
echo "gpu-deps: $(ls ./*.deb | wc -l) packages, $(du -sh . | cut -f1) in .device/debs"
