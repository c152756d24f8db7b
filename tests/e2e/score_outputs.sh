#!/usr/bin/env bash
# `lira score` and `lira audit` as a user meets them, on synthetic results files: any number
# of models and any state (skipped attacks with reasons, leave-one-out over every model, a
# file held by a running run), output files that refuse to replace what lira did not write,
# the per-example formats read back by numpy/h5py, SVG-only plots refused up front, a
# mistyped attack with its suggestion, and the audit's three bounds in JSON.
# (Outputs are captured before grep: `lira ... | grep -q` fails under pipefail when grep
# exits first and lira gets SIGPIPE.)
# usage: score_outputs.sh LIRA MAKE_SYNTHETIC_RESULTS
set -euo pipefail
lira=$1 gen=$2
python=${LIRA_PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "score_outputs: FAILED: $*" >&2; exit 1; }
"$gen" "$work/f.h5" --models 16 --candidates 600 --queries 2 --population 100 >/dev/null

# Two models: scores what it can, says why the rest cannot, exits 0.
"$gen" "$work/m2.h5" --models 2 --candidates 300 --queries 1 --population 30 >/dev/null
out=$("$lira" score "$work/m2.h5" --bootstrap 0)
grep -q "^skipped: lira-online: needs a per-example IN and OUT variance" <<<"$out" || fail "M=2: lira-online not skipped: $out"
grep -q "^loss " <<<"$out" || fail "M=2: loss not scored"

# Leave-one-out over every model; --targets M.
out=$("$lira" score "$work/f.h5" --leave-one-out 16 --bootstrap 50)
grep -q "targets: 16 " <<<"$out" || fail "--leave-one-out 16: $out"
grep -q "mean +- standard error over the 16 targets" <<<"$out" || fail "no standard errors"
out=$("$lira" score "$work/f.h5" --targets 16 --bootstrap 0)
grep -q "^skipped: reference" <<<"$out" || fail "--targets 16"

# A file whose run lock is held reads as running; an unfinished one as interrupted.
"$gen" "$work/p.h5" --models 8 --candidates 200 --queries 1 --done 3 >/dev/null
out=$("$lira" score "$work/p.h5" --bootstrap 0)
grep -q "^state: interrupted -- no run holds this file and 5 of 8" <<<"$out" || fail "unfinished file not interrupted"
flock -x "$work/p.h5.lock" sleep 3 &
holder=$!
sleep 0.5
out=$("$lira" score "$work/p.h5" --bootstrap 0)
grep -q "^state: running" <<<"$out" || fail "held file not reported as running"
wait "$holder"

# Outputs never replace an input or a file lira did not write, --overwrite or not (exit 2,
# nothing changed); a lira file of another role is refused too; lira's own file of the same
# role is replaced only with --overwrite.
refused() {  # NAME EXPECTED_TEXT FILE_THAT_MUST_NOT_CHANGE -- lira arguments...
  local name=$1 text=$2 keep=$3
  shift 4
  local before rc=0
  before=$(cksum <"$keep")
  "$lira" "$@" >/dev/null 2>"$work/err" || rc=$?
  [ $rc -eq 2 ] || fail "$name: exit $rc, expected 2: $(cat "$work/err")"
  grep -qF -- "$text" "$work/err" || fail "$name: message: $(cat "$work/err")"
  [ "$(cksum <"$keep")" = "$before" ] || fail "$name: $keep changed"
}
echo "my notes" >"$work/notes.csv"
refused "foreign file" "lira did not write it" "$work/notes.csv" -- score "$work/f.h5" --bootstrap 0 --scores-out "$work/notes.csv"
refused "foreign file, --overwrite" "lira never replaces such a file" "$work/notes.csv" -- \
  score "$work/f.h5" --bootstrap 0 --scores-out "$work/notes.csv" --overwrite
for flag in --scores-out --roc --json --plot; do
  ext=h5; case $flag in --roc) ext=csv;; --json) ext=json;; --plot) ext=svg;; esac
  cp "$work/f.h5" "$work/input.$ext"
  refused "score $flag INPUT --overwrite" "an input of this command" "$work/input.$ext" -- \
    score "$work/input.$ext" --bootstrap 0 "$flag" "$work/input.$ext" --overwrite
done
refused "audit --json INPUT" "an input of this command" "$work/input.json" -- audit "$work/input.json" --json "$work/input.json" --overwrite
refused "results file as scores" "is lira run's results file, not lira score's --scores-out file" "$work/m2.h5" -- \
  score "$work/f.h5" --bootstrap 0 --scores-out "$work/m2.h5" --overwrite
refused "two outputs, one path" "is also the path of --scores-out" "$work/notes.csv" -- \
  score "$work/f.h5" --bootstrap 0 --roc "$work/same.csv" --scores-out "$work/same.csv"
refused "--plot roc.png" "SVG only" "$work/notes.csv" -- score "$work/f.h5" --plot "$work/roc.png"
refused "--scores-out s.txt" "not one of .h5, .hdf5, .csv, .npy" "$work/notes.csv" -- score "$work/f.h5" --scores-out "$work/s.txt"
"$lira" score "$work/f.h5" --bootstrap 0 --plot "$work/roc.svg" >/dev/null
refused "--roc over a ROC plot" "the extension '.svg' is not .csv" "$work/roc.svg" -- \
  score "$work/f.h5" --bootstrap 0 --roc "$work/roc.svg" --overwrite
refused "--plot-scores over a ROC plot" "not lira score's --plot-scores SVG" "$work/roc.svg" -- \
  score "$work/f.h5" --bootstrap 0 --plot-scores "$work/roc.svg" --overwrite
"$lira" score "$work/f.h5" --bootstrap 0 --roc "$work/roc.csv" >/dev/null
refused "--scores-out over a ROC CSV" "is lira score's --roc CSV, not lira score's --scores-out file" "$work/roc.csv" -- \
  score "$work/f.h5" --bootstrap 0 --scores-out "$work/roc.csv" --overwrite
refused "own plot, no --overwrite" "pass --overwrite to replace it" "$work/roc.svg" -- \
  score "$work/f.h5" --bootstrap 0 --plot "$work/roc.svg"
# --json -: the JSON alone on standard output, the table on standard error.
"$lira" score "$work/f.h5" --bootstrap 0 --json - 2>/dev/null | "$python" -c 'import json,sys; assert json.load(sys.stdin)["generator"] == "lira score"' ||
  fail "--json - is not JSON on standard output"
[ ! -e ./- ] || fail "--json - wrote a file named -"
refused "--roc -" "only --json writes to standard output" "$work/notes.csv" -- score "$work/f.h5" --bootstrap 0 --roc -
# Its own files of the same role are replaced with --overwrite.
args=(--bootstrap 20 --targets 3 --scores-out "$work/s.h5" --json "$work/s.json" --roc "$work/r.csv" --plot "$work/p.svg"
      --plot-scores "$work/d.svg" --plot-attacks lira-online,rmia)
"$lira" score "$work/f.h5" "${args[@]}" >/dev/null
"$lira" score "$work/f.h5" "${args[@]}" --overwrite >/dev/null || fail "refused to replace its own outputs"
"$lira" score "$work/f.h5" --bootstrap 0 --scores-out "$work/s.npy" >/dev/null
"$lira" score "$work/f.h5" --bootstrap 0 --scores-out "$work/s.npy" --overwrite >/dev/null || fail "refused its own .npy"
"$python" - "$work" <<'PY'
import json, sys
import h5py, numpy as np
w = sys.argv[1]
s = np.load(f"{w}/s.npy")
report = json.load(open(f"{w}/s.json"))
assert s.shape[1:] == (1, 600), s.shape
assert np.isnan(s[:, :, 500:]).all(), "the population has scores"
with h5py.File(f"{w}/s.h5", "r") as f:
    assert f.attrs["generator"] == "lira score"
    assert f["scores/lira-online"].shape == (3, 600)
    assert f["decisions/lira-online/member_flip"].shape == (600,)
a = {x["name"]: x for x in report["attacks"]}
lo, hi = a["lira-online"]["pooled"]["auc_interval"]
assert lo <= a["lira-online"]["pooled"]["auc"] <= hi, (lo, hi)
assert report["state"] == "complete" and report["generator"] == "lira score"
assert "<!-- written by lira score: score distributions (option plot-scores) -->" in open(f"{w}/d.svg").read()
assert "<!-- written by lira score: ROC curves (option plot) -->" in open(f"{w}/p.svg").read()
# The n/a rule: 3 targets' ~750 non-members cannot estimate a TPR at 0.1% FPR.
t = {x["fpr"]: x for x in a["lira-online"]["pooled"]["tpr_at_fpr"]}
n = a["lira-online"]["pooled"]["nonmembers"]
assert n < 1000 and t[0.001]["tpr"] is None and t[0.001]["needs_nonmembers"] == 1000, t
assert t[0.01]["tpr"] is not None and "needs_nonmembers" not in t[0.01], t
# ROC plot: every curve its own (color, dash); the legend below the axes, off the curves.
import xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(f"{w}/p.svg").getroot()
curves = [c for c in root.iter("{http://www.w3.org/2000/svg}polyline") if c.get("clip-path")]
styles = [(c.get("stroke"), c.get("stroke-dasharray")) for c in curves]
assert len(curves) == len(report["attacks"]) >= 14 and len(set(styles)) == len(styles), styles
axes = next(r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("stroke") == "black")
bottom = float(axes.get("y")) + float(axes.get("height"))
legend = [t for t in root.iter("{http://www.w3.org/2000/svg}text") if "AUC" in (t.text or "") and "TPR@" in (t.text or "")]
assert len(legend) == len(curves) and all(float(t.get("y")) > bottom for t in legend), "legend over the axes"
assert any("n/a" in t.text for t in legend), "the legend shows a TPR@0.1% that is not estimable"
# Score histograms: the axis clipped to the central quantiles, and said so.
assert "axis: the central 98% of scores" in open(f"{w}/d.svg").read()
print("score_outputs: formats OK")
PY
# A mistyped attack: the suggestion.
if "$lira" score "$work/f.h5" --attack bavaria-t-onlin 2>"$work/err"; then fail "unknown attack accepted"; fi
grep -q "did you mean 'bavaria-t-online'" "$work/err" || fail "no suggestion: $(cat "$work/err")"

# Rows changed on disk after their commit: lira check names them, score and audit refuse
# the file (exit 3); a keep value other than 0 and 1 likewise.
"$lira" check "$work/f.h5" >"$work/check.txt" || fail "lira check of an intact file: $(cat "$work/check.txt")"
grep -q "^ok: every committed row matches its checksum" "$work/check.txt" || fail "check: $(cat "$work/check.txt")"
cp "$work/f.h5" "$work/g.h5"
"$python" - "$work/g.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    d = f["signals/logit_confidence"]
    row = d[5]
    row[17] += 0.5  # one value of model 5
    d[5] = row
PY
rc=0; "$lira" check "$work/g.h5" >"$work/check.txt" || rc=$?
[ $rc -eq 3 ] && grep -q "CHANGED ON DISK since their commit: model 5 (logit_confidence);" "$work/check.txt" ||
  fail "check of a changed row: exit $rc: $(cat "$work/check.txt")"
for cmd in score audit; do
  rc=0; "$lira" $cmd "$work/g.h5" >/dev/null 2>"$work/err" || rc=$?
  [ $rc -eq 3 ] && grep -q "model 5 (logit_confidence)" "$work/err" || fail "$cmd of a changed row: exit $rc: $(cat "$work/err")"
done
cp "$work/f.h5" "$work/k.h5"
"$python" -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r+"); k = f["keep"]; r = k[2]; r[9] = 7; k[2] = r' "$work/k.h5"
for cmd in check score; do
  rc=0; "$lira" $cmd "$work/k.h5" >"$work/out" 2>&1 || rc=$?
  [ $rc -eq 3 ] && grep -q "holds 7 at model 2, candidate 9" "$work/out" || fail "$cmd with keep 7: exit $rc: $(cat "$work/out")"
done

# The audit: Clopper-Pearson, GDP and one run per target, as JSON.
"$lira" audit "$work/f.h5" --targets 2 --json "$work/a.json" >/dev/null
"$python" - "$work/a.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
assert a["generator"] == "lira audit"
t = a["targets"]
assert len(t) == 3, t  # 2 targets + pooled
for k in ("clopper_pearson", "gdp", "one_run"):
    assert k in t[0], k
    assert t[0][k]["epsilon"] >= 0
assert "one_run" not in t[2], "one run pooled over targets"
print("score_outputs: audit OK")
PY
echo "score_outputs: OK"
