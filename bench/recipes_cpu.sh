#!/usr/bin/env bash
# The two published 32x32 RGB recipes on real data on this CPU: Fashion-MNIST written as
# CIFAR-format 32x32 RGB (bench/fmnist_as_cifar.py), trained by `lira run` in one
# process; prints test accuracy (airbench94: with its test-time augmentation) and seconds
# per model (training and the evaluation of every candidate under 2 queries). A
# benchmark, not a test: at the defaults it takes about 25 minutes on 2 cores.
#   bench/recipes_cpu.sh [BUILD_DIR]
# env: CANDIDATES (10000: 5,000 IN per model), WRN_CANDIDATES (2000), MODELS (2),
#      TEST (2000 test images), AIRBENCH_EPOCHS (9.9), WRN_EPOCHS (2), THREADS (2),
#      RECIPES ("airbench94 wrn28-2": which to run)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
lira=$build/bin/lira
candidates=${CANDIDATES:-10000} models=${MODELS:-2} test=${TEST:-2000}
ab_epochs=${AIRBENCH_EPOCHS:-9.9} wrn_epochs=${WRN_EPOCHS:-2} threads=${THREADS:-2}
wrn_candidates=${WRN_CANDIDATES:-2000} recipes=${RECIPES:-airbench94 wrn28-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/fmnist_as_cifar.py" "$work/fmnist"
common=(--set data.dataset=cifar10 --set "data.path=$work/fmnist"
        --set "experiment.models=$models" --set "data.test_examples=$test" --set training.device=cpu
        --set "training.threads=$threads" --set queries.shift=0)
report() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[2], "r")
acc, sec = f["/models/test_accuracy"][:], f["/models/train_seconds"][:]
print(f"{sys.argv[1]}: test accuracy {acc.mean():.4f} (models: {', '.join(f'{a:.4f}' for a in acc)}), "
      f"{sec.mean():.1f} s per model")
PY
}
if [[ " $recipes " == *" airbench94 "* ]]; then
  "$lira" run "$here/../configs/cifar10-fast.yaml" "${common[@]}" --set "data.candidates=$candidates" \
    --set "training.epochs=$ab_epochs" --out "$work/airbench94.h5" > "$work/ab.log" 2>&1 || { cat "$work/ab.log"; exit 1; }
  report "airbench94, $ab_epochs epochs, batch 1024, $((candidates / 2)) IN" "$work/airbench94.h5"
fi
if [[ " $recipes " == *" wrn28-2 "* ]]; then
  "$lira" run "$here/../configs/cifar10-official-demo.yaml" "${common[@]}" --set "data.candidates=$wrn_candidates" \
    --set "training.epochs=$wrn_epochs" --out "$work/wrn.h5" > "$work/wrn.log" 2>&1 || { cat "$work/wrn.log"; exit 1; }
  report "wrn28-2 (official demo recipe), $wrn_epochs epochs, batch 256, $((wrn_candidates / 2)) IN" "$work/wrn.h5"
fi
