#!/usr/bin/env bash
# Contract test of the API: runs the real API binary (.build/debug/API) on 127.0.0.1 and a free
# port over a database of sample runs (written by .build/debug/APISeed the way the saver writes
# one), then runs schemathesis (PyPI) against the server's own /openapi.json with every check
# and a bounded number of examples per operation. Afterwards it checks that the database file
# was not written. Exits non-zero on any failure.
#
#   scripts/contract-test.sh            # after `swift build` (scripts/test.sh runs it after swift test)
#
# Settings: CONTRACT_MAX_EXAMPLES (20), CONTRACT_TIMEOUT_SECONDS (600), CONTRACT_VENV
# (.run/contract-venv, where schemathesis is installed), SCHEMATHESIS_VERSION (4.32.5).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

max_examples="${CONTRACT_MAX_EXAMPLES:-20}"
time_limit="${CONTRACT_TIMEOUT_SECONDS:-600}"
venv="${CONTRACT_VENV:-$root/.run/contract-venv}"
version="${SCHEMATHESIS_VERSION:-4.32.5}"
api="$root/.build/debug/API"
seed="$root/.build/debug/APISeed"

say() { printf 'contract-test: %s\n' "$*"; }

if [ ! -x "$api" ] || [ ! -x "$seed" ]; then
  say "building API and APISeed (debug)"
  swift build --product API
  ETL_BENCHMARKS=1 swift build --product APISeed  # outside the default build (Package.swift)
fi

# schemathesis in a virtual environment of its own (Debian's python3 refuses system-wide pip).
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    say "installing python3-venv"
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  say "installing schemathesis $version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$version"
fi

. "$root/scripts/lib/api-server.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/api-contract.XXXXXX")"
cleanup() {
  api_stop
  rm -rf "$work"
}
trap cleanup EXIT

db="$work/database/data.db"
"$seed" --database "$db" --runs 40 --users-per-run 12 --seed 7
before="$(stat -c '%s %Y' "$db") $(sha256sum "$db" | cut -d' ' -f1)"

api_start "$api" "$db" "$work/api.log" LOG_LEVEL=warning
port="$api_port"

say "schemathesis $version against http://127.0.0.1:$port/openapi.json ($max_examples examples per operation)"
status=0
# Run from the scratch folder: schemathesis keeps a cache (.schemathesis/) in its working directory.
(cd "$work" && timeout "$time_limit" "$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
  --checks all --max-examples "$max_examples" --seed 1 --workers 2 --request-timeout 10 \
  --report junit --report-junit-path "$work/junit.xml") || status=$?
if [ "$status" -ne 0 ]; then
  [ "$status" -eq 124 ] && say "schemathesis did not finish within ${time_limit}s"
  say "API log (warnings and errors):"; cat "$work/api.log" >&2
  exit "$status"
fi

after="$(stat -c '%s %Y' "$db") $(sha256sum "$db" | cut -d' ' -f1)"
if [ "$before" != "$after" ]; then
  say "the database file changed while the API served it: $before -> $after"
  exit 1
fi
say "passed: every documented operation answered as documented; the database file is unchanged"
