#!/usr/bin/env bash
# Builds lira on a GPU machine against that machine's PyTorch (libtorch 2.x with CUDA),
# runs the whole test suite there (the `gpu`-labelled tests included), then measures
# training throughput on CIFAR-sized synthetic data. Writes logs to $OUT (or ./gpu-out).
#
# The machine needs PyTorch, CMake, a C++20 compiler and the CUDA toolkit. The other
# libraries may come as Debian 12 .deb files in .device/debs (unpacked with dpkg -x into
# /tmp/lira-deps, no root needed): see docs/gpu.md for the list and the command that
# downloads them on a Debian machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
deps=/tmp/lira-deps
python=${LIRA_PYTHON:-$(command -v python3)}
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')

if compgen -G ".device/debs/*.deb" >/dev/null; then
  rm -rf "$deps" && mkdir -p "$deps/lib"
  for f in .device/debs/*.deb; do dpkg -x "$f" "$deps"; done
  # Expose only the shared libraries this machine lacks, so its own stay in charge.
  for so in "$deps"/usr/lib/x86_64-linux-gnu/*.so.* "$deps"/lib/x86_64-linux-gnu/*.so.* \
            "$deps"/usr/lib/x86_64-linux-gnu/openmpi/lib/*.so.*; do
    [ -e "$so" ] || continue
    ldconfig -p | grep -q " $(basename "$so") " || ln -sf "$so" "$deps/lib/"
  done
  cat >"$deps/env.sh" <<ENV
export LD_LIBRARY_PATH="$deps/lib:\${LD_LIBRARY_PATH:-}"
export OPAL_PREFIX="$deps/usr"  # relocates Open MPI's wrappers, mpirun and plugins
export PATH="$deps/usr/bin:\$PATH"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ENV
  source "$deps/env.sh"
  extra=(-DMPI_C_COMPILER="$deps/usr/bin/mpicc.openmpi" -DMPI_CXX_COMPILER="$deps/usr/bin/mpicxx.openmpi"
         -DMPIEXEC_EXECUTABLE="$deps/usr/bin/mpirun.openmpi"
         -DHDF5_ROOT="$deps/usr/lib/x86_64-linux-gnu/hdf5/serial" -DZLIB_ROOT="$deps/usr")
  prefix="$torch_prefix;$deps/usr"
else
  extra=()
  prefix="$torch_prefix"
fi
# NCCL from the nvidia-nccl wheel next to torch, when there is one.
nccl=$("$python" -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))' 2>/dev/null || true)
[ -n "$nccl" ] && extra+=(-DNCCL_ROOT="$nccl")

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DLIRA_PYTHON="$python" "${extra[@]}"
  time cmake --build build-gpu -j "$(nproc)"
  build-gpu/bin/lira --version
} 2>&1 | tee "$out/build.log"

steps=${LIRA_GPU_CHECK_STEPS:-build,test,bench}
[[ $steps == *test* ]] || { echo "done: $steps"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
(cd build-gpu && ctest --output-on-failure -j 8 -LE slow 2>&1 | tee "$out/ctest.log") || true
(cd build-gpu && ctest -V -L gpu 2>&1 | tee "$out/ctest-gpu.log") || true
[[ $steps == *bench* ]] || { echo "done: $steps"; exit 0; }

# Throughput on CIFAR-sized synthetic data (learnable bars plus noise: the accuracies are
# not CIFAR-10's; the seconds are what a CIFAR-10 model costs).
data=/tmp/lira-cifar-synth
build-gpu/tests/make_test_dataset "$data" 50000 10000 cifar10
measure() {  # name, then lira arguments
  local name=$1
  shift
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 500 >"$out/util-$name.csv" &
  local smi=$!
  local start=$(date +%s)
  "$@" --set "data.path=$data" --out "/tmp/lira-$name.h5" --overwrite 2>&1 | grep -vE "^  |^[a-z]+:$" | tee "$out/run-$name.log" || true
  local end=$(date +%s)
  kill $smi 2>/dev/null || true
  echo "$name: wall $((end - start)) s; mean GPU utilization $(awk -F, '{u+=$1; n++} END {if (n) printf "%.0f%%", u/n}' "$out/util-$name.csv")" | tee -a "$out/summary.txt"
}
measure fast-1proc build-gpu/bin/lira run configs/cifar10-fast.yaml --set experiment.models=4
measure fast-2proc mpirun -np 3 build-gpu/bin/lira run configs/cifar10-fast.yaml --set experiment.models=8
measure wrn-1proc build-gpu/bin/lira run configs/cifar10-official-demo.yaml --set experiment.models=2 --set training.epochs=2
# Packs (parallel.models_per_job): 16 CNNs on CIFAR-sized data at K = 1 and 16, and 16
# airbench94 models with their published recipe at K = 1, 4 and 16 (issue: models per hour).
for k in 1 16; do
  measure cnn-k$k build-gpu/bin/lira run configs/fmnist-cnn.yaml --set data.dataset=cifar10 \
    --set data.candidates=20000 --set training.epochs=5 --set experiment.models=16 --set parallel.models_per_job=$k
done
for k in 1 4 16; do
  measure airbench94-k$k build-gpu/bin/lira run configs/cifar10-fast.yaml --set data.candidates=20000 \
    --set experiment.models=16 --set parallel.models_per_job=$k
done
build-gpu/bin/lira score /tmp/lira-fast-2proc.h5 2>&1 | tee -a "$out/summary.txt" || true

# Per-epoch cost of the official demo's WRN-28-2 recipe (10 epochs, one model).
measure wrn-10epochs build-gpu/bin/lira run configs/cifar10-official-demo.yaml --set experiment.models=2 \
  --set training.epochs=10
# Training step on the GPU: C++ vs PyTorch from Python, and the data share of a step.
BENCH_DEVICE=cuda LIRA_PYTHON="$python" bench/run build-gpu 2>&1 | tee "$out/bench-gpu.txt"
for spec in "wrn28-2 256" "resnet18 256" "airbench 1024"; do
  set -- $spec
  build-gpu/bench/train_step --arch "$1" --batch "$2" --image 3x32x32 --device cuda --augment --bf16 --steps 100 \
    | tee -a "$out/bench-gpu.txt"
done
# Language-model evaluation statistics with GPT-2's vocabulary, where the logits are.
build-gpu/bench/lm_eval --vocab 50257 --records 64 --max-len 128 --device cuda --reps 3 | tee -a "$out/bench-gpu.txt"
