#!/usr/bin/env bash
# The published recipes through lira and through an independent PyTorch implementation
# (recipe_reference.py, torch.nn/torch.optim from Python): the same initial weights and
# the same batches, 20 steps each; every step's loss and every final tensor must agree
# within 1e-4 relative on CPU. airbench94 runs in float32, its published precision on CPU
# (and checks its whitening filters against numpy's eigh). WRN-28-2 runs in float64: in
# float32 the reference itself moves 3e-3 (relative) away from its own float64 run after
# one step -- the BatchNorm biases' gradients are sums that cancel -- so a float32
# comparison at 1e-4 would test the rounding, not the recipe (docs/training.md).
#   recipe_equivalence.sh RECIPE_STEPS MAKE_TEST_DATASET PYTHON
set -euo pipefail
steps=$1 make_data=$2 python=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$make_data" "$work/cifar" 400 50 cifar10
common=(--set data.dataset=cifar10 --set "data.path=$work/cifar" --set data.candidates=400 --set experiment.models=2
        --set data.test_examples=50)
status=0
# airbench94: about 200 IN images, batch 40 (last partial batch dropped), 4 epochs of 5
# = 20 steps (whitening bias frozen from step 16, lookahead after steps 5, 10, 15, 20).
"$steps" "$work/airbench94" "${common[@]}" --set model.arch=airbench94 --set training.batch_size=40 \
  --set training.epochs=4
"$python" "$here/recipe_reference.py" check --dump "$work/airbench94" --tol 1e-4 || status=1
# WRN-28-2 with the official demo's optimizer and schedule: 106 IN images of 200
# candidates, batch 22, 4 epochs of 5 batches (the last one partial, 18 images) = 20 steps.
# (Batch 50 on 200 IN images took 137 of the test's 154 s here; the same 20 steps at batch
# 22 take 65 s and still fail when weight decay reaches the biases, docs/testing.md.)
wrn=("${common[@]}" --set data.candidates=200)
"$steps" "$work/wrn28-2" --float64 "${wrn[@]}" --set model.arch=wrn28-2 --set training.batch_size=22 \
  --set training.epochs=4 --set training.optimizer=sgd --set training.lr=0.1 --set training.momentum=0.9 \
  --set training.weight_decay=5e-4 --set training.schedule=official --set training.warmup=0.01
"$python" "$here/recipe_reference.py" check --dump "$work/wrn28-2" --tol 1e-4 || status=1
exit $status
