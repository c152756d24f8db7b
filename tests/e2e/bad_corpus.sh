#!/usr/bin/env bash
# The corpus of bad inputs: every config in tests/bad/configs (each says what its error
# must contain in its first line), every broken dataset make_bad_data writes, and a full
# disk. Each must fail with exit != 0 and a message naming the file, key or line -- never a
# crash -- and leave no results file that claims to be complete.
# usage: bad_corpus.sh LIRA MAKE_BAD_DATA MAKE_DATASET CHECK_RESULTS SOURCE_DIR
set -uo pipefail
lira=$1 make_bad_data=$2 make_dataset=$3 check=$4 src=$5
work=$(mktemp -d)
trap 'mountpoint -q "$work/full" && umount "$work/full"; rm -rf "$work"' EXIT
failures=0 cases=0

# check NAME EXPECTED_EXIT_CODE -- expected texts... (reads $work/log, $work/out.h5)
verdict() {
  local name=$1 code=$2 rc=$3
  shift 3
  local ok=1
  cases=$((cases + 1))
  [ "$rc" -eq "$code" ] || { echo "FAIL $name: exit code $rc, expected $code"; ok=0; }
  for text in "$@"; do
    grep -qF -- "$text" "$work/log" || { echo "FAIL $name: no '$text' in:"; tail -4 "$work/log" | sed 's/^/    /'; ok=0; }
  done
  grep -qiE "segmentation|core dumped|terminate called|std::bad|internal error" "$work/log" && { echo "FAIL $name: crashed"; ok=0; }
  [ -e "$work/out.h5" ] && { echo "FAIL $name: left a results file"; ok=0; }
  ls "$work"/out.h5.* >/dev/null 2>&1 && { echo "FAIL $name: left $(ls "$work"/out.h5.*)"; ok=0; }  # .lock, .partial
  if [ $ok = 1 ]; then echo "ok   $name"; else failures=$((failures + 1)); fi
}

for config in "$src"/tests/bad/configs/*.yaml; do
  expect=$(head -1 "$config" | sed 's/^# expect: //')
  for cmd in run validate; do
    rm -f "$work/out.h5"
    "$lira" $cmd "$config" --out "$work/out.h5" >"$work/log" 2>&1
    rc=$?  # before any other command (a command substitution) resets $?
    verdict "$cmd $(basename "$config")" 2 $rc "$expect" "$(basename "$config")"
  done
done

"$make_bad_data" "$work/data" || exit 1
while IFS='|' read -r dir dataset candidates expect1 expect2; do
  rm -f "$work/out.h5"
  extra=()
  [ "$dataset" = csv ] && extra=(--set queries.mirror=false)
  "$lira" run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/data/$dir" --set "data.dataset=$dataset" \
    --set "data.candidates=$candidates" "${extra[@]}" --out "$work/out.h5" >"$work/log" 2>&1
  rc=$?
  verdict "data: $dir" 2 $rc "$expect1" "$expect2"
done <"$work/data/cases.txt"

# Run-side input: the command line and the output path.
rm -f "$work/out.h5"
"$lira" rnu "$src/tests/e2e/tiny.yaml" >"$work/log" 2>&1
verdict "unknown command" 2 $? "unknown command 'rnu' (did you mean 'run'?); the commands are: run, validate"
mkdir -p "$work/outdir"
for cmd in run validate; do
  "$lira" $cmd "$src/tests/e2e/tiny.yaml" --out "$work/outdir" >"$work/log" 2>&1
  rc=$?
  verdict "$cmd --out DIRECTORY" 2 $rc "is a directory; give a file in it, e.g. --out $work/outdir/e2e-tiny.h5"
  grep -q -- "--overwrite" "$work/log" && { echo "FAIL $cmd --out DIRECTORY: recommends --overwrite"; failures=$((failures + 1)); }
done
# MNIST and Fashion-MNIST have the same files: the labels tell them apart.
if [ -e /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz ]; then
  "$lira" run "$src/tests/e2e/tiny.yaml" --set data.path=/usr/share/datasets/fashion-mnist --set data.dataset=mnist \
    --out "$work/out.h5" >"$work/log" 2>&1
  verdict "mnist on Fashion-MNIST files" 2 $? "data.dataset is mnist, but the files in" "are Fashion-MNIST"
else
  echo "skip mnist on Fashion-MNIST files: dataset-fashion-mnist is not installed"
fi

# A full disk: a 256 KiB tmpfs, too small for the 480 KB of signals (needs root; said
# plainly when it cannot be made).
mkdir -p "$work/full"
if mount -t tmpfs -o size=256k tmpfs "$work/full" 2>/dev/null; then
  "$make_dataset" "$work/big" 6000 100 || exit 1
  "$lira" run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/big" --set data.candidates=5000 \
    --set training.epochs=1 --out "$work/full/out.h5" >"$work/log" 2>&1
  rc=$?
  cases=$((cases + 1))
  done_models=$("$check" --done "$work/full/out.h5" 2>/dev/null | wc -l)
  # The file is built whole (NaN-filled) under a temporary name first: a disk too small
  # for it leaves nothing, neither the file nor the temporary.
  leftovers=$(ls "$work/full" | grep -v "^out.log$" | tr '\n' ' ')
  if [ $rc -ne 0 ] && grep -qiE "no space left|disk full" "$work/log" && [ "$done_models" -lt 6 ] &&
     [ -z "$leftovers" ] &&
     ! grep -qiE "segmentation|core dumped|terminate called" "$work/log"; then
    echo "ok   full disk (exit $rc, $done_models of 6 models marked done)"
  else
    echo "FAIL full disk: exit $rc, $done_models models done, left: $leftovers"; tail -4 "$work/log"; failures=$((failures + 1))
  fi
else
  echo "skip full disk: cannot mount a tmpfs here (not root?)"
fi

echo "$cases cases, $failures failure(s)"
[ $failures -eq 0 ]
