#!/usr/bin/env bash
# The attack comparison of docs/scoring.md: the shipped quickstart (configs/quickstart.yaml)
# trained with M = 8, 16 and 32 models, each scored leave-one-out over every model, every
# LiRA variant, RMIA and BaVarIA side by side (pooled AUC and TPRs, bootstrap intervals).
# About 1 minute of training on 2 cores (mpirun -np 3).
#   bench/attack_table.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=${2:-$(mktemp -d)}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
attacks=lira-online,lira-online-fixed-variance,bavaria-n-online,bavaria-t-online,rmia-online,lira-offline,lira-offline-fixed-variance,bavaria-n-offline,bavaria-t-offline,rmia
for m in 8 16 32; do
  mpirun -np 3 --oversubscribe "$build/bin/lira" run configs/quickstart.yaml --set experiment.models=$m \
    --out "$work/q$m.h5" --overwrite --log-level warn
  "$build/bin/lira" score "$work/q$m.h5" --leave-one-out $m --attack $attacks --json "$work/q$m.json" --overwrite \
    >/dev/null
done
/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
reports = {m: json.load(open(f"{work}/q{m}.json")) for m in (8, 16, 32)}
names = [a["name"] for a in reports[32]["attacks"]]
def cell(rep, name, key):
    a = next((a for a in rep["attacks"] if a["name"] == name), None)
    if a is None:
        return "skipped"
    p = a["pooled"]
    if key == "auc":
        v, (lo, hi) = p["auc"], p["auc_interval"]
    else:
        t = next(t for t in p["tpr_at_fpr"] if abs(t["fpr"] - key) < 1e-12)
        v, (lo, hi) = t["tpr"], t["interval"]
        if v is None:  # n/a: too few non-members for this FPR (docs/scoring.md, the n/a rule)
            return f"n/a (needs {t['needs_nonmembers']} non-members)"
    mark = "*" if a["few_references"] else ""
    return f"{v:.3f}{mark} [{lo:.3f}, {hi:.3f}]"
for key, title in (("auc", "AUC"), (1e-2, "TPR at 1% FPR"), (1e-3, "TPR at 0.1% FPR")):
    print(f"\n{title} (pooled over the M leave-one-out targets, 95% bootstrap interval):\n")
    print("| attack | M = 8 | M = 16 | M = 32 |")
    print("|---|---|---|---|")
    for n in names:
        print(f"| {n} | " + " | ".join(cell(reports[m], n, key) for m in (8, 16, 32)) + " |")
print("\n(* = fitted on too few references per example: docs/scoring.md)")
PY
