#!/usr/bin/env bash
# The cost of DP-SGD's per-example clipping on this CPU: seconds per model (training and
# evaluation, /models/train_seconds) of the quickstart MLP and the Fashion-MNIST CNN,
# trained without DP (the baseline), with DP-SGD's batched per-example gradients
# (dp.clipping auto) and with the one-backward-per-example reference (dp.clipping loop),
# all in one run; prints the ratios to the baseline. The CNN runs evaluate few examples
# (500 test, one query) so that training dominates its seconds.
#   bench/dp_sgd.sh [BUILD_DIR]       env: MODELS (2), THREADS (1)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
lira=$build/bin/lira
models=${MODELS:-2} threads=${THREADS:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seconds() {
  /usr/bin/python3 - "$1" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
print(f"{f['/models/train_seconds'][:].mean():.3f} {f['/models/test_accuracy'][:].mean():.4f}")
PY
}
bench() {  # name config extra-args...
  local name=$1 config=$2
  shift 2
  local base=(--set "experiment.models=$models" --set "training.threads=$threads" --log-level warn --overwrite "$@")
  "$lira" run "$here/../configs/$config" "${base[@]}" --out "$work/plain.h5"
  "$lira" run "$here/../configs/$config" "${base[@]}" --set dp.noise_multiplier=1 --out "$work/batched.h5"
  "$lira" run "$here/../configs/$config" "${base[@]}" --set dp.noise_multiplier=1 --set dp.clipping=loop --out "$work/loop.h5"
  read -r plain plain_acc < <(seconds "$work/plain.h5")
  read -r batched batched_acc < <(seconds "$work/batched.h5")
  read -r loop loop_acc < <(seconds "$work/loop.h5")
  printf '%-40s no DP %7.2f s (acc %s) | DP batched %7.2f s (%5.2fx, acc %s) | DP loop %7.2f s (%5.2fx, acc %s) | loop / batched %5.1fx\n' \
    "$name" "$plain" "$plain_acc" "$batched" "$(echo "$batched / $plain" | bc -l)" "$batched_acc" \
    "$loop" "$(echo "$loop / $plain" | bc -l)" "$loop_acc" "$(echo "$loop / $batched" | bc -l)"
}
bench "mlp 784-256-10, batch 128, 30 epochs" quickstart.yaml
bench "cnn [32,64]+128, batch 128, 10 epochs" fmnist-cnn.yaml --set data.candidates=2000 --set training.epochs=10 \
  --set data.test_examples=500 --set queries.mirror=false
