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

# Config files that are not configs: each would have been the built-in defaults.
mkdir -p "$work/a-directory"
: >"$work/empty.yaml"
printf '# only a comment\n\n' >"$work/comments.yaml"
for config in "$work/a-directory" /dev/null "$work/empty.yaml" "$work/comments.yaml"; do
  for cmd in run validate; do
    rm -f "$work/out.h5"
    "$lira" $cmd "$config" --out "$work/out.h5" >"$work/log" 2>&1
    rc=$?
    case $config in
      */a-directory) expect="is a directory; give a YAML file" ;;
      *) expect="has no settings (it is empty or holds only comments)" ;;
    esac
    verdict "$cmd $(basename "$config")" 2 $rc "$expect"
  done
done

# Per-model mistakes that `lira validate` and `lira run` find before training: airbench94's
# batch larger than every model's training set (it drops the last partial batch), and
# airbench94 on images that are not 32x32 RGB. Neither trains a model.
cat >"$work/airbench94.yaml" <<EOF
experiment: {name: airbench94-small, models: 4}
data: {dataset: cifar10, path: "$work/data/cifar10_small", candidates: 200, population: 0, test_examples: 40}
model: {arch: airbench94}
training: {epochs: 1, batch_size: 1024, threads: 1}
EOF
"$make_dataset" "$work/idx" 300 50 || exit 1
for cmd in run validate; do
  rm -f "$work/out.h5"
  "$lira" $cmd "$work/airbench94.yaml" --out "$work/out.h5" >"$work/log" 2>&1
  rc=$?
  verdict "$cmd airbench94 batch larger than each model's data" 2 $rc \
    "training.batch_size: 1024 leaves no full batch for a model that trains on" "lower training.batch_size below"
  grep -q "model 0" "$work/log" && { echo "FAIL $cmd airbench94 batch: a model was started"; failures=$((failures + 1)); }
  "$lira" $cmd "$work/airbench94.yaml" --set "data.path=$work/idx" --set data.dataset=mnist --set training.batch_size=64 \
    --out "$work/out.h5" >"$work/log" 2>&1
  rc=$?
  verdict "$cmd airbench94 on 28x28 images" 2 $rc "airbench94 is the published network for 32x32 RGB images" \
    "has examples of shape 1x28x28"
done

# A shipped CIFAR config where no CIFAR files are: where it looked (from the working
# directory), what it wants there, and that nothing is downloaded.
mkdir -p "$work/elsewhere"
(cd "$work/elsewhere" && "$lira" validate "$src/configs/cifar10-fast.yaml" --out "$work/out.h5") >"$work/log" 2>&1
verdict "validate cifar10-fast.yaml without CIFAR files" 2 $? "$work/elsewhere/data/cifar-10-batches-bin, relative to the working directory" \
  "data_batch_1.bin ... data_batch_5.bin and test_batch.bin" "lira downloads nothing"

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
  echo "SKIP bad_corpus: mnist on Fashion-MNIST files: dataset-fashion-mnist is not installed"
fi

# A full disk: a 256 KiB tmpfs, too small for the 480 KB of signals (needs root; said
# plainly when it cannot be made). `lira run` refuses before it starts (the results file's
# size is known); `lira score --scores-out` finds it while writing: exit 3, one line that
# says the disk is full, nothing left behind.
mkdir -p "$work/full"
if mount -t tmpfs -o size=256k tmpfs "$work/full" 2>/dev/null; then
  "$make_dataset" "$work/big" 6000 100 || exit 1
  "$lira" run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/big" --set data.candidates=5000 \
    --set training.epochs=1 --out "$work/full/out.h5" >"$work/log" 2>&1
  rc=$?
  cases=$((cases + 1))
  leftovers=$(ls -A "$work/full" | tr '\n' ' ')
  if [ $rc -eq 3 ] && grep -qE "needs about .* MB .* has 0 MB free" "$work/log" && [ -z "$leftovers" ]; then
    echo "ok   full disk: run refused before it starts (exit $rc)"
  else
    echo "FAIL full disk: run: exit $rc, left: $leftovers"; tail -4 "$work/log"; failures=$((failures + 1))
  fi
  "$lira" run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/big" --set data.candidates=5000 \
    --set training.epochs=1 --out "$work/big.h5" >/dev/null 2>&1 || { echo "FAIL: cannot make $work/big.h5"; failures=$((failures + 1)); }
  "$lira" score "$work/big.h5" --bootstrap 0 --scores-out "$work/full/s.h5" 2>"$work/log" >/dev/null
  rc=$?
  cases=$((cases + 1))
  leftovers=$(ls -A "$work/full" | tr '\n' ' ')
  if [ $rc -eq 3 ] && grep -qF "no space left on the device (disk full)" "$work/log" && [ -z "$leftovers" ] &&
     [ "$(grep -c . "$work/log")" -le 3 ] && ! grep -qE "H5[A-Z][a-z_]+: .*; .*; .*;" "$work/log"; then
    echo "ok   full disk: score --scores-out (exit $rc, nothing left)"
  else
    echo "FAIL full disk: score: exit $rc, left: $leftovers"; tail -4 "$work/log"; failures=$((failures + 1))
  fi
else
  echo "SKIP bad_corpus: full disk: cannot mount a tmpfs here (not root?)"
fi

echo "$cases cases, $failures failure(s)"
[ $failures -eq 0 ]
