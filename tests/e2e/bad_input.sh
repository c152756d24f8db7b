#!/usr/bin/env bash
# Bad input never crashes and never leaves a results file: each case must exit != 0 with
# a message naming the problem, and the output path must not exist afterwards.
# usage: bad_input.sh LIRA MAKE_DATASET SOURCE_DIR MPIEXEC
set -uo pipefail
lira=$1 make_dataset=$2 src=$3 mpiexec=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
"$make_dataset" "$work/data" 400 100 || exit 1
config="$src/tests/e2e/tiny.yaml"
failures=0

# expect NAME EXIT_CODE MESSAGE -- command...
expect() {
  local name=$1 code=$2 message=$3
  shift 4
  rm -f "$work/out.h5"
  "$@" >"$work/log" 2>&1
  local rc=$?
  local ok=1
  [ "$rc" -eq "$code" ] || { echo "FAIL $name: exit code $rc, expected $code"; ok=0; }
  grep -qF -- "$message" "$work/log" || { echo "FAIL $name: no '$message' in:"; sed 's/^/    /' "$work/log" | tail -5; ok=0; }
  grep -qiE "segmentation|core dumped|terminate called|std::bad" "$work/log" && { echo "FAIL $name: crashed"; ok=0; }
  [ -e "$work/out.h5" ] && { echo "FAIL $name: left $work/out.h5 behind"; ok=0; }
  if [ $ok = 1 ]; then echo "ok   $name (exit $rc)"; else failures=$((failures + 1)); fi
}

run_local() { "$lira" run "$config" --set "data.path=$work/data" --out "$work/out.h5" "$@"; }
run_mpi() { "$mpiexec" -np 3 --oversubscribe "$lira" run "$config" --set "data.path=$work/data" --out "$work/out.h5" "$@"; }

for mode in local mpi; do
  runner=run_$mode
  expect "$mode: odd model count" 2 "experiment.models: 5 is odd" -- $runner --set experiment.models=5
  expect "$mode: fewer than 2 models" 2 "experiment.models: 0 is out of range" -- $runner --set experiment.models=0
  expect "$mode: N larger than the dataset" 2 "has only 400 examples" -- $runner --set data.candidates=1000
  expect "$mode: unknown key" 2 "did you mean 'training.epochs'" -- $runner --set training.epoch=3
  expect "$mode: missing dataset directory" 2 "does not exist; it must be a directory holding the IDX files" -- $runner --set "data.path=$work/nowhere"
  expect "$mode: missing config file" 2 "cannot read config file" -- \
    "$lira" run "$work/none.yaml" --out "$work/out.h5"
done

# Corrupt data: a truncated gzip, and a file of the wrong format.
cp -r "$work/data" "$work/trunc"
size=$(stat -c %s "$work/trunc/train-images-idx3-ubyte.gz")
truncate -s $((size / 2)) "$work/trunc/train-images-idx3-ubyte.gz"
expect "truncated image file" 2 "train-images-idx3-ubyte.gz" -- run_mpi --set "data.path=$work/trunc"
cp -r "$work/data" "$work/garbage"
echo "not an idx file" | gzip > "$work/garbage/train-labels-idx1-ubyte.gz"
expect "garbage label file" 2 "bad magic number" -- run_local --set "data.path=$work/garbage"

# Unwritable output: a directory that cannot exist (its parent is a regular file).
touch "$work/plainfile"
expect_unwritable() {
  "$@" >"$work/log" 2>&1
  local rc=$?
  if [ "$rc" -eq 3 ] && grep -qF "is a file, not a directory" "$work/log" && [ ! -e "$work/plainfile/r.h5" ]; then
    echo "ok   unwritable output ($1 ..., exit $rc)"
  else
    echo "FAIL unwritable output: exit $rc"; tail -5 "$work/log"; failures=$((failures + 1))
  fi
}
expect_unwritable "$lira" run "$config" --set "data.path=$work/data" --out "$work/plainfile/r.h5"
expect_unwritable "$mpiexec" -np 3 --oversubscribe "$lira" run "$config" --set "data.path=$work/data" --out "$work/plainfile/r.h5"

# An existing file that is not this experiment's results is refused and left untouched.
echo "precious" > "$work/existing.h5"
"$lira" run "$config" --set "data.path=$work/data" --out "$work/existing.h5" >"$work/log" 2>&1
rc=$?
if [ $rc -eq 3 ] && grep -qF "cannot resume it" "$work/log" && grep -qF -- "--overwrite" "$work/log" &&
   [ "$(cat "$work/existing.h5")" = precious ] && [ ! -e "$work/existing.h5.lock" ]; then
  echo "ok   existing output refused (exit $rc)"
else
  echo "FAIL existing output: exit $rc"; failures=$((failures + 1))
fi

# No output replaces an input or a file lira did not write, --overwrite or not (exit 2,
# the file untouched): the config, a data file, a foreign file.
cp "$config" "$work/config-copy.yaml"
sum_before=$(cksum <"$work/config-copy.yaml")
for target in "$work/config-copy.yaml" "$work/data/train-labels-idx1-ubyte.gz" "$work/existing.h5"; do
  [ -e "$target" ] || { echo "FAIL input-output case: $target is missing"; failures=$((failures + 1)); continue; }
  before=$(cksum <"$target")
  "$lira" run "$work/config-copy.yaml" --set "data.path=$work/data" --out "$target" --overwrite >"$work/log" 2>&1
  rc=$?
  if [ $rc -eq 2 ] && grep -qE "an input of this command|lira never replaces such a file" "$work/log" &&
     [ "$(cksum <"$target")" = "$before" ]; then
    echo "ok   run --out $(basename "$target") --overwrite refused (exit $rc)"
  else
    echo "FAIL run --out $(basename "$target") --overwrite: exit $rc"; tail -2 "$work/log"; failures=$((failures + 1))
  fi
done
[ "$(cksum <"$work/config-copy.yaml")" = "$sum_before" ] || { echo "FAIL the config changed"; failures=$((failures + 1)); }

# Scoring bad input: each is refused with a message, exit != 0, and nothing crashes.
good="$work/good.h5"
"$lira" run "$config" --set "data.path=$work/data" --out "$good" >/dev/null 2>&1 || { echo "FAIL: could not make $good"; failures=$((failures + 1)); }
score_expect() {
  local name=$1 code=$2 message=$3
  shift 3
  "$lira" "$@" >"$work/log" 2>&1
  local rc=$?
  if [ "$rc" -eq "$code" ] && grep -qF -- "$message" "$work/log" && ! grep -qiE "segmentation|terminate called" "$work/log"; then
    echo "ok   $name (exit $rc)"
  else
    echo "FAIL $name: exit $rc"; tail -3 "$work/log"; failures=$((failures + 1))
  fi
}
score_expect "score: missing file" 3 "does not exist" score "$work/none.h5"
score_expect "score: not HDF5" 3 "not an HDF5 file" score "$work/plainfile"
score_expect "score: unknown attack" 2 "unknown attack 'lira-onlin'" score "$good" --attack lira-onlin
score_expect "score: attack in capitals" 2 "unknown attack 'LIRA-ONLINE' (did you mean 'lira-online'?)" score "$good" --attack LIRA-ONLINE
score_expect "score: more targets than finished models" 2 "target(s) need at least" score "$good" --targets 7
score_expect "score: official-code has no leave-one-out" 2 "no leave-one-out" score "$good" --flavor official-code --leave-one-out 2
score_expect "score: both target modes" 2 "excludes" score "$good" --targets 2 --leave-one-out 2
score_expect "audit: unwritable JSON" 3 "is a file, not a directory" audit "$good" --json "$work/plainfile/a.json"

echo "$failures failure(s)"
[ $failures -eq 0 ]
