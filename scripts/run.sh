#!/usr/bin/env bash
# Runs the whole pipeline on this machine, no Docker needed: installs what is missing, builds
# release once, starts redis-server and an SFTP server on 127.0.0.1 (keys generated on first
# start), the DummyJSON fixture unless DUMMYJSON_URL points elsewhere, then the four stages as
# separate processes, each logging to logs/<stage>.log and to this screen with a prefix.
# It waits for the first run, prints a summary, and keeps running until Ctrl-C, when it stops
# everything it started.
#
#   scripts/run.sh           run until Ctrl-C
#   scripts/run.sh --once    one extraction cycle; exits 0 when the run completed, 1 otherwise
#
# Settings: .env if present (see .env.example), then the environment. Local defaults: Redis on
# 6379, SFTP on 2222 (uploads visible under ./sftp_data), API on 127.0.0.1:8000.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

once=false
case "${1:-}" in
  --once) once=true ;;
  "") ;;
  *) echo "usage: $0 [--once]" >&2; exit 2 ;;
esac

if [ -f .env ]; then set -a; . ./.env; set +a; fi

say() { printf '\033[1m== %s\033[0m\n' "$*"; }

say "dependencies"
scripts/install-deps.sh

say "build (release; the first build takes several minutes)"
swift build -c release
bin="$(swift build -c release --show-bin-path)"

export REDIS_PORT="${REDIS_PORT:-6379}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:${REDIS_PORT}/0}"
export SFTP_HOST="${SFTP_HOST:-127.0.0.1}"
# The code's default SFTP port is 22 (a real server); the local server listens on 2222.
[ "${SFTP_PORT:-22}" = 22 ] && export SFTP_PORT=2222
export SFTP_USER="${SFTP_USER:-sftp_user}"
export DATA_DIR="${DATA_DIR:-./data}"
export DB_PATH="${DB_PATH:-./database/data.db}"
export API_HOST="${API_HOST:-127.0.0.1}" API_PORT="${API_PORT:-8000}"
export SFTP_DATA_LINK="$root/sftp_data"
mkdir -p logs

pids=()
stop_all() {
  trap - EXIT INT TERM
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  scripts/sftp.sh stop || true
  scripts/redis.sh stop || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

say "servers"
scripts/redis.sh start
scripts/sftp.sh start >/dev/null

# One stage (or the fixture) in the background: output to logs/<name>.log and, prefixed, here.
start() {
  local name="$1"; shift
  "$@" > >(tee -a "logs/$name.log" | sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}

if [ -z "${DUMMYJSON_URL:-}" ]; then
  fixture_port="${FIXTURE_PORT:-8090}"
  start dummyjson "$bin/DummyJSON" --host 127.0.0.1 --port "$fixture_port" --users "${FIXTURE_USERS:-208}" --bad-fraction "${FIXTURE_BAD_FRACTION:-0.05}"
  export DUMMYJSON_URL="http://127.0.0.1:${fixture_port}/users"
fi

say "stages (upstream $DUMMYJSON_URL)"
start api "$bin/API"
start saver "$bin/Saver"
start transformer "$bin/Transformer"
# The ledger's timestamps: UTC, milliseconds, sortable as text.
started_at="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
if $once; then start extractor "$bin/Extractor" --once; else start extractor "$bin/Extractor"; fi

# Wait for the first run to finish, reading the ledger (bounded: 10 minutes). Redis keeps the
# ledger between invocations (AOF), so only a run the ledger updated since the extractor started
# counts: a new run, or an unfinished one it resumed; not one an earlier invocation finished.
rcli() { redis-cli -u "$REDIS_URL" --no-auth-warning "$@"; }
run=""; status=""
for _ in $(seq 3000); do
  run="$(rcli ZREVRANGE etl:runs 0 0 2>/dev/null || true)"
  if [ -n "$run" ]; then
    status="$(rcli HGET "etl:run:$run" status 2>/dev/null || true)"
    updated="$(rcli HGET "etl:run:$run" updated_at 2>/dev/null || true)"
    if [[ ! "$updated" < "$started_at" ]] && { [ "$status" = completed ] || [ "$status" = failed ]; }; then break; fi
  fi
  run=""; status=""
  sleep 0.2
done

say "first run: ${run:-none} ${status:-not finished after 10 minutes}"
if [ -n "$run" ]; then
  rcli HGETALL "etl:run:$run" | paste - - | grep -E '^(status|failed_phase|error|extract_counts|transform_counts|save_counts)\b' || true
fi
echo "  curl http://${API_HOST}:${API_PORT}/etl_runs"
if [ -n "$run" ]; then
  # The run as the API shows it (the saver writes etl_runs just before the ledger says done).
  curl -fsS --max-time 5 "http://${API_HOST}:${API_PORT}/etl_runs/$run" 2>/dev/null | cut -c1-400 | sed 's/^/    /' || true
  echo
fi
echo "  ls sftp_data/"
ls -l sftp_data/ 2>/dev/null | grep -F -- "${run:-.}" | sed 's/^/    /' || true

if $once; then
  [ "$status" = completed ] && exit 0 || exit 1
fi
say "running; Ctrl-C stops everything"
wait
