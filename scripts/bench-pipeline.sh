#!/usr/bin/env bash
# Whole-pipeline benchmark (issue #9): the four release stages (Extractor, Transformer, Saver,
# API) against the DummyJSON fixture, a private redis-server and a private OpenSSH SFTP server,
# all on 127.0.0.1, for N users; per stage and end to end (extractor start → manifest on the
# SFTP server): wall seconds, users/s, peak RSS per process, bytes moved, and per chunk when each
# stage finished it (the timeline). A table and the timeline on stderr and one JSON line per run
# on stdout; `--repeat K` adds min/median lines. docs/BENCHMARKS.md has the results and how they
# were taken. The driver is the end-to-end tests' harness (Tests/EndToEndSupport): the suite
# PipelineBenchmark in the test target PipelineBench (Benchmarks/PipelineBench), which exists only
# with ETL_BENCHMARKS set (Package.swift) and runs only when this script sets BENCH_PIPELINE; the
# options reach it as BENCH_* variables, E2E_BIN_DIR names the measured binaries.
#
#   scripts/bench-pipeline.sh [--users N ...] [--repeat K] [--bin DIR] [--transformers N] [--chunk-users K]
#                             [--timeline FILE] [--keep DIR] [--timeout S] [--no-floor] [--perf DIR]
#                             [--kill STAGE[@N[+MS]] ...] [--encrypt]
#
#   --users N     one or more sizes (default 208); each is run K times
#   --repeat K    runs per size (default 1); K > 1 also prints min/median per size
#   --bin DIR     the executables to measure (default: build release here and use .build/release);
#                 DIR needs Extractor, Transformer, Saver, API, DummyJSON and the Transformer's
#                 etl-pipeline_TransformerCore.resources — so a saved baseline is measured by the
#                 same command
#   --transformers N  Transformer replicas on the run (default 1), each with its own INSTANCE_ID
#                 (transformer-1 … transformer-N; the other stages extractor-1, saver-1)
#   --chunk-users K   CHUNK_USERS for the stages (default: unset, the build's default; a build
#                 without chunks ignores it)
#   --timeline FILE   also write the per-chunk timeline as CSV (users, run, run_id, chunk, rows,
#                 extract_ms, transform_ms, save_ms, transform_by: ms from the extractor's start
#                 to a stage's log line with `chunk=` metadata whose message has the word `chunk`
#                 and `sealed` / `transformed` / `saved`). The timeline is always printed on
#                 stderr; a build without chunks logs no such lines and the section says so.
#   --keep DIR    keep each run's staging, database, uploads and logs under DIR/<N>-<k>/
#   --timeout S   per-run limit in seconds (default 900)
#   --no-floor    skip the floor: after each run, curl, the sqlite3 CLI and OpenSSH sftp moving the
#                 same bytes in parallel (pages, rows, files), printed beside the pipeline
#   --encrypt     uploads encrypted (SFTP_ENCRYPT_RECIPIENTS) to an age identity made for each run;
#                 after the run each .age file is decrypted by the age tool and checked against the
#                 manifest's plaintext and ciphertext SHA-256 (implies --no-floor)
#   --perf DIR    run each stage under `perf record -F 999 -g` into DIR/<Stage>-<N>.data; the
#                 figures of such a run include the sampling overhead, and its peak RSS is perf's
#   --kill STAGE[@N[+MS]]   recovery (repeatable; STAGE extractor|transformer|saver): per size,
#                 first an undisturbed run (run 0), then K runs per --kill in which the driver
#                 SIGKILLs that stage's process once the ledger holds N chunk records of its phase
#                 (sealed / transformed / saved; default half the run's chunks; @0: once the phase
#                 has begun), MS ms later if given, and restarts it at once with the same
#                 executable, arguments (`Extractor --once`), INSTANCE_ID and environment (log:
#                 logs/<Stage>-restarted.log). Reported (table on stderr, `recovery` in the JSON):
#                 restart → `completed` seconds, the claims the dead process held and how soon the
#                 restarted one owned them (took over "at once": all of them, before their TTL ran
#                 out, and no "waiting for the claim" in its log), restart → its first chunk, the
#                 chunks both lives finished (redone), and whether every output equals the
#                 undisturbed run's (the end-to-end tests' FinalState: tables, files and
#                 manifest normalised, printed on stderr). With --transformers N, the first
#                 replica is killed.
#
# Ports (override with env): BENCH_REDIS_PORT 16479, BENCH_SFTP_PORT 12240; the fixture and the
# API get free ports. Work directories under BENCH_WORK_ROOT (default /tmp). BENCH_STAGE_ENV adds
# KEY=VALUE lines to the stages' environment and E2E_FIXTURE_BIN serves another build's DummyJSON
# (both for scripts/compare-outputs.sh). Needs root (the SFTP
# server's chroot), redis-server, sshd. Everything started is stopped on exit, also on failure or
# Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

die() { echo "bench-pipeline.sh: $*" >&2; exit 2; }
whole() { [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "$1 takes a whole number of at least 1, not '${2:-}'"; }
users=() kills=() repeat=1 bin="" transformers=1 chunk_users="" timeline="" keep="" timeout=900 floor=1 encrypt=0 perf=""
while (($#)); do
    case "$1" in
        --users) shift; while (($#)) && [[ "$1" != --* ]]; do whole --users "$1"; users+=("$1"); shift; done; continue ;;
        --repeat) whole "$1" "${2:-}"; repeat="$2"; shift ;;
        --bin) bin="$(cd "${2:?--bin DIR}" && pwd)"; shift ;;
        --transformers) whole "$1" "${2:-}"; transformers="$2"; shift ;;
        --chunk-users) whole "$1" "${2:-}"; chunk_users="$2"; shift ;;
        --timeline) timeline="$(realpath -m "${2:?--timeline FILE}")"; shift ;;
        --keep) keep="$(realpath -m "${2:?--keep DIR}")"; mkdir -p "$keep"; shift ;;
        --timeout) [[ "${2:-}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--timeout takes seconds"; timeout="$2"; shift ;;
        --perf) perf="$(realpath -m "${2:?--perf DIR}")"; mkdir -p "$perf"; shift ;;
        --kill) [[ "${2:-}" =~ ^(extractor|transformer|saver)(@[0-9]+(\+[0-9]+)?)?$ ]] \
                    || die "--kill takes extractor|transformer|saver, optionally @N or @N+MS, not '${2:-}'"
                kills+=("$2"); shift ;;
        --no-floor) floor=0 ;;
        --encrypt) encrypt=1 ;;
        *) die "unknown option $1 (usage: the header of $0)" ;;
    esac
    shift
done
((${#users[@]})) || users=(208)
if ((encrypt && floor)); then
    echo "== --encrypt: no floor (its tools read the uploaded files as plain JSONL)" >&2
    floor=0
fi
if [[ -z "$bin" ]]; then
    echo "== building release (swift build -c release)" >&2
    nice -n 5 swift build -c release >&2
    bin="$(swift build -c release --show-bin-path)"
fi
for name in Extractor Transformer Saver API DummyJSON; do
    [[ -x "$bin/$name" ]] || die "$bin/$name is missing"
done
# A run writes about 16 KB per user (staging, uploads, database; measured at 1,000,000): refuse
# rather than fill the disk.
work_root="${BENCH_WORK_ROOT:-/tmp}"
most="$(printf '%s\n' "${users[@]}" | sort -n | tail -n 1)"
need=$((most * 20000 * (${#keep} ? 2 : 1) + (${#kills[@]} ? most * 10000 : 0)))
free="$(df --output=avail -B1 "$work_root" | tail -n 1)"
((free >= need)) || die "$((need / 1000000000)) GB free needed for $most users, $((free / 1000000000)) GB free in $work_root"

echo "== building the test harness and the benchmark (ETL_BENCHMARKS=1 swift build --build-tests)" >&2
ETL_BENCHMARKS=1 nice -n 5 swift build --build-tests >&2
redis_port="${BENCH_REDIS_PORT:-16479}" sftp_port="${BENCH_SFTP_PORT:-12240}"
out="$(mktemp "$work_root/bench-pipeline.XXXXXX")"
# The harness stops its servers; after an interrupt they are stopped here.
cleanup() {
    REDIS_PORT="$redis_port" scripts/redis.sh stop >/dev/null 2>&1 || true
    SFTP_PORT="$sftp_port" scripts/sftp.sh stop >/dev/null 2>&1 || true
    rm -f "$out"
}
trap cleanup EXIT
status=0
BENCH_PIPELINE="$out" BENCH_USERS="${users[*]}" BENCH_REPEAT="$repeat" BENCH_TRANSFORMERS="$transformers" \
    BENCH_CHUNK_USERS="$chunk_users" BENCH_TIMELINE="$timeline" BENCH_KEEP="$keep" BENCH_TIMEOUT="$timeout" \
    BENCH_FLOOR="$floor" BENCH_ENCRYPT="$encrypt" BENCH_PERF="$perf" BENCH_KILL="${kills[*]}" \
    E2E_BIN_DIR="$bin" TEST_E2E_REDIS_PORT="$redis_port" TEST_E2E_SFTP_PORT="$sftp_port" TMPDIR="$work_root/" \
    ETL_BENCHMARKS=1 swift test --skip-build --filter PipelineBench.PipelineBenchmark >&2 || status=$?
cat "$out"
exit "$status"
