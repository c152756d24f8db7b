#!/usr/bin/env bash
# End-to-end: `mpirun -np 3 lira run` on a tiny config and a synthetic dataset, then the
# same experiment in one process; checks shapes, balance, completion, bitwise equality
# of the two runs (same seed, one thread per worker), scoring, and the docs' h5py snippet.
# usage: end_to_end.sh LIRA MAKE_DATASET CHECK_RESULTS SOURCE_DIR MPIEXEC
set -euo pipefail
lira=$1 make_dataset=$2 check=$3 src=$4 mpiexec=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

"$make_dataset" "$work/data" 400 100
config="$src/tests/e2e/tiny.yaml"

echo "== mpirun -np 3"
"$mpiexec" -np 3 --oversubscribe "$lira" run "$config" --set "data.path=$work/data" --out "$work/mpi.h5" 2>&1 |
  tee "$work/mpi.log"
"$check" "$work/mpi.h5" 6 300 2
grep -q "result rows: 6 written into the file by their workers, 0 sent" "$work/mpi.log" ||
  { echo "the workers did not write their own rows"; exit 1; }

echo "== mpirun -np 3, every result's rows sent to the coordinator (parallel.result_writes: coordinator)"
"$mpiexec" -np 3 --oversubscribe "$lira" run "$config" --set "data.path=$work/data" \
  --set parallel.result_writes=coordinator --out "$work/sent.h5" 2>&1 | tee "$work/sent.log"
grep -q "result rows: 0 written into the file by their workers, 6 sent" "$work/sent.log" ||
  { echo "parallel.result_writes: coordinator did not send the rows"; exit 1; }
"$check" --same "$work/mpi.h5" "$work/sent.h5"

echo "== one process, no mpirun"
"$lira" run "$config" --set "data.path=$work/data" --out "$work/local.h5"
"$check" "$work/local.h5" 6 300 2
"$check" --same "$work/mpi.h5" "$work/local.h5"

echo "== CIFAR-10 binary files, a CNN with augmentation, the paper's 18 queries"
"$make_dataset" "$work/cifar" 500 100 cifar10
"$lira" run "$config" --set "data.path=$work/cifar" --set data.dataset=cifar10 --set model.arch=cnn \
  --set "model.channels=[8]" --set training.augment_flip=true --set training.augment_crop=2 \
  --set queries.shift=1 --set signals.probabilities=true --set signals.logits=true --out "$work/cifar.h5"
"$check" "$work/cifar.h5" 6 300 18
"${LIRA_PYTHON:-/usr/bin/python3}" - "$work/cifar.h5" <<'PY'
import sys
import h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    logits = f["signals/logits"][:]
    assert logits.shape == (6, 300, 18, 10), logits.shape
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    assert np.allclose(p.max(-1), f["signals/max_probability"][:], atol=1e-5)
    assert np.allclose(-(p * np.log(np.maximum(p, 1e-300))).sum(-1), f["signals/entropy"][:], atol=1e-4)
print("optional signals OK: logits, max_probability, entropy agree")
PY
"$lira" score "$work/cifar.h5" --attack shokri | grep -q "max_probability"

echo "== score"
"$lira" score "$work/mpi.h5" --targets 2 --json "$work/score.json" | tee "$work/score.txt"
for attack in lira-online lira-offline lira-online-fixed-variance lira-offline-fixed-variance loss; do
  grep -q "^$attack " "$work/score.txt" || { echo "missing $attack in the table"; exit 1; }
  grep -q "\"name\": \"$attack\"" "$work/score.json" || { echo "missing $attack in the JSON"; exit 1; }
done

echo "== score outputs: leave-one-out, scores file, ROC CSV, SVG plot; official-code flavor; audit"
"$lira" score "$work/mpi.h5" --leave-one-out 3 --scores-out "$work/scores.h5" --roc "$work/roc.csv" \
  --plot "$work/roc.svg" --json "$work/loo.json" > "$work/loo.txt"
grep -q "leave-one-out" "$work/loo.txt"
head -1 "$work/roc.csv" | grep -q "^attack,fpr,tpr,threshold$"
grep -q "^lira-online,1,1," "$work/roc.csv"
grep -q "<svg" "$work/roc.svg" && grep -q "lira-online, AUC" "$work/roc.svg"
"${LIRA_PYTHON:-/usr/bin/python3}" - "$work/scores.h5" "$work/loo.json" <<'PY'
import json, sys
import h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    assert list(f["targets"][:]) == [3, 4, 5], f["targets"][:]
    assert f["scores/lira-online"].shape == (3, 300)
    assert f["keep_targets"].shape == (3, 300)
    assert np.isfinite(f["scores/loss"][:]).all()
report = json.load(open(sys.argv[2]))
assert report["leave_one_out"] and len(report["attacks"][0]["per_target"]) == 3
print("scores file and JSON OK")
PY
"$lira" score "$work/mpi.h5" --flavor official-code --targets 2 --attack lira-online,lira-offline | grep -q "flavor official-code"
"$lira" audit "$work/mpi.h5" --targets 2 --json "$work/audit.json" | tee "$work/audit.txt"
grep -q "^pooled" "$work/audit.txt"

echo "== the h5py snippet of docs/results-format.md"
"${LIRA_PYTHON:-/usr/bin/python3}" "$src/docs/examples/load_results.py" "$work/mpi.h5" | tee "$work/py.txt"
grep -q "keep (6, 300)" "$work/py.txt"
grep -q "logit_confidence (6, 300, 2)" "$work/py.txt"
echo "end-to-end OK"
