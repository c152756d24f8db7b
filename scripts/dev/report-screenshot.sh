#!/usr/bin/env bash
# Regenerates docs/images/report.png, the README's screenshot of `lira report`: the
# quickstart's results file (scripts/quickstart.sh makes it) reported and opened in headless
# Chromium, scrolled to the most exposed candidates (an iframe at #exposed: a headless
# screenshot does not scroll to a fragment by itself).
#   scripts/dev/report-screenshot.sh [RESULTS.h5]
set -euo pipefail
cd "$(dirname "$0")/../.."
results=${1:-results/quickstart.h5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build/bin/lira report "$results" -o "$work/report.html" --examples 6
printf '<!DOCTYPE html><html><body style="margin:0"><iframe src="report.html#exposed" width="1000" height="640" style="border:0"></iframe></body></html>\n' >"$work/frame.html"
mkdir -p docs/images
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --disable-extensions --user-data-dir="$work/profile" \
  --window-size=1000,640 --hide-scrollbars --virtual-time-budget=3000 --screenshot="$PWD/docs/images/report.png" \
  "file://$work/frame.html" 2>/dev/null
ls -l docs/images/report.png
