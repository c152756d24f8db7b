#!/usr/bin/env bash
# docs/config.md holds the output of `lira keys` below its marker line; check they agree.
# To update: lira keys > /tmp/k && (sed '/^<!-- keys -->/q' docs/config.md; cat /tmp/k) > docs/config.md.new
set -euo pipefail
lira=$1 doc=$2
diff <(sed '1,/^<!-- keys -->/d' "$doc") <("$lira" keys) || {
  echo "docs/config.md is out of date with the key table; regenerate it from 'lira keys'"
  exit 1
}
