#!/usr/bin/env bash
# Runs a fixed set of small experiments -- the quickstart, and tiny runs of every
# architecture family and recipe key on synthetic data -- into OUTDIR, so a refactoring
# can be checked for bitwise-identical results: run it before and after, then
#   scripts/dev/results-baseline.sh --compare BEFORE AFTER
# which prints, per file and signal, "same" or the largest difference.
# usage: scripts/dev/results-baseline.sh OUTDIR [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${LIRA_PYTHON:-/usr/bin/python3}
if [ "${1:-}" = --compare ]; then
  exec "$python" - "$2" "$3" <<'PY'
import os, sys, h5py, numpy as np
a_dir, b_dir = sys.argv[1], sys.argv[2]
for f in sorted(x for x in os.listdir(a_dir) if x.endswith(".h5")):
    a, b = h5py.File(os.path.join(a_dir, f), "r"), h5py.File(os.path.join(b_dir, f), "r")
    out = []
    for k in a["signals"]:
        x, y = a["signals"][k][:], b["signals"][k][:]
        out.append(f"{k}:" + ("same" if np.array_equal(x, y, equal_nan=True) else f"DIFF {np.nanmax(np.abs(x - y)):.3g}"))
    for k in ("train_accuracy", "test_accuracy"):
        out.append(f"{k}:" + ("same" if np.array_equal(a["models"][k][:], b["models"][k][:]) else "DIFF"))
    print(f, " ".join(out))
PY
fi
out=$1 build=${2:-build}
lira=$build/bin/lira
mkdir -p "$out"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
"$build/tests/make_test_dataset" "$data/idx" 600 100 idx >/dev/null
"$build/tests/make_test_dataset" "$data/cifar" 600 100 cifar10 >/dev/null
mkdir -p "$data/models" && "$python" tests/fixtures/make_torchscript_model.py "$data/models"
tiny=(tests/e2e/tiny.yaml --set "data.path=$data/idx" --log-level warn --overwrite)
cif=(tests/e2e/tiny.yaml --set "data.path=$data/cifar" --set data.dataset=cifar10 --set experiment.models=2
     --set data.candidates=200 --set training.epochs=1 --log-level warn --overwrite)
run() { local name=$1; shift; /usr/bin/time -f "$name %e s" "$lira" run "$@" --out "$out/$name.h5"; }
run quickstart configs/quickstart.yaml --log-level warn --overwrite
run mlp "${tiny[@]}"
run cnn "${tiny[@]}" --set model.arch=cnn --set "model.channels=[8]" --set training.epochs=2
run recipe "${tiny[@]}" --set model.arch=cnn --set "model.channels=[8]" --set training.epochs=2 --set training.ema=0.9 \
  --set training.label_smoothing=0.1 --set training.augment_flip=true --set training.augment_crop=2 \
  --set training.optimizer=adamw --set training.lr=0.01 --set training.schedule=cosine --set training.warmup=0.1
run wrn "${cif[@]}" --set model.arch=wrn --set model.depth=10 --set model.width=1 --set model.dropout=0.1
run wrn_bntrain "${cif[@]}" --set model.arch=wrn --set model.depth=10 --set model.width=1 --set queries.batchnorm=train
run airbench "${cif[@]}" --set model.arch=airbench
run torchscript "${tiny[@]}" --set model.arch=torchscript --set "model.torchscript_path=$data/models/tiny_cnn.pt" \
  --set model.torchscript_reinit=true --set training.epochs=2
run gpt configs/fortunes-gpt.yaml --set experiment.models=2 --set training.epochs=2 --set data.candidates=100 \
  --set data.test_examples=50 --log-level warn --overwrite
