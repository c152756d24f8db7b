#!/usr/bin/env bash
# The LiRA paper's trends (Carlini et al. 2022) on real data, with lira's own commands:
#   1. attack success against the number of reference models (the paper's Fig. 9): online
#      and offline LiRA, each with per-example and with fixed (global) variance;
#   2. the number of queries, 1, 2 and 18 (Table III);
#   3. the log-log ROC of online and offline LiRA against LOSS and the global threshold
#      (Fig. 1 and Table I's point: AUC hides what happens at low FPR).
# Default: 256 one-hidden-layer MLPs on Fashion-MNIST (Debian's dataset-fashion-mnist),
# each trained on a random half of 2,000 candidates (plus 500 no model sees) with the
# paper's training augmentations (random flips and 1-pixel shifts) and queried at the
# 18 = 2 flips x 9 shifts the paper uses; about 3.5 minutes on 2 cores. docs/reproduction.md
# shows the result next to the paper's claims.
#   bench/reproduce_lira.sh [--out DIR] [--models M] [--tiny] [--cifar10 DIR] [--lira PATH]
#   --tiny         8 models on 300 candidates, 2 epochs: checks the script end to end (CTest)
#   --cifar10 DIR  the paper's own setting instead (configs/cifar10-paper.yaml: WRN-28-2 on
#                  the binary CIFAR-10 files in DIR; GPU hours, see that config)
# Relative paths are taken from the directory it is called from. Outputs in DIR (default
# results/reproduce-lira in the repo, which git ignores): results.h5, the lira score JSON reports,
# references.svg, queries.svg, roc.svg and summary.md (the tables docs/reproduction.md shows).
# Rerunning resumes the training (lira run's resume) and redoes the scoring.
set -euo pipefail
# Paths given relative to where the script is called from (it then works in the repo root).
absolute() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
out= models=256 tiny=0 cifar= lira=
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$(absolute "$2"); shift 2 ;;
    --models) models=$2; shift 2 ;;
    --tiny) tiny=1; shift ;;
    --cifar10) cifar=$(absolute "$2"); shift 2 ;;
    --lira) lira=$(absolute "$2"); shift 2 ;;
    *) echo "reproduce_lira: unknown option '$1' (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
out=${out:-$PWD/results/reproduce-lira}
python=${LIRA_PYTHON:-/usr/bin/python3}
if [ -z "$lira" ]; then
  lira=$PWD/build/bin/lira
  [ -x "$lira" ] || bash scripts/build.sh
elif [ ! -x "$lira" ]; then
  echo "reproduce_lira: --lira '$lira' is not an executable" >&2; exit 2
fi
[ "$tiny" = 1 ] || [ "$models" -ge 40 ] ||
  { echo "reproduce_lira: --models $models: at least 40 (32 targets and references besides them)" >&2; exit 2; }
mkdir -p "$out"
start=$SECONDS

# The experiment.
if [ -n "$cifar" ]; then
  [ -f "$cifar/data_batch_1.bin" ] || { echo "reproduce_lira: no CIFAR-10 binary files in '$cifar' (data_batch_1.bin ...)" >&2; exit 2; }
  config=configs/cifar10-paper.yaml
  sets=(--set "data.path=$cifar" --set "experiment.models=$models")
  center="identity(0,0)" mirror="mirror(0,0)"
else
  config=$out/config.yaml
  candidates=2500 population=500 epochs=30
  [ "$tiny" = 1 ] && models=8 candidates=300 population=50 epochs=2
  cat >"$config" <<YAML
# Written by bench/reproduce_lira.sh: the LiRA paper's setting in miniature on Fashion-MNIST.
experiment: {name: reproduce-lira, seed: 0, models: $models}
data: {dataset: fashion-mnist, path: /usr/share/datasets/fashion-mnist, candidates: $candidates, population: $population}
model: {arch: mlp, hidden: [256]}
training: {epochs: $epochs, batch_size: 128, optimizer: sgd, lr: 0.05, momentum: 0.9, augment_flip: true, augment_crop: 1}
queries: {identity: true, mirror: true, shift: 1}
YAML
  sets=()
  center="identity(0,0)" mirror="mirror(0,0)"
fi
results=$out/results.h5
echo "reproduce_lira: training $models models ($config) into $results"
t0=$SECONDS
resume=()
[ -f "$results" ] || resume=(--overwrite)
"$lira" run "$config" "${sets[@]}" --out "$results" "${resume[@]}" --log-level warn
train_seconds=$((SECONDS - t0))

# 1. The number of reference models: the last 32 models are targets (their non-members,
# about 32,000 pooled, allow 32 false positives at 0.1% FPR), the first R of the others
# their references (each candidate IN for about half of them, as in the paper's figure).
targets=32
[ "$tiny" = 1 ] && targets=2
max_refs=$((models - targets))
refs=()
for r in 2 4 8 16 32 64 128 256 512 1024; do [ "$r" -lt "$max_refs" ] && refs+=("$r"); done
refs+=("$max_refs")
score() { "$lira" score "$results" --overwrite --bootstrap 0 "$@" >/dev/null; }
t0=$SECONDS
for r in "${refs[@]}"; do
  score --targets $targets --references "$r" --json "$out/references-$r.json" \
    --attack lira-online,lira-online-fixed-variance,lira-offline,lira-offline-fixed-variance
done
# 2. Queries: leave-one-out over every model (the paper's protocol), 1, 2 and all 18.
score --leave-one-out "$models" --queries "$center" --attack lira-online,lira-offline --json "$out/queries-1.json"
score --leave-one-out "$models" --queries "$center,$mirror" --attack lira-online,lira-offline --json "$out/queries-2.json"
score --leave-one-out "$models" --attack lira-online,lira-offline --json "$out/queries-all.json"
# 3. The ROC against the baselines, drawn by lira score itself.
score --leave-one-out "$models" --attack lira-online,lira-offline,loss,global-threshold --json "$out/roc.json" \
  --plot "$out/roc.svg"
score_seconds=$((SECONDS - t0))

"$python" bench/reproduce_plots.py "$out" "${refs[@]}"
echo "reproduce_lira: training ${train_seconds} s, scoring ${score_seconds} s, total $((SECONDS - start)) s on $(nproc) cores"
echo "reproduce_lira: figures and tables in $out (summary.md, references.svg, queries.svg, roc.svg)"
