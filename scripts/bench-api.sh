#!/usr/bin/env bash
# Benchmarks the API against datasette 0.65 on the same database, in one invocation
# (docs/BENCHMARKS.md, "API against datasette").
#
# 1. Builds API and APISeed in release and writes a database the way the saver does (APISeed:
#    BENCH_RUNS (1000) runs of 12 users, then one newest run of BENCH_USERS (100,000) users and
#    BENCH_BAD_ROWS (2,000) more dead letters, all through SaverStore's transactions).
#    BENCH_DB=path keeps that database there and reuses it when it exists.
# 2. Starts every API binary of BENCH_APIS (label=path pairs separated by spaces; default
#    "api=<the release build>") and datasette (`datasette serve --immutable` on a copy with its
#    WAL checkpointed), each on 127.0.0.1 and a free port; datasette comes from a venv under
#    BENCH_VENV (~/.cache/etl-bench/datasette-0.65), made with pip when missing.
# 3. For each endpoint, in turn for each server (interleaved, so load on the machine hits all
#    alike): 2 s of warm-up, then `wrk -t BENCH_THREADS (2) -c BENCH_CONNECTIONS (32)
#    -d BENCH_SECONDS (10)s --latency`, reading the server's utime+stime from /proc/PID/stat
#    before and after. Prints req/s, p99 and CPU milliseconds per request of each server, and
#    each API's ratio to datasette (req/s, and requests per CPU-second).
#
#   scripts/bench-api.sh
#   BENCH_APIS="before=.build-before/release/API after=.build/release/API" BENCH_DB=/tmp/api-100k.db scripts/bench-api.sh
#   BENCH_ENDPOINTS="users_dept dlq" scripts/bench-api.sh      # a subset (names below)
#
# Endpoints (this API ↔ datasette):
#   runs        /etl_runs                           ↔ /data/etl_runs.json?_sort_desc=started_at&_size=50&_shape=array
#   user        /users/{id}                         ↔ /data/users/{id}.json?_shape=array
#   users_dept  /users?department=D&limit=50        ↔ /data/users.json?department=D&_size=50&_shape=array
#   dlq         /etl_runs/{run}/dlq (50 by line)    ↔ /data/dlq_records.json?run_id=R&_sort=line&_size=50&_shape=array
#   users_csv   /users?department=D&limit=50&format=csv ↔ /data/users.csv?department=D&_size=50
#
# Both servers log every request (the API at info, datasette's uvicorn access log), to files.
# Every server listens on 127.0.0.1 only; everything started is stopped on exit.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

runs="${BENCH_RUNS:-1000}"
users="${BENCH_USERS:-100000}"
bad_rows="${BENCH_BAD_ROWS:-2000}"
seconds="${BENCH_SECONDS:-10}"
threads="${BENCH_THREADS:-2}"
connections="${BENCH_CONNECTIONS:-32}"
endpoints="${BENCH_ENDPOINTS:-runs user users_dept dlq users_csv}"
venv="${BENCH_VENV:-$HOME/.cache/etl-bench/datasette-0.65}"
department="Engineering"
user_id=4242
say() { printf 'bench-api: %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing wrk"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
if [ ! -x "$venv/bin/datasette" ]; then
  say "installing datasette 0.65 into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'datasette==0.65.*'
fi

say "building API and APISeed (release)"
export ETL_BENCHMARKS=1  # APISeed is outside the default build (Package.swift)
swift build -c release --product API >&2
swift build -c release --product APISeed >&2
bin="$(swift build -c release --show-bin-path)"
apis="${BENCH_APIS:-api=$bin/API}"

work="$(mktemp -d "${TMPDIR:-/tmp}/api-bench.XXXXXX")"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

db="${BENCH_DB:-$work/database/data.db}"
if [ -f "$db" ]; then
  say "reusing $db"
else
  mkdir -p "$(dirname "$db")"
  "$bin/APISeed" --database "$db" --runs "$runs" --users "$users" --bad-rows "$bad_rows" >&2
fi

# datasette reads a copy: one file, WAL folded in, so --immutable sees every row.
mkdir -p "$work/datasette"
python3 - "$db" "$work/datasette/data.db" <<'EOF'
import sqlite3, sys
source = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
target = sqlite3.connect(sys.argv[2])
source.backup(target)
target.execute("PRAGMA journal_mode=DELETE")
target.close()
EOF

. "$root/scripts/lib/api-server.sh"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# wait_ready URL PID LOG: bounded (30 s)
wait_ready() {
  local _
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    if ! kill -0 "$2" 2>/dev/null; then
      cat "$3" >&2
      say "server exited at start-up"
      return 1
    fi
    sleep 0.2
  done
  cat "$3" >&2
  say "no answer from $1 within 30 s"
  return 1
}

names=()
declare -A port pid
for entry in $apis; do
  name="${entry%%=*}"
  path="${entry#*=}"
  api_start "$path" "$db" "$work/$name.log"
  port[$name]="$api_port"
  pid[$name]="$api_pid"
  pids+=("$api_pid")
  names+=("$name")
done
port[datasette]="$(free_port)"
"$venv/bin/datasette" serve --immutable "$work/datasette/data.db" -h 127.0.0.1 -p "${port[datasette]}" >"$work/datasette.log" 2>&1 &
pid[datasette]=$!
pids+=("$!")
wait_ready "http://127.0.0.1:${port[datasette]}/data.json" "${pid[datasette]}" "$work/datasette.log"
names+=(datasette)

run_id="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT run_id FROM dlq_records GROUP BY run_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0])' "$work/datasette/data.db")"

api_path() {
  case "$1" in
    runs) echo "/etl_runs" ;;
    user) echo "/users/$user_id" ;;
    users_dept) echo "/users?department=$department&limit=50" ;;
    dlq) echo "/etl_runs/$run_id/dlq" ;;
    users_csv) echo "/users?department=$department&limit=50&format=csv" ;;
  esac
}
datasette_path() {
  case "$1" in
    runs) echo "/data/etl_runs.json?_sort_desc=started_at&_size=50&_shape=array" ;;
    user) echo "/data/users/$user_id.json?_shape=array" ;;
    users_dept) echo "/data/users.json?department=$department&_size=50&_shape=array" ;;
    dlq) echo "/data/dlq_records.json?run_id=$run_id&_sort=line&_size=50&_shape=array" ;;
    users_csv) echo "/data/users.csv?department=$department&_size=50" ;;
  esac
}

ticks="$(getconf CLK_TCK)"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
results="$work/results.tsv"
: >"$results"

say "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(uptime)"
for endpoint in $endpoints; do
  for name in "${names[@]}"; do
    if [ "$name" = datasette ]; then p="$(datasette_path "$endpoint")"; else p="$(api_path "$endpoint")"; fi
    url="http://127.0.0.1:${port[$name]}$p"
    bytes="$(curl -fsS "$url" | wc -c)"
    wrk -t "$threads" -c "$connections" -d 2s "$url" >/dev/null
    before="$(cpu_ticks "${pid[$name]}")"
    out="$(wrk -t "$threads" -c "$connections" -d "${seconds}s" --latency "$url")"
    after="$(cpu_ticks "${pid[$name]}")"
    requests="$(awk '/requests in/ { print $1 }' <<<"$out")"
    rps="$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")"
    p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
    errors="$(awk '/Non-2xx|Socket errors/ { printf "%s ", $0 }' <<<"$out")"
    say "$endpoint $name: $rps req/s, p99 $p99, $requests requests, $((after - before)) CPU ticks, $bytes bytes/answer ${errors:+($errors)} $url"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$endpoint" "$name" "$rps" "$p99" "$requests" "$((after - before))" "$bytes" "$ticks" >>"$results"
  done
done
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$results" <<'EOF'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
def ms(text):
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float("nan")
table = {}
order = []
for endpoint, name, rps, p99, requests, ticks, size, hz in rows:
    cpu_ms = int(ticks) / int(hz) * 1000 / max(1, int(requests))
    table[(endpoint, name)] = (float(rps), ms(p99), cpu_ms, int(size))
    if endpoint not in order:
        order.append(endpoint)
print("| endpoint | server | req/s | p99 ms | CPU ms/req | bytes | × datasette req/s | × datasette per CPU-s |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for endpoint in order:
    ref = table.get((endpoint, "datasette"))
    for (e, name), (rps, p99, cpu, size) in table.items():
        if e != endpoint:
            continue
        ratio = f"{rps / ref[0]:.2f}" if ref and name != "datasette" else ""
        cpu_ratio = f"{ref[2] / cpu:.2f}" if ref and name != "datasette" and cpu > 0 else ""
        print(f"| {endpoint} | {name} | {rps:,.0f} | {p99:.1f} | {cpu:.3f} | {size:,} | {ratio} | {cpu_ratio} |")
EOF
errors="$(cat "$work"/*.log | grep -c '"status":5\|status=5\| 500 ' || true)"
say "server errors logged: $errors"
