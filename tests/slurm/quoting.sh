#!/usr/bin/env bash
# A config and paths full of shell syntax -- $(...), backticks, quotes, newlines, ';' --
# render a script that executes none of it: the script runs under bash with stub sbatch,
# srun and scontrol on PATH, and lira (a stub too) must receive every value byte for byte.
# No Slurm needed.
# usage: quoting.sh LIRA
set -uo pipefail
lira=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pwned=$work/pwned
evil="\$(touch $pwned.1)\`touch $pwned.2\`'\"; touch $pwned.3 #"
nl=$'\n'
dir="$work/res $evil${nl}x"
mkdir -p "$dir" "$work/cfg $evil" || fail "mkdir"
config="$work/cfg $evil/exp.yaml"
cat >"$config" <<YAML
experiment:
  name: "n \$(touch $pwned.4) \`touch $pwned.5\` ' ; touch $pwned.6"
  models: 2
data:
  candidates: 10
model:
  arch: synthetic
YAML
set_value="experiment.name=v'\$(touch $pwned.7)\`touch $pwned.8\`${nl}touch $pwned.9"
(cd "$work" && "$lira" slurm "$config" --set "$set_value" --out "$dir/r.h5" --dry-run >"$work/script.sh") ||
  fail "lira slurm --dry-run"
grep -q "touch $pwned" "$work/script.sh" || fail "the values are not in the script at all"

# Stubs: srun records its arguments (NUL-separated) instead of launching anything.
mkdir -p "$work/bin"
cat >"$work/bin/srun" <<'STUB'
#!/bin/bash
[ "${1:-}" = --mpi=list ] && { echo "MPI plugin types are... pmix"; exit 0; }
printf '%s\0' "$@" >"$STUB_OUT"
exit 0
STUB
printf '#!/bin/bash\necho localhost\n' >"$work/bin/scontrol"
printf '#!/bin/bash\necho "sbatch must not run" >&2; exit 1\n' >"$work/bin/sbatch"
chmod +x "$work/bin"/*
STUB_OUT=$work/args PATH="$work/bin:$PATH" SLURM_JOB_ID=1 SLURM_JOB_NODELIST=localhost \
  bash "$work/script.sh" >"$work/run.out" 2>&1 || { cat "$work/run.out"; fail "the script failed"; }
ls "$work" | grep -q pwned && fail "something in the config was executed: $(ls "$work" | grep pwned)"

# What srun was asked to run: ... lira run CONFIG --out RESULTS --set VALUE [--set ...]
# (lira slurm may add overrides of its own after the user's, e.g. a grace period that
# fits Slurm's KillWait).
mapfile -d '' args <"$work/args"
n=${#args[@]} at=-1
for ((i = 0; i < n; i++)); do [ "${args[i]}" = "$lira" ] && { at=$i; break; }; done
[ "$at" -ge 0 ] && [ $((at + 6)) -lt "$n" ] || fail "srun got no lira command: ${args[*]}"
[ "${args[at + 1]}" = run ] || fail "subcommand: ${args[at + 1]}"
[ "${args[at + 2]}" = "$config" ] || fail "config path changed: ${args[at + 2]}"
[ "${args[at + 4]}" = "$dir/r.h5" ] || fail "results path changed: ${args[at + 4]}"
[ "${args[at + 5]}" = --set ] && [ "${args[at + 6]}" = "$set_value" ] || fail "--set value changed: ${args[at + 6]}"
grep -qE "^#SBATCH --job-name=lira-v_+touch_[A-Za-z0-9._-]+$" "$work/script.sh" || fail "job name not sanitized"
echo "ok: nothing executed, every value passed on byte for byte"
