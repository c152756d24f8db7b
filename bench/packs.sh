#!/usr/bin/env bash
# Many models per pass (parallel.models_per_job, docs/training.md): models per hour and
# peak memory of whole `lira run`s (start-up, data, training, evaluation, HDF5) at
# K = 1, 2, 4, 8, 16 models per pack, for the quickstart MLP, the Fashion-MNIST CNN and a
# small airbench (BatchNorm; AIRBENCH_KS, "1 2 4 8"), all in one run; prints each K's ratio to K = 1 and the mean test accuracy (the same
# models, so it should not move). One worker in-process (parallel.isolation thread), so
# the peak RSS is the one process's.
#   bench/packs.sh [BUILD_DIR]      env: KS ("1 2 4 8 16"), THREADS (2), MLP_MODELS (32),
#                                        CNN_MODELS (16), AIRBENCH_MODELS (8), AIRBENCH_KS,
#                                        ONLY (one of mlp, cnn, airbench)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
lira=$build/bin/lira
ks=${KS:-1 2 4 8 16} threads=${THREADS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
accuracy() {
  /usr/bin/python3 -c "import h5py,sys; print(f\"{h5py.File(sys.argv[1],'r')['/models/test_accuracy'][:].mean():.4f}\")" "$1"
}
bench() {  # tag name models config extra-args... (config: a name in configs/, or a path)
  local tag=$1 name=$2 models=$3 config=$4
  shift 4
  [[ -z ${ONLY:-} || $ONLY == "$tag" ]] || return 0
  [[ $config == /* ]] || config=$here/../configs/$config
  echo "$name: $models models, $threads threads"
  local base_rate=""
  for k in $ks; do
    /usr/bin/time -f '%e %M' -o "$work/time" "$lira" run "$config" --log-level warn --overwrite \
      --set "experiment.models=$models" --set "parallel.models_per_job=$k" --set "training.threads=$threads" \
      --set parallel.isolation=thread "$@" --out "$work/$tag-k$k.h5" >/dev/null
    read -r wall rss_kb <"$work/time"
    local rate
    rate=$(echo "$models * 3600 / $wall" | bc -l)
    [ -z "$base_rate" ] && base_rate=$rate
    printf '  K=%-3s %8.1f s  %9.0f models/h  %5.2fx  peak RSS %6.0f MiB  test acc %s\n' "$k" "$wall" "$rate" \
      "$(echo "$rate / $base_rate" | bc -l)" "$(echo "$rss_kb / 1024" | bc -l)" "$(accuracy "$work/$tag-k$k.h5")"
  done
}
bench mlp "quickstart mlp 784-256-10, 2,500 candidates, 30 epochs, 2 queries" "${MLP_MODELS:-32}" quickstart.yaml
bench cnn "fmnist cnn [32,64]+128, 2,000 candidates, 10 epochs, 1 query, 500 test" "${CNN_MODELS:-16}" fmnist-cnn.yaml \
  --set data.candidates=2000 --set training.epochs=10 --set data.test_examples=500 --set queries.mirror=false
# A BatchNorm network (fused_network.cpp's per-model BatchNorm), Nesterov SGD, label smoothing.
cat >"$work/airbench.yaml" <<'EOF'
experiment:
  name: airbench-packs
data:
  dataset: fashion-mnist
  path: /usr/share/datasets/fashion-mnist
  candidates: 1000
  test_examples: 500
model:
  arch: airbench
  airbench_widths: [16, 32, 32]
training:
  epochs: 12
  batch_size: 64
  lr: 0.2
  momentum: 0.9
  nesterov: true
  label_smoothing: 0.1
EOF
ks=${AIRBENCH_KS:-1 2 4 8} bench airbench "airbench [16,32,32], 1,000 candidates, 12 epochs of 64, 2 queries, 500 test" \
  "${AIRBENCH_MODELS:-8}" "$work/airbench.yaml"
