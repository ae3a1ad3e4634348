#!/usr/bin/env bash
# Runs every test: installs what is missing, checks the container description (no Docker engine
# needed: scripts/check-compose.sh, scripts/container-contract.py), builds once, fuzzes the JSON
# core and the transformer for a bounded time (scripts/fuzz.sh), starts the test servers on their
# own ports (Redis 16379, SFTP 12222, all on 127.0.0.1), runs `swift test` and
# then the API's contract test (scripts/contract-test.sh), and stops the servers again, whatever
# happened; last, builds and runs the compose stack on a Docker engine of its own
# (scripts/compose-check.sh, in a network namespace with only a loopback interface). Exits
# non-zero on any failure. The end-to-end and chaos tests (docs/RELIABILITY.md)
# start and stop servers of their own, on 127.0.0.1 too: Redis 16389 (TEST_E2E_REDIS_PORT) and
# sshd 12230 (TEST_E2E_SFTP_PORT).
#
#   scripts/test.sh [extra swift test arguments, e.g. --filter PipelineRedisTests]
#
# SKIP_CONTRACT_TEST=1 skips the contract test, SKIP_COMPOSE_CHECK=1 the compose check; a run
# with extra arguments (a partial run) leaves the compose check out unless COMPOSE_CHECK=1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
scripts/install-deps.sh --tests

# The containers, before any build: the current compose-spec schema, hadolint and their self-test
# on broken copies; then compose, the Dockerfile and scripts/run.sh against the settings' declarations
# as .env.example lists them (SettingsFileTests keeps it honest). Bounded; both fail the run on any error.
step "container description (scripts/check-compose.sh)"
timeout 900 scripts/check-compose.sh
step "container contract (scripts/container-contract.py)"
timeout 300 python3 scripts/container-contract.py --self-test

step "build (debug, with tests)"
swift build --build-tests

# The fuzz targets (docs/RELIABILITY.md, "Fuzzing"): a release build with libFuzzer and
# AddressSanitizer into .build-fuzz (about 5 CPU-minutes the first time, seconds after), then
# FUZZ_SECONDS (default 30) of fuzzing per target; any crash or leak fails the run. SKIP_FUZZ=1 skips it.
if [ "${SKIP_FUZZ:-0}" != "1" ]; then
  step "fuzzing (scripts/fuzz.sh, ${FUZZ_SECONDS:-30} s per target)"
  scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi

export REDIS_PORT="${TEST_REDIS_PORT:-16379}"
export SFTP_PORT="${TEST_SFTP_PORT:-12222}"
export TEST_REDIS_URL="redis://127.0.0.1:${REDIS_PORT}/0"
export TEST_SFTP_PORT="$SFTP_PORT"

step "test servers (redis :$REDIS_PORT, sftp :$SFTP_PORT)"
trap 'step "stopping test servers"; scripts/services.sh stop || true' EXIT
scripts/services.sh start

step "swift test"
swift test --skip-build "$@"

# The API's contract: the real binary against its own OpenAPI document with schemathesis
# (installs it from PyPI into .run/ on first use; bounded examples and time). SKIP_CONTRACT_TEST=1 skips it.
if [ "${SKIP_CONTRACT_TEST:-0}" != "1" ]; then
  step "API contract test (schemathesis)"
  scripts/contract-test.sh
fi

# `docker compose up`, for real: the image built from the Dockerfile and docker-compose.yml run on
# a Docker engine of its own, then a broken copy that must fail (scripts/compose-check.sh; about
# 27 minutes cold on a busy 2-core machine, 1 to 3 warm). Bounded: each of its steps has its own timeout, this is the backstop
# (its exit trap stops the engine on the TERM).
if [ $# -gt 0 ] && [ "${COMPOSE_CHECK:-0}" != "1" ]; then
  step "compose check: left out of this partial run (swift test arguments given; COMPOSE_CHECK=1 runs it)"
else
  step "docker compose up, for real (scripts/compose-check.sh)"
  timeout 2700 scripts/compose-check.sh --self-test
fi
