#!/usr/bin/env bash
# Scoring memory and I/O (not part of bench/run: it writes ~40 GB and takes ~15 minutes).
#  1. Language models: 16 targets x ~10M tokens of per-token signals (18 models, 20,000
#     records of ~500 tokens, min-k, min-k-plus-plus, zlib): peak RSS of `lira score`
#     streaming token rows block by block, against the same command holding every target's
#     whole rows at once (--block-bytes 64G: one block), measured in the same run.
#  2. Beyond RAM: M = 1,024 models x N = 500,000 candidates x A = 18 queries of float32
#     logit confidences (36.9 GB on disk, 1.5x this machine's 24 GB), online LiRA: wall time,
#     peak RSS and read bandwidth, against the disk's sequential read bandwidth (dd over the
#     same file) in the same run.
#   bench/score_memory.sh [BUILD_DIR] [WORK_DIR]     (WORK_DIR needs ~42 GB free)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=${2:-/tmp}
lira=$build/bin/lira
gen=$build/bench/make_synthetic_results
rss() { /usr/bin/time -f "TIME %e %M" "$@" 2>&1 >/dev/null | grep '^TIME'; }

lm=$work/lira-bench-lm.h5
[ -f "$lm" ] || "$gen" "$lm" --models 18 --candidates 20000 --queries 1 --tokens-per-record 500 >/dev/null
tokens=$(/usr/bin/python3 -c "import h5py, sys; print(h5py.File(sys.argv[1], 'r')['offsets'][-1])" "$lm")
args=(score "$lm" --targets 16 --attack min-k,min-k-plus-plus,zlib --bootstrap 0)
read -r _ s_stream m_stream < <(rss "$lira" "${args[@]}")
read -r _ s_whole m_whole < <(rss "$lira" "${args[@]}" --block-bytes 68719476736)
printf "%-58s %9s %10s\n" "LM scoring: 16 targets x $tokens tokens" "seconds" "peak MiB"
printf "%-58s %9s %10s\n" "lira score (streamed, default --block-bytes 128 MiB)" "$s_stream" "$((m_stream / 1024))"
printf "%-58s %9s %10s\n" "every target's whole token rows at once (one block)" "$s_whole" "$((m_whole / 1024))"
printf "%-58s %9s %10s\n" "ratio" "" "$(awk -v a="$m_whole" -v b="$m_stream" 'BEGIN {printf "%.1fx less", a / b}')"
rm -f "$lm"

big=$work/lira-bench-1024x500000x18.h5
[ -f "$big" ] || { echo "writing $big (36.9 GB)..."; "$gen" "$big" --models 1024 --candidates 500000 --queries 18 --no-loss; }
bytes=$(stat -c %s "$big")
# Cold reads: the page cache is dropped before each measurement where that is allowed
# (root); otherwise part of the file may come from memory and the figures flatter both.
cold() { sync; if echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then :; else echo "(page cache not dropped: not root)"; fi; }
cold
read -r _ s m < <(rss "$lira" score "$big" --attack lira-online --bootstrap 0)
cold
dd_out=$(dd if="$big" of=/dev/null bs=16M 2>&1 | tail -1)
dd_s=$(echo "$dd_out" | sed -n 's/.*, \([0-9.]*\) s,.*/\1/p')
dd_mbs=$(awk -v b="$bytes" -v s="$dd_s" 'BEGIN {printf "%.0f", b / s / 1e6}')
mbs=$(awk -v b="$bytes" -v s="$s" 'BEGIN {printf "%.0f", b / s / 1e6}')
echo
echo "beyond RAM: $(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1e9}') GB file, $(free -g | awk '/Mem:/ {print $2}') GB of memory"
printf "%-58s %9s %10s %8s\n" "" "seconds" "peak MiB" "MB/s"
printf "%-58s %9s %10s %8s\n" "dd bs=16M (sequential read, baseline)" "$dd_s" "-" "$dd_mbs"
printf "%-58s %9s %10s %8s\n" "lira score --attack lira-online" "$s" "$((m / 1024))" "$mbs"
printf "%-58s %9s\n" "share of dd's bandwidth" "$(awk -v a="$mbs" -v b="$dd_mbs" 'BEGIN {printf "%.0f%%", 100 * a / b}')"
[ -n "${KEEP_BENCH_FILES:-}" ] || rm -f "$big"
