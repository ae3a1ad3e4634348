#!/usr/bin/env bash
# Benchmarks the API end to end: builds API and APISeed in release, writes a database of
# BENCH_RUNS (1000) runs the way the saver does, starts the API on 127.0.0.1 and a free port,
# warms it up, then runs wrk for BENCH_SECONDS (10) against BENCH_PATH (/etl_runs, the default
# page of 50 runs) and prints req/s and the latency distribution (p99 included).
#
#   scripts/bench-api.sh                   # installs wrk with apt when missing (root or sudo)
#   BENCH_PATH='/etl_runs?limit=500' BENCH_CONNECTIONS=32 scripts/bench-api.sh
#
# For context it then runs the same against BENCH_EXTRA_PATHS ("/etl_runs?limit=1 /health"
# by default: one small read, and no read at all); set it empty to skip them.
#
# The API logs every request at info, as in production; its log goes to a file.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

runs="${BENCH_RUNS:-1000}"
seconds="${BENCH_SECONDS:-10}"
path="${BENCH_PATH:-/etl_runs}"
extra_paths="${BENCH_EXTRA_PATHS-/etl_runs?limit=1 /health}"
threads="${BENCH_THREADS:-2}"
connections="${BENCH_CONNECTIONS:-16}"
say() { printf 'bench-api: %s\n' "$*"; }

if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing wrk"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

say "building API and APISeed (release)"
swift build -c release --product API
swift build -c release --product APISeed
bin="$(swift build -c release --show-bin-path)"

. "$root/scripts/lib/api-server.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/api-bench.XXXXXX")"
cleanup() {
  api_stop
  rm -rf "$work"
}
trap cleanup EXIT

db="$work/database/data.db"
"$bin/APISeed" --database "$db" --runs "$runs"
api_start "$bin/API" "$db" "$work/api.log"
port="$api_port"
bench() {
  local url="http://127.0.0.1:$port$1"
  local total
  total="$(curl -fsS -D - -o "$work/page.json" "$url" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-total-count" { print $2 }')"
  say "$url: X-Total-Count ${total:-none}, $(wc -c <"$work/page.json") bytes per response"
  say "warm-up (2 s)"
  wrk -t "$threads" -c "$connections" -d 2s "$url" >/dev/null
  say "wrk -t $threads -c $connections -d ${seconds}s --latency $url"
  wrk -t "$threads" -c "$connections" -d "${seconds}s" --latency "$url"
}

say "cores: $(nproc); load average before: $(cut -d" " -f1-3 /proc/loadavg)"
bench "$path"
for extra in $extra_paths; do
  bench "$extra" | grep -E '^bench-api|Requests/sec|99%'
done

errors="$(grep -c '"status":5\|status=5' "$work/api.log" || true)"
say "server errors logged: $errors; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
