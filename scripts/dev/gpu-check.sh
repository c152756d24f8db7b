#!/usr/bin/env bash
# The GPU check: sized to one device lease (15 minutes, the machine's start included), it
# needs at most about 12 minutes of device time on one H100:
#   build   Ninja on every core, only the targets the checks use, against the machine's
#           PyTorch (libtorch 2.x with CUDA)                               (~3-4 min)
#   test    the `gpu`-labelled tests (CUDA training, packs on CUDA, gangs)  (limit 4 min)
#   probe   throughput, at most 3 minutes: airbench94 (configs/cifar10-fast.yaml) at K = 1,
#           4 and 16 models per pass, one WRN-28-2 epoch (configs/cifar10-official-demo.yaml),
#           with GPU utilization and peak memory; prints the table docs/gpu.md records
# Logs and the table go to $OUT (or ./gpu-out). LIRA_GPU_CHECK_STEPS=build,test (say)
# runs a subset; `extra` adds the longer benchmarks (bench/run, train_step, lm_eval: not
# part of the 12 minutes).
#
# The machine needs PyTorch, CMake, Ninja, a C++20 compiler and the CUDA toolkit (the
# device tool's image has them). The other libraries come as Debian 12 .deb files in
# .device/debs, unpacked with dpkg -x into /tmp/lira-deps (no root needed): make them
# here with `bash scripts/dev/gpu-deps.sh`, then run this script on the device with
# `.device` carried (docs/gpu.md: "Running the check").
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
steps=${LIRA_GPU_CHECK_STEPS:-build,test,probe}
deps=/tmp/lira-deps
build=build-gpu
python=${LIRA_PYTHON:-$(command -v python3)}
t_start=$SECONDS
elapsed() { echo "[$((SECONDS - t_start)) s]"; }

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
ENV
  source "$deps/env.sh"
  extra=(-DMPI_C_COMPILER="$deps/usr/bin/mpicc.openmpi" -DMPI_CXX_COMPILER="$deps/usr/bin/mpicxx.openmpi"
         -DMPIEXEC_EXECUTABLE="$deps/usr/bin/mpirun.openmpi"
         -DHDF5_ROOT="$deps/usr/lib/x86_64-linux-gnu/hdf5/serial" -DZLIB_ROOT="$deps/usr")
  prefix_extra=";$deps/usr"
else
  extra=()
  prefix_extra=""
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

if [[ $steps == *build* ]]; then
  torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  # NCCL from the nvidia-nccl wheel next to torch, when there is one.
  nccl=$("$python" -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))' 2>/dev/null || true)
  [ -n "$nccl" ] && extra+=(-DNCCL_ROOT="$nccl")
  {
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix$prefix_extra" \
      -DLIRA_PYTHON="$python" "${extra[@]}"
    # Only what the gpu tests and the probe run: lira and its trainer module, the CUDA
    # test, and the tests' data and results helpers.
    time cmake --build "$build" -j "$(nproc)" --target lira lira_trainer_module test_gpu make_test_dataset check_results
    "$build/bin/lira" --version
  } 2>&1 | tee "$out/build.log"
  echo "$(elapsed) build done" | tee -a "$out/summary.txt"
fi

if [[ $steps == *test* ]]; then
  # The gpu tests together get 4 minutes (their own CTest limits are longer).
  (cd "$build" && timeout -k 10 240 ctest --output-on-failure -L gpu 2>&1 | tee "$out/ctest-gpu.log") || true
  grep -E "tests passed|tests failed|Passed|Failed|Skipped|\*\*\*" "$out/ctest-gpu.log" | tee -a "$out/summary.txt" || true
  echo "$(elapsed) gpu tests done" | tee -a "$out/summary.txt"
fi

if [[ $steps == *probe* ]]; then
  # Throughput on CIFAR-sized synthetic data (learnable bars plus noise: the accuracies are
  # not CIFAR-10's; the seconds are what a CIFAR-10 model costs). 50,000 candidates: each
  # reference model trains on 25,000 images, as in the LiRA paper.
  data=/tmp/lira-cifar-synth
  "$build/tests/make_test_dataset" "$data" 50000 10000 cifar10 >/dev/null
  table=$out/probe.md
  echo "| run | models | K | wall s | models/hour (wall, start-up included) | mean GPU util | peak GPU memory MiB |" >"$table"
  echo "|---|---|---|---|---|---|---|" >>"$table"
  probe() {  # NAME LIMIT_S MODELS K lira-run-args...: one row of the table
    local name=$1 limit=$2 models=$3 k=$4
    shift 4
    local h5=/tmp/lira-probe-$name.h5
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 250 >"$out/util-$name.csv" &
    local smi=$! t0=$SECONDS rc=0
    # grace_seconds=0: at the limit, lira stops at once instead of finishing running models.
    timeout -k 5 "$limit" "$build/bin/lira" run "$@" --set "data.path=$data" --set experiment.models="$models" \
      --set parallel.models_per_job="$k" --set experiment.grace_seconds=0 --out "$h5" --overwrite --log-level warn \
      >"$out/run-$name.log" 2>&1 || rc=$?
    local wall=$((SECONDS - t0))
    kill $smi 2>/dev/null || true
    wait $smi 2>/dev/null || true
    # Models per hour from the models done and the wall time (start-up included: a pack's
    # models finish together, so their finish times cannot give a rate).
    local done rate util mem
    done=$("$build/tests/check_results" --done "$h5" 2>/dev/null | wc -w || true)
    rate=$(awk -v d="${done:-0}" -v w="$wall" 'BEGIN {if (w > 0) printf "%.0f", d * 3600 / w; else print "?"}')
    util=$(awk -F, '{u += $1; n++} END {if (n) printf "%.0f%%", u / n}' "$out/util-$name.csv" || true)
    mem=$(awk -F, '$2 > m {m = $2} END {print m + 0}' "$out/util-$name.csv" || true)
    if [ $rc -ne 0 ]; then
      rate="$rate ($done done, exit $rc"
      if [ $rc -eq 124 ]; then rate="$rate: stopped at $limit s)"; else rate="$rate)"; fi
    fi
    echo "| $name | $models | $k | $wall | ${rate:-?} | ${util:-?} | $mem |" | tee -a "$table"
  }
  probe airbench94-k1 45 4 1 configs/cifar10-fast.yaml
  probe airbench94-k4 45 8 4 configs/cifar10-fast.yaml
  probe airbench94-k16 50 16 16 configs/cifar10-fast.yaml
  probe wrn28-2-1epoch 40 2 1 configs/cifar10-official-demo.yaml --set training.epochs=1
  { echo; echo "probe table (docs/gpu.md):"; cat "$table"; } >>"$out/summary.txt"
  echo "$(elapsed) probe done" | tee -a "$out/summary.txt"
fi

if [[ $steps == *extra* ]]; then
  # The longer benchmarks (not part of the 12-minute check): C++ vs PyTorch training
  # steps, the data share of a GPU step, language-model evaluation statistics.
  cmake --build "$build" -j "$(nproc)" --target bench_tools
  BENCH_DEVICE=cuda LIRA_PYTHON="$python" bench/run "$build" 2>&1 | tee "$out/bench-gpu.txt"
  for spec in "wrn28-2 256" "resnet18 256" "airbench 1024"; do
    set -- $spec
    "$build/bench/train_step" --arch "$1" --batch "$2" --image 3x32x32 --device cuda --augment --bf16 --steps 100 \
      | tee -a "$out/bench-gpu.txt"
  done
  "$build/bench/lm_eval" --vocab 50257 --records 64 --max-len 128 --device cuda --reps 3 | tee -a "$out/bench-gpu.txt"
  echo "$(elapsed) extra done" | tee -a "$out/summary.txt"
fi
cat "$out/summary.txt"
