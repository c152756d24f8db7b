#!/usr/bin/env bash
# Defenses, canaries and external targets end to end on Fashion-MNIST (docs/privacy.md):
#  - defense.label_only / round_decimals: the stored signals take only the values the
#    release allows;
#  - defense.early_stopping stops early and says so;
#  - data.canaries: mislabeled copies of the test split's last examples in the pool slots
#    before the population, /candidate_index -1, audited by default;
#  - lira signals: a model trained in plain PyTorch (docs/examples/audit_own_model.py)
#    gets the same phi from lira as from PyTorch, and lira score --external scores it;
#    bad membership files and foreign results files are refused.
# usage: defenses.sh LIRA SOURCE_DIR
set -euo pipefail
lira=$1 src=$2
py=${LIRA_PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--set experiment.models=8 --set data.candidates=1200 --set data.population=200 --set training.epochs=10
        --set training.threads=1)
quiet=(--log-level warn)
q=$src/configs/quickstart.yaml
"$lira" run "$q" "${common[@]}" "${quiet[@]}" --out "$work/plain.h5"
"$lira" run "$q" "${common[@]}" "${quiet[@]}" --set defense.label_only=true --out "$work/label.h5"
"$lira" run "$q" "${common[@]}" "${quiet[@]}" --set defense.round_decimals=1 --set data.canaries=100 --out "$work/canary.h5"
"$lira" run "$q" "${common[@]}" --set defense.early_stopping=1 --set defense.validation_examples=2000 \
  --log-level info --out "$work/early.h5" > "$work/early.log" 2>&1
grep -q "early stopping after epoch" "$work/early.log" || { cat "$work/early.log"; echo "early stopping never stopped"; exit 1; }
"$lira" audit "$work/canary.h5" --leave-one-out 8 > "$work/canary.audit"
grep -q "on the 100 canaries only" "$work/canary.audit" || { cat "$work/canary.audit"; echo "audit ignored the canaries"; exit 1; }

# A model trained elsewhere, as an external target of the plain run.
"$py" "$src/docs/examples/audit_own_model.py" "$work/plain.h5" "$work/ext" --epochs 10 > /dev/null
"$lira" signals "$work/ext/model.pt" "$work/plain.h5" --membership "$work/ext/membership.npy" --out "$work/ext.h5" > /dev/null
"$lira" score "$work/plain.h5" --external "$work/ext.h5" --bootstrap 0 --json "$work/ext.json" > "$work/ext.score"
grep -q "target: the external model" "$work/ext.score" || { cat "$work/ext.score"; exit 1; }
"$lira" audit "$work/plain.h5" --external "$work/ext.h5" | grep -q "^external " || { echo "audit lost the external target"; exit 1; }

# Refusals: exit 2 (usage) or 3 (storage) and a message that names the problem; nothing written.
refuse() {  # refuse CODE WANT COMMAND...
  local code=$1 want=$2; shift 2
  set +e; "$@" > "$work/out" 2>&1; local rc=$?; set -e
  [[ $rc == "$code" ]] && grep -q -- "$want" "$work/out" || { cat "$work/out"; echo "expected exit $code and '$want', got $rc"; exit 1; }
}
# The same membership as text (one 0/1 per line) and as int64 .npy gives the same target.
"$py" -c "import numpy as np, sys; m = np.load(sys.argv[1]); np.savetxt(sys.argv[2], m.astype(int), fmt='%d'); np.save(sys.argv[3], m.astype(np.int64))" \
  "$work/ext/membership.npy" "$work/mem.txt" "$work/mem64.npy"
"$lira" signals "$work/ext/model.pt" "$work/plain.h5" --membership "$work/mem.txt" --out "$work/ext_txt.h5" > /dev/null 2>&1
"$lira" signals "$work/ext/model.pt" "$work/plain.h5" --membership "$work/mem64.npy" --out "$work/ext_64.h5" > /dev/null 2>&1
"$py" -c "import h5py, sys; a, b, c = (h5py.File(f)['keep'][:] for f in sys.argv[1:]); assert (a == b).all() and (a == c).all()" \
  "$work/ext.h5" "$work/ext_txt.h5" "$work/ext_64.h5"
printf '0 1 0 1 1\n' > "$work/short.txt"
refuse 2 "has 5 entries; the results file has 1200 candidates" \
  "$lira" signals "$work/ext/model.pt" "$work/plain.h5" --membership "$work/short.txt" --out "$work/bad.h5"
[[ ! -e $work/bad.h5 ]] || { echo "a refused lira signals wrote its output"; exit 1; }
sed '3s/.*/2/' "$work/mem.txt" > "$work/two.txt"
refuse 2 "entry 2 is '2', not 0 or 1" \
  "$lira" signals "$work/ext/model.pt" "$work/plain.h5" --membership "$work/two.txt" --out "$work/bad.h5"
refuse 2 "is not a file" "$lira" signals "$work/nope.pt" "$work/plain.h5" --membership "$work/mem.txt" --out "$work/bad.h5"
"$lira" run "$q" "${common[@]}" "${quiet[@]}" --set data.candidates=1000 --out "$work/other.h5"
refuse 3 "was not made for" "$lira" score "$work/other.h5" --external "$work/ext.h5" --bootstrap 0
refuse 2 "defense.label_only: releases the predicted class only" \
  "$lira" validate "$q" --set defense.label_only=true --set defense.top_k=2
refuse 2 "defense.top_k: 10 releases every one of the 10 classes" "$lira" validate "$q" --set defense.top_k=10

"$py" - "$work" "$src" <<'PY'
import gzip, json, math, sys
import h5py, numpy as np
work, src = sys.argv[1:]
with h5py.File(f"{work}/label.h5", "r") as f:
    phi, loss = f["signals/logit_confidence"][:], f["signals/loss"][:]
l2 = math.log(2)
assert np.all(np.isclose(np.abs(phi), l2, atol=1e-6)), "label-only phi is not +-log 2"
assert np.all(np.isclose(loss, 0, atol=1e-6) | np.isclose(loss, l2, atol=1e-6)), "label-only loss not 0 / log 2"
with h5py.File(f"{work}/canary.h5", "r") as f:
    phi, index, labels = f["signals/logit_confidence"][:], f["candidate_index"][:], f["labels"][:]
    keep = f["keep"][:]
# Rounding to 1 decimal: a probability counts as at least 0.05, and 10 rounded values sum
# to at most 1 + 10 x 0.05; so log(0.05 / 1.5) <= phi <= log(1 / 0.05).
assert phi.max() <= math.log(1 / 0.05) + 1e-5 and phi.min() >= math.log(0.05 / 1.5) - 1e-5, \
    f"rounded phi in [{phi.min()}, {phi.max()}]"
assert np.all(index[900:1000] == -1) and np.all(index[:900] >= 0) and np.all(index[1000:] >= 0), "canary slots"
assert np.all(keep[:, 900:1000].sum(0) == 4), "each canary must be IN for half the models"
with gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz") as g:
    test_labels = np.frombuffer(g.read(), np.uint8, offset=8)
assert np.all(labels[900:1000] != test_labels[-100:]), "a canary kept its true label"
with h5py.File(f"{work}/ext.h5", "r") as f:
    lira_phi = f["signals/logit_confidence"][0, :, 0]
torch_phi = np.load(f"{work}/ext/phi.npy")
diff = np.abs(lira_phi - torch_phi).max()
assert diff <= 1e-4 * max(1.0, np.abs(torch_phi).max()), f"lira signals' phi differs from PyTorch's by {diff}"
report = json.load(open(f"{work}/ext.json"))
auc = {a["name"]: a["pooled"]["auc"] for a in report["attacks"]}["lira-online"]
assert auc > 0.6, f"the external model (trained 10 epochs on 500 examples) should leak: AUC {auc}"
print(f"label-only and rounding signals as specified; canaries ok; external phi max diff {diff:.2e}, "
      f"external online LiRA AUC {auc:.4f}")
PY
