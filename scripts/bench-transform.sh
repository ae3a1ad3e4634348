#!/usr/bin/env bash
# Throughput and peak memory of the Transformer (release build) on generated DummyJSON-shaped
# users, through the real path: a run staged and recorded in a Redis ledger, picked up by the
# Transformer's start-up scan, verified, transformed, recorded. Results go in docs/BENCHMARKS.md.
#
# Usage: scripts/bench-transform.sh
# Environment: BENCH_ROWS (default 1000000), BENCH_BAD_EVERY (default 50: every 50th row is bad,
#              2%; 0 for none), BENCH_REDIS_PORT (default 16397, a private redis-server on
#              127.0.0.1 started and stopped here), BENCH_DIR (default a new directory under /tmp).
# Needs redis-server; installs GNU time (apt package `time`) when /usr/bin/time is missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rows="${BENCH_ROWS:-1000000}"
bad_every="${BENCH_BAD_EVERY:-50}"
port="${BENCH_REDIS_PORT:-16397}"
work="${BENCH_DIR:-$(mktemp -d /tmp/transform-bench.XXXXXX)}"
mkdir -p "$work"
url="redis://127.0.0.1:$port/0"
time_pid=""

cleanup() {
    if [[ -n "$time_pid" ]] && kill -0 "$time_pid" 2>/dev/null; then
        child="$(ps -o pid= --ppid "$time_pid" | tr -d ' ' || true)"
        [[ -n "$child" ]] && kill -KILL "$child" 2>/dev/null || true
        wait "$time_pid" 2>/dev/null || true
    fi
    REDIS_PORT="$port" REDIS_DIR="$work/redis" scripts/redis.sh stop >/dev/null 2>&1 || true
    [[ -n "${BENCH_DIR:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT

if ! [[ -x /usr/bin/time ]]; then
    echo "== installing GNU time" >&2
    apt-get install -y --no-install-recommends time >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends time >&2; }
fi

echo "== building Transformer and TransformBench (release)" >&2
export ETL_BENCHMARKS=1  # TransformBench is outside the default build (Package.swift)
swift build -c release --product Transformer >&2
swift build -c release --product TransformBench >&2
bin="$(swift build -c release --show-bin-path)"

REDIS_PORT="$port" REDIS_DIR="$work/redis" scripts/redis.sh start >&2

echo "== generating $rows rows (every ${bad_every}th bad) and recording the run as extracted" >&2
run="$("$bin/TransformBench" prepare --rows "$rows" --bad-every "$bad_every" --data-dir "$work/data" --redis-url "$url")"
raw="$work/data/runs/$run/chunks/000000/raw.jsonl"  # the run as one chunk
raw_bytes="$(stat -c %s "$raw")"

echo "== transforming run $run ($raw_bytes bytes)" >&2
/usr/bin/time -v -o "$work/time.txt" env REDIS_URL="$url" DATA_DIR="$work/data" RECONCILE_INTERVAL_SECONDS=1 LOG_LEVEL=info \
    "$bin/Transformer" > "$work/transformer.log" 2>&1 &
time_pid=$!
"$bin/TransformBench" wait --run "$run" --redis-url "$url" --timeout 1800 > "$work/result.txt"
# Stop the transformer (time's child) gracefully; time then writes its report.
child="$(ps -o pid= --ppid "$time_pid" | tr -d ' ')"
kill -TERM "$child"
wait "$time_pid" || true
time_pid=""

summary="$(grep 'transform summary' "$work/transformer.log")"
verify_ms="$(grep 'raw.jsonl matches the ledger' "$work/transformer.log" | sed -E 's/.* ms=([0-9]+).*/\1/')"
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<< "$summary"; }
rss_kb="$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$work/time.txt")"
cpu="$(sed -nE 's/.*Percent of CPU this job got: (.*)/\1/p' "$work/time.txt")"
user_s="$(sed -nE 's/.*User time \(seconds\): (.*)/\1/p' "$work/time.txt")"
sys_s="$(sed -nE 's/.*System time \(seconds\): (.*)/\1/p' "$work/time.txt")"
out_bytes="$(field bytes_written)"
seconds="$(field seconds)"

echo
echo "Transformer, $rows rows ($(field invalid) rejected), run $run"
printf '%-44s %s\n' "raw.jsonl" "$raw_bytes bytes ($(awk -v b="$raw_bytes" 'BEGIN { printf "%.0f", b / 1048576 }') MiB)"
printf '%-44s %s\n' "verify raw.jsonl (rows + SHA-256)" "$verify_ms ms"
printf '%-44s %s\n' "transform (read, validate, write 3 files)" "$seconds s = $(field rows_per_s) rows/s, $(awk -v b="$raw_bytes" -v s="$seconds" 'BEGIN { printf "%.0f", b / 1048576 / s }') MiB/s in"
printf '%-44s %s\n' "whole phase (ledger: begin to complete)" "$(sed -E 's/.*phase_seconds=([^ ]+) rows_per_s=([^ ]+).*/\1 s = \2 rows\/s/' "$work/result.txt")"
printf '%-44s %s\n' "written" "$out_bytes bytes (users + dlq + raw.masked)"
printf '%-44s %s\n' "peak RSS (/usr/bin/time -v)" "$rss_kb KiB ($(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }') MiB)"
printf '%-44s %s\n' "CPU (whole process life)" "$cpu (user $user_s s, sys $sys_s s)"
echo "counts: $(sed -E 's/.*counts=//' "$work/result.txt")"
