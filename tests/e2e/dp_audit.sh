#!/usr/bin/env bash
# DP-SGD end to end on Fashion-MNIST (Debian's dataset-fashion-mnist): `lira validate`
# prints the epsilon the run will spend, `lira run` stores each model's accounted epsilon,
# and `lira audit` (leave-one-out: every model a target) gives empirical lower bounds that
# must all stay below the target's accounted epsilon -- a bound above it is a bug in the
# trainer, the accountant or the audit. Also checks that DP lowers online LiRA's AUC
# against the same run without DP.
# usage: dp_audit.sh LIRA SOURCE_DIR
set -euo pipefail
lira=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--set experiment.models=16 --set data.candidates=1200 --set data.population=0 --set training.epochs=10
        --set training.threads=1 --log-level warn)
for eps in 1 8 none; do
  dp=()
  [[ $eps != none ]] && dp=(--set "dp.target_epsilon=$eps")
  if [[ $eps != none ]]; then
    "$lira" validate "$src/configs/quickstart.yaml" "${common[@]}" "${dp[@]}" --out "$work/$eps.h5" > "$work/$eps.validate"
    grep -q "^# DP-SGD: noise multiplier .* (solved for target epsilon $eps).* each model spends epsilon $eps " \
      "$work/$eps.validate" || { cat "$work/$eps.validate"; echo "validate did not print the DP budget"; exit 1; }
  fi
  "$lira" run "$src/configs/quickstart.yaml" "${common[@]}" "${dp[@]}" --out "$work/$eps.h5"
  "$lira" score "$work/$eps.h5" --leave-one-out 16 --bootstrap 0 --json "$work/$eps.score.json" > /dev/null
  [[ $eps == none ]] || "$lira" audit "$work/$eps.h5" --leave-one-out 16 --json "$work/$eps.audit.json" > "$work/$eps.audit"
done
"${LIRA_PYTHON:-/usr/bin/python3}" - "$work" <<'PY'
import json, math, sys, h5py
work = sys.argv[1]
auc = {}
for eps in ("1", "8", "none"):
    report = json.load(open(f"{work}/{eps}.score.json"))
    auc[eps] = {a["name"]: a["mean"]["auc"] for a in report["attacks"]}["lira-online"]
    with h5py.File(f"{work}/{eps}.h5", "r") as f:
        if eps == "none":
            assert "dp_epsilon" not in f["models"], "a run without DP stored an epsilon"
            continue
        stored = f["models/dp_epsilon"][:]
        sigma = f["models/dp_noise_multiplier"][:]
    assert all(0 < e <= float(eps) + 1e-9 for e in stored), f"stored epsilons {stored} exceed the target {eps}"
    assert all(s > 0 for s in sigma)
    audit = json.load(open(f"{work}/{eps}.audit.json"))
    worst = 0.0
    for t in audit["targets"]:
        if t["target"] == "pooled":
            continue
        accounted = t["dp_epsilon"]
        assert accounted is not None and accounted <= float(eps) + 1e-9
        for method in ("clopper_pearson", "gdp", "one_run"):
            bound = t[method]["epsilon"]
            worst = max(worst, bound)
            assert bound <= accounted, f"{t['target']}: {method} lower bound {bound} > accounted epsilon {accounted}"
    print(f"epsilon {eps}: sigma {sigma.min():.3f}-{sigma.max():.3f}, accounted {stored.min():.4f}-{stored.max():.4f}, "
          f"largest lower bound {worst:.4f}, online LiRA AUC {auc[eps]:.4f}")
print(f"without DP: online LiRA AUC {auc['none']:.4f}")
assert auc["1"] < auc["none"] and auc["8"] < auc["none"], f"DP did not lower the AUC: {auc}"
PY
