#!/usr/bin/env bash
# Gangs and GPU sharing on CUDA (label gpu; exit 77 = skipped where no GPU is visible):
#   1. r = 2 ranks share one GPU (parallel.ranks_per_gpu=2), one model each, bf16;
#   2. a gang of 2 on one GPU: NCCL cannot, so gradients go through MPI on the host;
#   3. with two or more GPUs: a gang of 2 on two GPUs over NCCL;
#   4. more ranks on the node than GPUs x ranks_per_gpu: a clear error.
# Each trained run must finish with every model done and sane accuracies.
# usage: gangs_gpu.sh LIRA MAKE_DATASET CHECK_RESULTS SOURCE_DIR MPIEXEC
set -uo pipefail
lira=$1 make_dataset=$2 check=$3 src=$4 mpiexec=$5
gpus=$("$lira" --version | sed -n 's/.*(\([0-9]*\) GPU(s) visible).*/\1/p')
[ -n "$gpus" ] && [ "$gpus" -ge 1 ] || { echo "SKIP: no GPU visible"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
fail() { echo "FAIL: $*"; exit 1; }
"$make_dataset" "$work/data" 1500 100 >/dev/null || fail "dataset"
args=(run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/data" --set data.candidates=1000 --set training.epochs=20
      --set training.device=cuda --set training.bf16=true --log-level info)
ok_run() {  # name ranks overrides...
  local name=$1 n=$2
  shift 2
  local sets=()
  for s in "$@"; do sets+=(--set "$s"); done
  "$mpiexec" -np "$n" --oversubscribe "$lira" "${args[@]}" "${sets[@]}" --out "$work/$name.h5" >"$work/$name.out" 2>&1 ||
    { tail -20 "$work/$name.out"; fail "$name"; }
  "$check" "$work/$name.h5" 6 1000 2 >/dev/null || fail "$name: results file"
  "${LIRA_PYTHON:-/usr/bin/python3}" - "$work/$name.h5" <<'PY' || fail "$name: accuracies"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
acc = f["models/test_accuracy"][:]
assert np.all(acc > 0.5), acc
assert np.isfinite(f["signals/logit_confidence"][:]).all()
print("test accuracy", acc.mean())
PY
}

ok_run share 3 parallel.ranks_per_gpu=2
echo "ok: 2 ranks share one GPU"
ok_run gang1gpu 3 parallel.ranks_per_gpu=2 parallel.ranks_per_model=2
grep -q "ranks share a GPU" "$work/gang1gpu.out" || fail "no note that the gang shares a GPU"
echo "ok: a gang of 2 on one GPU (MPI on the host)"
if [ "$gpus" -ge 2 ]; then
  ok_run gang2gpu 3 parallel.ranks_per_model=2
  grep -q "NCCL" "$work/gang2gpu.out" || fail "the 2-GPU gang did not use NCCL"
  echo "ok: a gang of 2 on 2 GPUs over NCCL"
else
  echo "note: one GPU: the NCCL gang (2 GPUs) was not run"
fi
"$mpiexec" -np $((gpus + 2)) --oversubscribe "$lira" "${args[@]}" --out "$work/over.h5" >"$work/over.out" 2>&1
[ $? -eq 2 ] && grep -q "GPU(s) x parallel.ranks_per_gpu" "$work/over.out" || fail "too many ranks per GPU: $(tail -3 "$work/over.out")"
echo "ok: too many ranks per GPU is refused"
