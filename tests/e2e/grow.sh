#!/usr/bin/env bash
# Growing an experiment (experiment.keep_scheme: pairs): a run of 4 models, resumed with
# experiment.models 8, trains only the 4 new ones and ends with a file whose keep matrix,
# seeds, done flags and signals are bitwise those of a run of 8 models from the start --
# also under mpirun. Growing a subsets experiment, and shrinking, are refused with the
# reason and nothing changed; lira validate says what a run would do.
# usage: grow.sh LIRA MAKE_DATASET CHECK_RESULTS SOURCE_DIR MPIEXEC
set -uo pipefail
lira=$1 make_dataset=$2 check=$3 src=$4 mpiexec=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
"$make_dataset" "$work/data" 600 100 || exit 1
args=(run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/data" --set experiment.keep_scheme=pairs
      --set data.population=20 --log-level info)
fail() { echo "FAIL: $*"; exit 1; }

echo "== reference: 8 models from the start"
"$lira" "${args[@]}" --set experiment.models=8 --out "$work/ref.h5" >"$work/ref.log" 2>&1 ||
  { cat "$work/ref.log"; fail "reference run"; }

echo "== 4 models, then grown to 8"
"$lira" "${args[@]}" --set experiment.models=4 --out "$work/grown.h5" >"$work/a.log" 2>&1 ||
  { cat "$work/a.log"; fail "4-model run"; }
"$lira" validate "$src/tests/e2e/tiny.yaml" --set "data.path=$work/data" --set experiment.keep_scheme=pairs \
  --set data.population=20 --set experiment.models=8 --out "$work/grown.h5" >"$work/v.log" 2>&1 ||
  { cat "$work/v.log"; fail "validate of a growable file"; }
grep -q "will grow it from 4 to 8 models" "$work/v.log" || { cat "$work/v.log"; fail "validate does not say it grows"; }
"$lira" "${args[@]}" --set experiment.models=8 --out "$work/grown.h5" >"$work/b.log" 2>&1 ||
  { cat "$work/b.log"; fail "the grown run"; }
grep -q "growing .* from 4 to 8 models" "$work/b.log" || { cat "$work/b.log"; fail "no growth line"; }
grep -q "4 of 8 models are done; 4 to train" "$work/b.log" || { cat "$work/b.log"; fail "it should train 4 models"; }
trained=$(grep -c "model [0-9]* done by" "$work/b.log")
[ "$trained" -eq 4 ] || fail "the grown run trained $trained models, not 4"
"$check" --same "$work/ref.h5" "$work/grown.h5" || fail "the grown file differs from the 8-model run"

echo "== under mpirun -np 3: 2 models, grown to 8"
"$mpiexec" -np 3 --oversubscribe "$lira" "${args[@]}" --set experiment.models=2 --out "$work/mpi.h5" >"$work/m1.log" 2>&1 ||
  { cat "$work/m1.log"; fail "2-model MPI run"; }
"$mpiexec" -np 3 --oversubscribe "$lira" "${args[@]}" --set experiment.models=8 --out "$work/mpi.h5" >"$work/m2.log" 2>&1 ||
  { cat "$work/m2.log"; fail "grown MPI run"; }
"$check" --same "$work/ref.h5" "$work/mpi.h5" || fail "the MPI-grown file differs from the 8-model run"

echo "== refusals: shrinking; growing a subsets experiment"
cp "$work/grown.h5" "$work/before.h5"
"$lira" "${args[@]}" --set experiment.models=6 --out "$work/grown.h5" >"$work/s.log" 2>&1
rc=$?
[ $rc -eq 3 ] || { cat "$work/s.log"; fail "shrinking should exit 3 (results file), not $rc"; }
grep -q "never shrinks" "$work/s.log" || { cat "$work/s.log"; fail "shrinking: no reason given"; }
cmp -s "$work/before.h5" "$work/grown.h5" || fail "a refused shrink changed the file"
sub=(run "$src/tests/e2e/tiny.yaml" --set "data.path=$work/data" --log-level info)
"$lira" "${sub[@]}" --set experiment.models=2 --out "$work/sub.h5" >"$work/u1.log" 2>&1 || { cat "$work/u1.log"; fail "subsets run"; }
"$lira" "${sub[@]}" --set experiment.models=4 --out "$work/sub.h5" >"$work/u2.log" 2>&1
rc=$?
[ $rc -eq 3 ] || { cat "$work/u2.log"; fail "growing subsets should exit 3, not $rc"; }
grep -q "Only keep_scheme: pairs grows" "$work/u2.log" || { cat "$work/u2.log"; fail "subsets growth: no reason given"; }
"$check" "$work/sub.h5" 2 300 2 || fail "the refused growth damaged the subsets file"
echo "grow OK"
