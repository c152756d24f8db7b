#!/usr/bin/env bash
# Gangs and GPU sharing on CUDA (label gpu; exit 77 = skipped where no GPU is visible):
#   1. r = 2 ranks share one GPU (parallel.ranks_per_gpu=2), one model each, bf16;
#   2. a gang of 2 on one GPU: NCCL cannot, so gradients go through MPI on the host;
#   3. with two or more GPUs: a gang of 2 on two GPUs over NCCL;
#   4. more ranks on the node than GPUs x ranks_per_gpu: a clear error;
#   5. numerics: a gang of 2 against one rank, in fp32 (bf16 off), for the classifier and
#      for the GPT: the signals agree up to summation order (over NCCL with 2+ GPUs, else
#      through MPI on the host).
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

# 5. A gang of 2 = one rank, numerically (fp32).
close() {  # A B TOL SIGNAL
  "${LIRA_PYTHON:-/usr/bin/python3}" - "$@" <<'PY' || fail "signals of $1 and $2 differ"
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r")["signals/" + sys.argv[4]][:]
b = h5py.File(sys.argv[2], "r")["signals/" + sys.argv[4]][:]
a, b = a[np.isfinite(a)], b[np.isfinite(b)]
d = float(np.abs(a - b).max())
print(f"{sys.argv[4]}: max |difference| {d:.3g} (values ~{float(np.abs(a).mean()):.3g})")
sys.exit(0 if d <= float(sys.argv[3]) else 1)
PY
}
share=()
[ "$gpus" -ge 2 ] || share=(parallel.ranks_per_gpu=2)
ok_run fp32_one 2 training.bf16=false
ok_run fp32_gang 3 training.bf16=false parallel.ranks_per_model=2 "${share[@]}"
close "$work/fp32_one.h5" "$work/fp32_gang.h5" 1e-2 logit_confidence
echo "ok: a classifier gang of 2 = one rank on CUDA (fp32)"
"${LIRA_PYTHON:-/usr/bin/python3}" - "$work/lines.txt" <<'PY'
import sys
words = "the cat sat on a mat and the dog ran far away from home".split()
with open(sys.argv[1], "w") as f:
    for i in range(400):
        f.write(" ".join(words[(i * 7 + w * 3) % len(words)] for w in range(3 + i % 9)) + "\n")
PY
lm=(run "$src/configs/fortunes-gpt.yaml" --set data.dataset=text --set "data.path=$work/lines.txt"
    --set data.candidates=300 --set data.test_examples=50 --set data.max_tokens=64 --set experiment.models=2
    --set training.epochs=3 --set training.device=cuda --set training.bf16=false --log-level info)
gpt_sets=()
for s in "${share[@]}"; do gpt_sets+=(--set "$s"); done
"$mpiexec" -np 2 --oversubscribe "$lira" "${lm[@]}" --out "$work/gpt1.h5" >"$work/gpt1.out" 2>&1 ||
  { tail -20 "$work/gpt1.out"; fail "GPT on one rank"; }
"$mpiexec" -np 3 --oversubscribe "$lira" "${lm[@]}" --set parallel.ranks_per_model=2 "${gpt_sets[@]}" \
  --out "$work/gpt2.h5" >"$work/gpt2.out" 2>&1 || { tail -20 "$work/gpt2.out"; fail "GPT gang"; }
close "$work/gpt1.h5" "$work/gpt2.h5" 1e-2 token_logprob
echo "ok: a GPT gang of 2 = one rank on CUDA (fp32)"
