#!/usr/bin/env bash
# Language models end to end on Debian's fortunes under mpirun: a tiny GPT run, then the
# results file's ragged token layout checked with h5py (offsets, tokens that decode to
# the fortunes, zlib sizes as Python computes them, per-token log-probs whose mean is the
# per-record loss, NaN only at begin-of-record slots), and the language-model attacks
# scored: the LOSS attack must find the members (AUC > 0.6).
# usage: lm_fortunes.sh LIRA SOURCE_DIR MPIEXEC
set -uo pipefail
lira=$1 src=$2 mpiexec=$3
python=${LIRA_PYTHON:-/usr/bin/python3}
[ -d /usr/share/games/fortunes ] || { echo "SKIP: no /usr/share/games/fortunes (apt-get install fortunes)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
fail() { echo "FAIL: $*"; exit 1; }
"$mpiexec" -np 3 --oversubscribe "$lira" run "$src/configs/fortunes-gpt.yaml" --set experiment.models=4 \
  --set data.candidates=200 --set data.test_examples=50 --set model.embed=32 --set model.layers=1 \
  --set training.epochs=60 --set training.threads=1 --out "$work/lm.h5" --log-level warn || fail "lira run"
"$python" - "$work/lm.h5" <<'PY' || fail "results layout"
import sys, zlib, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
M, N = f["keep"].shape
off, tok = f["offsets"][:], f["tokens"][:]
assert off.shape == (N + 1,) and off[0] == 0 and off[-1] == tok.shape[0], off
assert np.all(np.diff(off) >= 2)
lp = f["signals/token_logprob"][:]
assert lp.shape == (M, tok.shape[0])
assert f["models/done"][:].all()
bos = off[:-1]
assert np.isnan(lp[:, bos]).all(), "begin-of-record slots must be NaN"
rest = np.ones(tok.shape[0], bool); rest[bos] = False
assert np.isfinite(lp[:, rest]).all() and (lp[:, rest] <= 0).all()
for name in ("token_mu", "token_sigma"):
    x = f["signals/" + name][:][:, rest]
    assert np.isfinite(x).all(), name
assert (f["signals/token_sigma"][:][:, rest] >= 0).all()
assert (f["signals/token_mu"][:][:, rest] <= 0).all()
loss = f["signals/loss"][:][:, :, 0]
for n in range(N):
    record = tok[off[n]:off[n + 1]]
    assert record[0] == 256
    text = bytes(record[1:].astype(np.uint8))
    assert f["records/zlib_bytes"][n] == len(zlib.compress(text)), n
    assert np.allclose(-np.nanmean(lp[:, off[n]:off[n + 1]], axis=1), loss[:, n], rtol=1e-4), n
assert np.allclose(f["signals/logit_confidence"][:][:, :, 0], -loss)
print(f"ok: {M} models x {N} records, {tok.shape[0]} tokens; first record {bytes(tok[1:off[1]].astype(np.uint8))[:40]!r}")
PY
"$lira" score "$work/lm.h5" --attack loss,zlib,min-k,min-k-plus-plus,reference,lira-offline --json "$work/s.json" \
  >"$work/score.txt" || { cat "$work/score.txt"; fail "lira score"; }
cat "$work/score.txt"
"$python" - "$work/s.json" <<'PY' || fail "the tiny GPTs do not leak"
import json, sys
r = json.load(open(sys.argv[1]))
auc = {a["name"]: a["pooled"]["auc"] for a in r["attacks"]}
print("AUC", auc)
assert auc["loss"] > 0.6 and auc["reference"] > 0.6, auc
assert all(0 <= v <= 1 for v in auc.values()), auc
PY
echo "ok: language-model run, layout and attacks"
