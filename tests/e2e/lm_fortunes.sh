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
# Every row, the per-token ones [M, S] included, matches the checksum it was committed with.
"$lira" check "$work/lm.h5" >"$work/check.txt" || { cat "$work/check.txt"; fail "lira check"; }
grep -q "^token_logprob: .* done rows verified, 0 changed on disk" "$work/check.txt" || { cat "$work/check.txt"; fail "per-token rows not verified"; }
"$lira" score "$work/lm.h5" --attack loss,zlib,min-k,min-k-plus-plus,reference,lira-offline --json "$work/s.json" \
  >"$work/score.txt" || { cat "$work/score.txt"; fail "lira score"; }
cat "$work/score.txt"
# lira report shows the exposed records as text, from the file's own tokens.
"$lira" report "$work/lm.h5" -o "$work/report.html" --attack loss --examples 4 --bootstrap 0 >/dev/null ||
  fail "lira report on a text file"
[ "$(grep -o '<blockquote>' "$work/report.html" | wc -l)" -eq 8 ] || fail "lira report: expected 8 text excerpts"
grep -q '<blockquote>[^<]*[A-Za-z]' "$work/report.html" || fail "lira report: the excerpts hold no text"
"$python" - "$work/s.json" <<'PY' || fail "the tiny GPTs do not leak"
import json, sys
r = json.load(open(sys.argv[1]))
auc = {a["name"]: a["pooled"]["auc"] for a in r["attacks"]}
print("AUC", auc)
assert auc["loss"] > 0.6 and auc["reference"] > 0.6, auc
assert all(0 <= v <= 1 for v in auc.values()), auc
PY
echo "ok: language-model run, layout and attacks"

# A TorchScript causal language model (a GRU, scripted by Debian's python3-torch), kept at
# its saved weights (lr 0): lira's per-token log-probs must equal PyTorch's for that model.
# (torch.jit.script reads the class's source: the script must be a file.)
cat >"$work/export_lm.py" <<'PY'
import sys, torch
from torch import nn
class TinyLm(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(257, 16)
        self.gru = nn.GRU(16, 32, batch_first=True)
        self.out = nn.Linear(32, 257)
    def forward(self, idx):
        h, _ = self.gru(self.emb(idx))
        return self.out(h)
torch.manual_seed(1)
torch.jit.script(TinyLm()).save(sys.argv[1])
PY
"$python" "$work/export_lm.py" "$work/tiny_lm.pt" || fail "exporting the TorchScript LM"
# model.embed back to its default: fortunes-gpt.yaml sets it for the GPT, and a TorchScript
# model does not read it (lira refuses keys set where nothing reads them).
"$mpiexec" -np 3 --oversubscribe "$lira" run "$src/configs/fortunes-gpt.yaml" --set experiment.models=2 \
  --set data.candidates=40 --set data.test_examples=10 --set model.arch=torchscript \
  --set "model.torchscript_path=$work/tiny_lm.pt" --set model.embed=128 --set training.epochs=1 --set training.lr=0 \
  --set training.threads=1 --out "$work/ts.h5" --log-level warn || fail "lira run with a TorchScript LM"
"$python" - "$work/tiny_lm.pt" "$work/ts.h5" <<'PY' || fail "TorchScript LM log-probs differ from PyTorch's"
import sys, h5py, numpy as np, torch
m = torch.jit.load(sys.argv[1]).eval()
f = h5py.File(sys.argv[2], "r")
off, tok, lp = f["offsets"][:], f["tokens"][:], f["signals/token_logprob"][:]
worst = 0.0
for n in range(len(off) - 1):
    x = torch.tensor(tok[off[n]:off[n + 1]], dtype=torch.long).unsqueeze(0)
    with torch.no_grad():
        logp = torch.log_softmax(m(x)[0, :-1].double(), -1)
    want = logp.gather(1, x[0, 1:].unsqueeze(1)).squeeze(1).numpy()
    for model in range(lp.shape[0]):
        worst = max(worst, float(np.abs(lp[model, off[n] + 1:off[n + 1]] - want).max()))
print(f"TorchScript LM: max |lira - PyTorch| token log-prob {worst:.2e}")
sys.exit(0 if worst < 1e-4 else 1)
PY
echo "ok: TorchScript language model"
