#!/usr/bin/env bash
# The two keep schemes (experiment.keep_scheme, docs/scoring.md) on the quickstart: the
# same 32 MLPs' experiment drawn with subsets and with pairs, at SEEDS root seeds each;
# every model is a target in turn (lira score --leave-one-out 32: 32 x 2,000 scores per
# run). Prints each run's online/offline LiRA AUC and TPR at 0.1% FPR, the means per
# scheme, and pairs' mean over subsets' (the baseline, measured in the same run).
#   bench/keep_schemes.sh [BUILD_DIR]     env: SEEDS ("0 1 2")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
lira=$build/bin/lira
seeds=${SEEDS:-0 1 2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# field ATTACK KEY FILE: a pooled number from lira score's JSON (KEY: auc, or an FPR such as 0.001).
field() {
  /usr/bin/python3 -c '
import json, sys
a = next(x for x in json.load(open(sys.argv[3]))["attacks"] if x["name"] == sys.argv[1])["pooled"]
v = a["auc"] if sys.argv[2] == "auc" else next(t["tpr"] for t in a["tpr_at_fpr"] if abs(t["fpr"] - float(sys.argv[2])) < 1e-12)
print("nan" if v is None else f"{v:.4f}")' "$1" "$2" "$3"
}
printf "%-8s %5s %12s %12s %14s %14s\n" scheme seed online-AUC offline-AUC "online TPR@.1%" "offline TPR@.1%"
for scheme in subsets pairs; do
  for seed in $seeds; do
    "$lira" run "$here/../configs/quickstart.yaml" --set "experiment.keep_scheme=$scheme" --set "experiment.seed=$seed" \
      --out "$work/$scheme-$seed.h5" --log-level warn >/dev/null
    "$lira" score "$work/$scheme-$seed.h5" --leave-one-out 32 --json "$work/$scheme-$seed.json" >/dev/null
    printf "%-8s %5s %12s %12s %14s %14s\n" "$scheme" "$seed" \
      "$(field lira-online auc "$work/$scheme-$seed.json")" "$(field lira-offline auc "$work/$scheme-$seed.json")" \
      "$(field lira-online 0.001 "$work/$scheme-$seed.json")" "$(field lira-offline 0.001 "$work/$scheme-$seed.json")" |
      tee -a "$work/rows"
  done
done
awk '{on[$1] += $3; off[$1] += $4; ton[$1] += $5; toff[$1] += $6; n[$1]++}
     END {
       for (s in n) printf "%-8s %5s %12.4f %12.4f %14.4f %14.4f\n", s, "mean", on[s]/n[s], off[s]/n[s], ton[s]/n[s], toff[s]/n[s]
       printf "%-8s %5s %12.3f %12.3f %14.3f %14.3f\n", "pairs/subsets", "", (on["pairs"]/n["pairs"]) / (on["subsets"]/n["subsets"]),
         (off["pairs"]/n["pairs"]) / (off["subsets"]/n["subsets"]), (ton["pairs"]/n["pairs"]) / (ton["subsets"]/n["subsets"]),
         (toff["pairs"]/n["pairs"]) / (toff["subsets"]/n["subsets"])
     }' "$work/rows"
