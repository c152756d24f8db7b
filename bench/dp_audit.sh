#!/usr/bin/env bash
# The DP-SGD audit table of docs/privacy.md: configs/fmnist-dpsgd-audit.yaml at epsilon 1,
# 4 and 8 and without DP. For each: mean test accuracy, online LiRA (every model a target
# against the others: --leave-one-out) AUC and TPR at 0.1% FPR, and lira audit's lower
# bounds on the canaries (Clopper-Pearson, GDP, one run; median and largest over the
# targets) next to the epsilon the accountant charged. Exits 1 if any lower bound exceeds
# its target's accounted epsilon (a bug to find, not a figure to report).
#   bench/dp_audit.sh [BUILD_DIR]     env: MODELS (the config's 128), RANKS (3: mpirun -np), KEEP (keep the files)
# CTest e2e_dp_audit_config runs it with MODELS=16 as the config's small version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
lira=$build/bin/lira
config=$here/../configs/fmnist-dpsgd-audit.yaml
ranks=${RANKS:-3}
work=$(mktemp -d)
[[ -n ${KEEP:-} ]] || trap 'rm -rf "$work"' EXIT; echo "work: $work" >&2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
extra=()
[[ -n ${MODELS:-} ]] && extra+=(--set "experiment.models=$MODELS")
for eps in 1 4 8 none; do
  dp=(--set "dp.target_epsilon=$eps")
  [[ $eps == none ]] && dp=(--set dp.target_epsilon=0)
  start=$SECONDS
  mpirun -np "$ranks" --oversubscribe "$lira" run "$config" "${extra[@]}" "${dp[@]}" --set training.threads=1 \
    --log-level warn --out "$work/$eps.h5"
  echo $((SECONDS - start)) > "$work/$eps.seconds"
  models=$(/usr/bin/python3 -c "import h5py; print(h5py.File('$work/$eps.h5')['keep'].shape[0])")
  "$lira" score "$work/$eps.h5" --leave-one-out "$models" --attack lira-online --bootstrap 0 --fpr 0.001 \
    --json "$work/$eps.score.json" > /dev/null
  "$lira" audit "$work/$eps.h5" --leave-one-out "$models" --json "$work/$eps.audit.json" > /dev/null
done
/usr/bin/python3 - "$work" <<'PY'
import json, statistics, sys
import h5py, numpy as np
work = sys.argv[1]
print("| epsilon (target) | accounted epsilon | test acc | LiRA AUC | TPR@0.1%FPR | CP bound median / max | "
      "GDP bound median / max | one-run bound median / max | run time |")
print("|---|---|---|---|---|---|---|---|---|")
bad = []
for eps in ("1", "4", "8", "none"):
    with h5py.File(f"{work}/{eps}.h5", "r") as f:
        acc = f["models/test_accuracy"][:].mean()
        accounted = f["models/dp_epsilon"][:] if "dp_epsilon" in f["models"] else None
        canaries = int((f["candidate_index"][:] < 0).sum())
    score = json.load(open(f"{work}/{eps}.score.json"))
    lira = next(a for a in score["attacks"] if a["name"] == "lira-online")
    auc, tpr = lira["mean"]["auc"], lira["mean"]["tpr_at_fpr"][0]["tpr"]
    audit = json.load(open(f"{work}/{eps}.audit.json"))
    assert audit["candidates"] == "canaries"
    bounds = {"clopper_pearson": [], "gdp": [], "one_run": []}
    for t in audit["targets"]:
        if t["target"] == "pooled":
            continue
        for k in bounds:
            bounds[k].append(t[k]["epsilon"])
            if t.get("dp_epsilon") is not None and t[k]["epsilon"] > t["dp_epsilon"]:
                bad.append(f"epsilon {eps}: {t['target']} {k} bound {t[k]['epsilon']} > accounted {t['dp_epsilon']}")
    cell = lambda v: f"{statistics.median(v):.2f} / {max(v):.2f}"
    acc_eps = "-" if accounted is None else f"{accounted.min():.3f}-{accounted.max():.3f}"
    seconds = float(open(f"{work}/{eps}.seconds").read())
    print(f"| {eps} | {acc_eps} | {acc:.4f} | {auc:.4f} | {tpr:.4f} | {cell(bounds['clopper_pearson'])} | "
          f"{cell(bounds['gdp'])} | {cell(bounds['one_run'])} | {seconds:.0f} s |")
print(f"({canaries} canaries; bounds at delta 1e-5, alpha 0.05 per target)")
if bad:
    print("\n".join(bad))
    sys.exit(1)
PY
