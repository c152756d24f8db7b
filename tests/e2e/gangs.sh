#!/usr/bin/env bash
# Data-parallel gangs (parallel.ranks_per_model) on CPU under mpirun:
#   1. a gang of 2 trains the same models as one rank with the full batch, up to
#      floating-point summation order (an MLP: no BatchNorm, no dropout), also when it
#      trains packs of 4 models at once (parallel.models_per_job);
#   2. two gangs share the work; 3 worker ranks cannot form gangs of 2 (clean error,
#      no file), nor can a run without mpirun, nor an MPI without MPI_THREAD_SERIALIZED;
#   3. a rank stuck before an all-reduce: its gang's collective times out, the model goes
#      to the other gang, the stuck gang retires, every model is done, exit 6;
#   4. ranks of an idle gang do not spin: CPU seconds per wall second near zero;
#   5. language models in gangs: lira's GPT and a TorchScript LM, a gang of 2 against one
#      rank, per-token log-probabilities equal up to summation order.
# usage: gangs.sh LIRA MAKE_DATASET CHECK_RESULTS SOURCE_DIR MPIEXEC
set -uo pipefail
lira=$1 make_dataset=$2 check=$3 src=$4 mpiexec=$5
python=${LIRA_PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'pkill -9 -f "$work/" 2>/dev/null; rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Open MPI's single-copy (CMA) transfers cost ~2 ms per all-reduce in this container:
# docs/distributed.md.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
fail() { echo "FAIL: $*"; exit 1; }
"$make_dataset" "$work/data" 1500 100 >/dev/null || fail "dataset"
args=(run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/data" --set data.candidates=1000 --set training.epochs=20)
mpi() { local n=$1; shift; "$mpiexec" -np "$n" --oversubscribe "$@"; }
close() {  # A B TOL [SIGNAL]: max |A - B| over a signal (the logit confidences) <= TOL
  "$python" - "$1" "$2" "$3" "${4:-logit_confidence}" <<'PY' || fail "signals of $1 and $2 differ"
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r")["signals/" + sys.argv[4]][:]
b = h5py.File(sys.argv[2], "r")["signals/" + sys.argv[4]][:]
a, b = a[np.isfinite(a)], b[np.isfinite(b)]
d = float(np.abs(a - b).max())
print(f"max |difference| {d:.3g} (values ~{float(np.abs(a).mean()):.3g})")
sys.exit(0 if d <= float(sys.argv[3]) else 1)
PY
}

# 1. Gang of 2 vs one rank.
mpi 2 "$lira" "${args[@]}" --log-level warn --out "$work/k1.h5" || fail "one-rank run"
mpi 3 "$lira" "${args[@]}" --log-level warn --set parallel.ranks_per_model=2 --out "$work/k2.h5" || fail "gang run"
"$check" "$work/k2.h5" 6 1000 2 >/dev/null || fail "gang results file"
close "$work/k1.h5" "$work/k2.h5" 1e-3
echo "ok: a gang of 2 = one rank, up to summation order"
# 1b. A gang of 2 training packs of 4 (parallel.models_per_job): the same models again.
mpi 3 "$lira" "${args[@]}" --log-level debug --set parallel.ranks_per_model=2 --set parallel.models_per_job=4 \
  --out "$work/k2p4.h5" >"$work/k2p4.out" 2>&1 || { tail "$work/k2p4.out"; fail "gang run with packs"; }
grep -q "with 3 more in its pack" "$work/k2p4.out" || fail "the gang did not train packs of 4"
close "$work/k1.h5" "$work/k2p4.h5" 1e-3
echo "ok: a gang of 2 training packs of 4 = one rank alone, up to summation order"

# 2. Two gangs; impossible layouts.
mpi 5 "$lira" "${args[@]}" --set parallel.ranks_per_model=2 --log-level info --out "$work/two.h5" >"$work/two.out" 2>&1 ||
  { tail "$work/two.out"; fail "two gangs"; }
grep -q "2 data-parallel gang(s) of 2 ranks" "$work/two.out" || fail "no gang line in the log"
[ "$(grep -oE "done by rank [0-9]+" "$work/two.out" | sort -u | wc -l)" -eq 2 ] || fail "the two gang leaders did not share the work"
close "$work/k1.h5" "$work/two.h5" 1e-3
mpi 4 "$lira" "${args[@]}" --set parallel.ranks_per_model=2 --out "$work/bad.h5" >"$work/bad.out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "3 workers in gangs of 2: exit $rc, want 2"
grep -q "parallel.ranks_per_model is 2 but there are 3 worker ranks" "$work/bad.out" || fail "unclear error: $(cat "$work/bad.out")"
[ ! -e "$work/bad.h5" ] || fail "a refused run left a results file"
"$lira" "${args[@]}" --set parallel.ranks_per_model=2 --out "$work/single.h5" >"$work/single.out" 2>&1
[ $? -eq 2 ] && grep -q "need MPI ranks" "$work/single.out" || fail "a gang without mpirun: $(cat "$work/single.out")"
LIRA_TEST_MPI_THREAD=funneled mpi 3 -x LIRA_TEST_MPI_THREAD "$lira" "${args[@]}" --set parallel.ranks_per_model=2 \
  --out "$work/funneled.h5" >"$work/funneled.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "needs MPI_THREAD_SERIALIZED, but this MPI provides MPI_THREAD_FUNNELED" "$work/funneled.out" ||
  fail "gangs without MPI_THREAD_MULTIPLE: exit $rc, $(tail -3 "$work/funneled.out")"
[ ! -e "$work/funneled.h5" ] || fail "a refused run left a results file"
echo "ok: two gangs share the work; impossible layouts and missing thread support are refused"

# 3. Rank 2 (gang 0's second rank) stalls 6 s before its first all-reduce; timeout 2 s.
LIRA_TEST_STALL_RANK=2:6 mpi 5 -x LIRA_TEST_STALL_RANK "$lira" "${args[@]}" --set parallel.ranks_per_model=2 \
  --set parallel.collective_timeout=2 --log-level info --out "$work/stall.h5" >"$work/stall.out" 2>&1
rc=$?
[ $rc -eq 6 ] || { tail -20 "$work/stall.out"; fail "stuck gang: exit $rc, want 6"; }
grep -q "gang 0 (world ranks 1-2): all-reduce of gradients did not complete within 2 s" "$work/stall.out" ||
  fail "the timeout does not name the gang and the operation"
grep -q "rank 1 retired" "$work/stall.out" || fail "the stuck gang did not retire"
"$check" "$work/stall.h5" 6 1000 2 >/dev/null || fail "not every model done after the gang retired"
close "$work/k1.h5" "$work/stall.h5" 1e-3
echo "ok: a stuck collective times out, the gang retires, the other gang finishes the run"

# 4. Idle cost: 3 gangs, 2 synthetic jobs of 3 s: the third gang waits the whole run.
mpi 7 bash -c 'exec /usr/bin/time -f "%U %S %e" -o "'"$work"'/cpu.$OMPI_COMM_WORLD_RANK" "$0" "$@"' \
  "$lira" run "$src/bench/synthetic.yaml" --set experiment.models=2 --set model.job_seconds=3 \
  --set parallel.ranks_per_model=2 --out "$work/idle.h5" --log-level warn >"$work/idle.out" 2>&1 || fail "idle run"
for r in 5 6; do
  read -r u s e <"$work/cpu.$r"
  use=$(awk -v u="$u" -v s="$s" -v e="$e" 'BEGIN {printf "%.3f", (u + s) / e}')
  echo "idle gang rank $r: $use CPU s per wall s"
  awk -v x="$use" 'BEGIN {exit !(x < 0.1)}' || fail "rank $r of an idle gang spins ($use CPU s per s)"
done
echo "ok: idle gang ranks sleep"

# 5. Language models: a gang of 2 shards every batch's windows; one rank trains them all.
"$python" - "$work/lines.txt" <<'PY'
import sys
words = "the cat sat on a mat and the dog ran far away from home".split()
with open(sys.argv[1], "w") as f:
    for i in range(160):
        f.write(" ".join(words[(i * 7 + w * 3) % len(words)] for w in range(3 + i % 6)) + "\n")
PY
lm=(run "$src/configs/fortunes-gpt.yaml" --set data.dataset=text --set "data.path=$work/lines.txt"
    --set data.candidates=100 --set data.test_examples=40 --set data.max_tokens=32 --set model.context=64
    --set experiment.models=4 --set training.epochs=3 --set training.batch_size=8 --set training.threads=1)
mpi 2 "$lira" "${lm[@]}" --log-level warn --out "$work/lm1.h5" || fail "one-rank GPT run"
mpi 3 "$lira" "${lm[@]}" --log-level warn --set parallel.ranks_per_model=2 --out "$work/lm2.h5" || fail "GPT gang run"
close "$work/lm1.h5" "$work/lm2.h5" 1e-3 token_logprob
cat >"$work/export_lm.py" <<'PY'  # torch.jit.script needs the source in a file
import sys, torch
from torch import nn
class Lm(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(257, 32)
        self.rnn = nn.GRU(32, 32, batch_first=True)
        self.head = nn.Linear(32, 257)
    def forward(self, idx):
        return self.head(self.rnn(self.emb(idx))[0])
torch.manual_seed(0)
torch.jit.script(Lm()).save(sys.argv[1])
PY
"$python" "$work/export_lm.py" "$work/tinylm.pt" || fail "exporting the TorchScript LM"
ts=("${lm[@]}" --set model.arch=torchscript --set "model.torchscript_path=$work/tinylm.pt" --set model.layers=2
    --set model.heads=4 --set model.embed=128)
mpi 2 "$lira" "${ts[@]}" --log-level warn --out "$work/ts1.h5" || fail "one-rank TorchScript LM run"
mpi 3 "$lira" "${ts[@]}" --log-level warn --set parallel.ranks_per_model=2 --out "$work/ts2.h5" || fail "TorchScript LM gang"
close "$work/ts1.h5" "$work/ts2.h5" 1e-3 token_logprob
echo "ok: GPT and TorchScript language models in a gang of 2 = one rank, up to summation order"
