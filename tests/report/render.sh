#!/usr/bin/env bash
# `lira report` as a person sees it: a small Fashion-MNIST run (with audit canaries) is
# reported, the page is opened in headless Chromium (Debian's package; installed here when
# missing and run as root) and checked the way a reader would find it: every thumbnail
# decodes, both plots are there, the page fetches nothing and logs nothing to the console,
# and the screenshot is a rendered page, not a blank one. Then the cases around it: a
# partial file of another tool, data that is not at hand, outputs that must not be
# replaced, and a planted external image that the check must catch.
# usage: render.sh LIRA SOURCE_DIR MAKE_SYNTHETIC_RESULTS
set -euo pipefail
lira=$1 src=$2 gen=$3
python=${LIRA_PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "report_render: FAILED: $*" >&2; exit 1; }

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "report_render: installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  fi
  command -v chromium >/dev/null || { echo "report_render: SKIP: no chromium (apt-get install chromium)"; exit 77; }
fi
# The flags the machine's notes give for a closed network; a fresh profile each call.
browse() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-extensions --user-data-dir="$(mktemp -d -p "$work")" \
    --virtual-time-budget=3000 "$@"
}

# A run with real images: 8 MLPs on 500 Fashion-MNIST candidates, 20 of them canaries.
"$lira" run "$src/configs/quickstart.yaml" --set experiment.models=8 --set data.candidates=500 \
  --set data.population=100 --set data.canaries=20 --set training.epochs=4 --out "$work/r.h5" >"$work/run.log" 2>&1 ||
  { cat "$work/run.log"; fail "lira run"; }
out=$("$lira" report "$work/r.h5" -o "$work/r.html" --examples 6 --bootstrap 50)
grep -q "ranked by lira-online over 8 targets; 12 shown as they are$" <<<"$out" || fail "report's summary line: $out"
page=$(cat "$work/r.html")
for id in run attacks roc scores audit exposed least classes; do
  grep -q "<section id=\"$id\">" <<<"$page" || fail "no section '$id'"
done
grep -q "Content-Security-Policy\" content=\"default-src 'none'; img-src data:" <<<"$page" || fail "no CSP"
[ "$(grep -o '<img ' <<<"$page" | wc -l)" -eq 12 ] || fail "expected 12 thumbnails"
[ "$(grep -o '<svg ' <<<"$page" | wc -l)" -eq 2 ] || fail "expected 2 plots"
grep -Eq '(src|href)="(https?:)?//' <<<"$page" && fail "a link out of the page"
grep -q "<script" <<<"$page" && fail "the page has a script"
grep -Eq "T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot" <<<"$page" || fail "no class names"
grep -q "on the canaries only" <<<"$page" || fail "audit not on the canaries"
# The thumbnails are 28 x 28 images drawn at 4x: PNGs of 112 x 112.
"$python" - "$work/r.html" <<'PY' || fail "thumbnails"
import base64, re, struct, sys
uris = re.findall(r'src="data:image/png;base64,([^"]+)"', open(sys.argv[1]).read())
assert len(uris) == 12, len(uris)
for u in uris:
    png = base64.b64decode(u)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (112, 112), struct.unpack(">II", png[16:24])
PY

# In Chromium. A copy carries a probe script (the page has none, and its policy forbids
# scripts, so the copy's policy also allows inline ones): it counts the images that
# decoded, the plots, every resource the page requested and every policy violation, and
# writes them into the title that --dump-dom prints.
probe() {  # probe IN OUT: OUT is IN with the probe
  "$python" - "$1" "$2" <<'PY'
import sys
page = open(sys.argv[1]).read()
page = page.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1)
script = """<script>
let violations = 0;
document.addEventListener('securitypolicyviolation', () => { violations++; });
window.addEventListener('load', () => setTimeout(() => {
  const imgs = [...document.images];
  const loaded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  const resources = performance.getEntriesByType('resource').length;
  document.title = `CHECK images=${imgs.length} loaded=${loaded} svgs=${document.querySelectorAll('svg').length} resources=${resources} violations=${violations}`;
}, 200));
</script>"""
open(sys.argv[2], "w").write(page.replace("<head>", "<head>" + script, 1))
PY
}
probe "$work/r.html" "$work/probe.html"
dom=$(browse --dump-dom "file://$work/probe.html" 2>/dev/null)
grep -q "<title>CHECK images=12 loaded=12 svgs=2 resources=0 violations=0</title>" <<<"$dom" ||
  fail "in Chromium: $(grep -o '<title>[^<]*' <<<"$dom")"
# The check can fail: an image from elsewhere is blocked and counted.
sed 's|<h1>|<img src="http://127.0.0.1:9/x.png"><h1>|' "$work/r.html" >"$work/planted.html"
probe "$work/planted.html" "$work/planted-probe.html"
dom=$(browse --dump-dom "file://$work/planted-probe.html" 2>/dev/null)
grep -q "violations=[1-9]" <<<"$dom" || fail "a planted external image went unnoticed: $(grep -o '<title>[^<]*' <<<"$dom")"
# The page itself, as a reader opens it: no console message, a rendered screenshot.
browse --window-size=1100,2400 --hide-scrollbars --enable-logging=stderr --v=0 --screenshot="$work/shot.png" \
  "file://$work/r.html" 2>"$work/chromium.log" >/dev/null
grep "CONSOLE" "$work/chromium.log" && fail "console messages"
stats=$("$python" "$src/tests/report/png_tool.py" stats "$work/shot.png")
"$python" - "$stats" <<'PY' || fail "the screenshot looks blank: $stats"
import re, sys
m = re.match(r"1100x2400 colors=(\d+) nonwhite=([\d.]+)", sys.argv[1])
assert m and int(m.group(1)) > 100 and float(m.group(2)) > 0.05
PY

# A partial file of another tool: no config, so no pictures, and the state is said.
"$gen" "$work/p.h5" --models 8 --candidates 300 --queries 1 --done 5 >/dev/null
"$lira" report "$work/p.h5" -o "$work/p.html" --bootstrap 0 >/dev/null
grep -q "This file is interrupted" "$work/p.html" || fail "partial file not said"
grep -q "shown by index only" "$work/p.html" || fail "no note on the missing pictures"
# Data not at hand: the page is still written, and says how to point at the data.
"$lira" report "$work/r.h5" -o "$work/nodata.html" --data "$work/nowhere" --bootstrap 0 >/dev/null
grep -q "The examples are not at hand.*Pass --data DIR" "$work/nodata.html" || fail "no note on the missing data"
grep -q "<img " "$work/nodata.html" && fail "pictures without data"
# Outputs: never the results file, never without --overwrite, never another kind of file.
set +e
"$lira" report "$work/r.h5" -o "$work/r.html" --bootstrap 0 >/dev/null 2>&1; rc1=$?
"$lira" report "$work/r.h5" -o "$work/r.svg" --bootstrap 0 >/dev/null 2>&1; rc2=$?
echo "<html>mine</html>" >"$work/mine.html"
"$lira" report "$work/r.h5" -o "$work/mine.html" --overwrite --bootstrap 0 >/dev/null 2>&1; rc3=$?
"$lira" report "$work/r.h5" -o "$work/r.html" --attack no-such-attack --bootstrap 0 >/dev/null 2>&1; rc4=$?
set -e
[ "$rc1$rc2$rc3$rc4" = 2222 ] || fail "refusals: exit codes $rc1 $rc2 $rc3 $rc4, expected 2 2 2 2"
grep -q mine "$work/mine.html" || fail "a file lira did not write was replaced"
"$lira" report "$work/r.h5" -o "$work/r.html" --overwrite --bootstrap 0 >/dev/null || fail "--overwrite of lira's page"
echo "report_render: passed (page, Chromium, partial file, missing data, refusals)"
