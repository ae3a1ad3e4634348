#!/usr/bin/env bash
# Byte-identity check of two builds' whole-pipeline outcomes (issues #9, #14): each build runs
# the whole pipeline once on the same fixture (seed 1, N users, 5% bad) — fresh redis-server and
# work directory, the SFTP server, API, Saver, Transformer replicas, `Extractor --once`, until
# `completed` — and the outcomes are compared byte for byte after normalising only run ids,
# timestamps and what follows from them: the uploaded <run>_raw.jsonl, _users.jsonl, _dlq.jsonl
# and _manifest.json, the SQLite tables raw_users, users, dlq_records (every column), the
# etl_runs counts, and the DLQ reasons and line numbers. Exactly what is normalised:
# scripts/compare_outputs.py. Prints one line per comparison and, for a difference, the first
# differing line of each side; exits 1 on any difference. Each side is one run of
# scripts/bench-pipeline.sh (--no-floor --keep).
#
#   scripts/compare-outputs.sh --base DIR --new DIR [--users N] [--base-transformers N] [--new-transformers N]
#                              [--chunk-users K] [--base-env KEY=VALUE ...] [--new-env KEY=VALUE ...] [--keep]
#
#   --base DIR   the reference build's executables (Extractor, Transformer, Saver, API, DummyJSON and
#                etl-pipeline_TransformerCore.resources), e.g. a copy of today's release; its
#                DummyJSON serves both sides (E2E_FIXTURE_BIN)
#   --new DIR    the build under test (e.g. .build/release)
#   --users N    fixture size (default 100000, 5% bad rows, seed 1)
#   --base-transformers N, --new-transformers N   Transformer replicas per side (default 1 each),
#                each with its own INSTANCE_ID
#   --chunk-users K   CHUNK_USERS for both sides (default unset; a build without chunks ignores it)
#   --base-env KEY=VALUE, --new-env KEY=VALUE   an extra variable for one side's stages (repeatable;
#                bench-pipeline.sh's BENCH_STAGE_ENV), e.g. `--new-env AGE_MAX=64` to see the check fail
#   --keep       keep the work directory (both runs' staging, databases, uploads, logs)
#   --timeout S  per run (default 900)
#
# Ports (override with env): redis-server COMPARE_REDIS_PORT 16481, the SFTP server
# COMPARE_SFTP_PORT (else BENCH_SFTP_PORT, else 12240); the fixture and the API get free ports.
# Needs root (the SFTP server's chroot). Stops everything it started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
die() { echo "compare-outputs.sh: $*" >&2; exit 2; }
base="" new="" users=100000 base_transformers=1 new_transformers=1 chunk_users=() base_env="" new_env="" keep=0 timeout=900
while (($#)); do
    case "$1" in
        --base) base="$(cd "${2:?--base DIR}" && pwd)"; shift ;;
        --new) new="$(cd "${2:?--new DIR}" && pwd)"; shift ;;
        --users) users="${2:?--users N}"; shift ;;
        --base-transformers) base_transformers="${2:?}"; shift ;;
        --new-transformers) new_transformers="${2:?}"; shift ;;
        --chunk-users) chunk_users=(--chunk-users "${2:?}"); shift ;;
        --base-env) [[ "${2:-}" == ?*=* ]] || die "--base-env takes KEY=VALUE"; base_env+="$2"$'\n'; shift ;;
        --new-env) [[ "${2:-}" == ?*=* ]] || die "--new-env takes KEY=VALUE"; new_env+="$2"$'\n'; shift ;;
        --timeout) timeout="${2:?}"; shift ;;
        --keep) keep=1 ;;
        *) die "unknown option $1 (usage: the header of $0)" ;;
    esac
    shift
done
[[ -n "$base" && -n "$new" ]] || die "--base DIR and --new DIR are needed"
work="$(mktemp -d "${BENCH_WORK_ROOT:-/tmp}/compare-outputs-XXXXXX")"
trap 'if ((keep)); then echo "kept $work" >&2; else rm -rf "$work"; fi' EXIT
started=$SECONDS

# One side: a run of scripts/bench-pipeline.sh kept in $work/<side>, its output in <side>.log.
side() {
    local label="$1" bin="$2" transformers="$3" env="$4"
    echo "$label: $bin, $transformers transformer(s) ${chunk_users[*]} ${env//$'\n'/ }"
    if ! BENCH_STAGE_ENV="$env" E2E_FIXTURE_BIN="$base" BENCH_REDIS_PORT="${COMPARE_REDIS_PORT:-16481}" \
        BENCH_SFTP_PORT="${COMPARE_SFTP_PORT:-${BENCH_SFTP_PORT:-12240}}" \
        "$root/scripts/bench-pipeline.sh" --bin "$bin" --users "$users" --transformers "$transformers" \
        "${chunk_users[@]}" --timeout "$timeout" --no-floor --keep "$work/$label" > "$work/$label.json" 2> "$work/$label.log"; then
        tail -n 40 "$work/$label.log" >&2
        die "the run of side $label failed (log: $work/$label.log)"
    fi
    echo "$label: run $(python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["run_id"])' < "$work/$label.json") completed"
}
echo "comparing $base (A) with $new (B) at $users users; work in $work"
side A "$base" "$base_transformers" "$base_env"
side B "$new" "$new_transformers" "$new_env"
status=0
python3 "$root/scripts/compare_outputs.py" "$work/A/$users-1" "$work/B/$users-1" || status=$?
echo "($((SECONDS - started)) s)" >&2
exit "$status"
