#!/usr/bin/env bash
# Screenshots of the dashboard (docs/API.md, "Dashboard") for the README: one real pipeline run
# (scripts/bench-pipeline.sh: the DummyJSON fixture, a private redis-server and SFTP server, the
# four stages, all on 127.0.0.1) makes a database; the API serves it on 127.0.0.1; headless
# chromium (scripts/browser.py) photographs the three pages into docs/screenshots/:
# runs.png, run.png and users.png (1100x750, shrunk by pngquant and optipng when installed:
# about 30-60 KB each instead of 160).
#
#   scripts/screenshots.sh [--bin DIR]     # DIR: built executables (default: a debug build here)
#
# Settings: SCREENSHOT_USERS (500), SCREENSHOT_WIDTH (1100), SCREENSHOT_HEIGHT (750); the
# benchmark's ports (BENCH_REDIS_PORT, BENCH_SFTP_PORT).
# Needs root, as scripts/bench-pipeline.sh does (the SFTP server's chroot).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bin=""
case "${1:-}" in
  --bin) bin="$(cd "$2" && pwd)" ;;
  "") ;;
  *) echo "usage: $0 [--bin DIR]" >&2; exit 2 ;;
esac
users="${SCREENSHOT_USERS:-500}"
width="${SCREENSHOT_WIDTH:-1100}"
height="${SCREENSHOT_HEIGHT:-750}"
out="$root/docs/screenshots"
say() { printf 'screenshots: %s\n' "$*"; }

scripts/install-deps.sh --tests
if [ -z "$bin" ]; then
  say "building (debug)"
  swift build
  bin="$(swift build --show-bin-path)"
fi

. "$root/scripts/lib/api-server.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/screenshots.XXXXXX")"
cleanup() { api_stop; rm -rf "$work"; }
trap cleanup EXIT

say "one pipeline run of $users users (scripts/bench-pipeline.sh)"
scripts/bench-pipeline.sh --bin "$bin" --users "$users" --keep "$work/runs" > "$work/bench.json"
db="$(ls -d "$work"/runs/*/database/data.db | head -n 1)"

api_start "$bin/API" "$db" "$work/api.log" LOG_LEVEL=warning
api="http://127.0.0.1:$api_port"
run="$(curl -fsS "$api/etl_runs?limit=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["run_id"])')"
department="$(curl -fsS "$api/users/facets/department?limit=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["value"])')"
department_query="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$department")"

mkdir -p "$out"
shoot() {
  python3 scripts/browser.py screenshot "$api$2" "$out/$1.png" --width "$width" --height "$height" --timeout 60
  if command -v pngquant >/dev/null; then pngquant --quality 85-98 --speed 1 --strip --force --output "$out/$1.png" -- "$out/$1.png"; fi
  if command -v optipng >/dev/null; then optipng -quiet -o2 -strip all "$out/$1.png"; fi
  say "$out/$1.png ($(stat -c %s "$out/$1.png") bytes): $2"
}
shoot runs "/ui/"
shoot run "/ui/runs/$run"
shoot users "/ui/users?department=$department_query&sort=-age"
