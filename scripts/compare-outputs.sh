#!/usr/bin/env bash
# Byte-identity check of two builds' whole-pipeline outcomes (issues #9, #14): each build runs
# the whole pipeline once on the same fixture (seed 1, N users, 5% bad) — fresh redis-server and
# work directory, the SFTP server, API, Saver, Transformer replicas, `Extractor --once`, until
# `completed` — and the outcomes are compared byte for byte after normalising only run ids,
# timestamps and what follows from them: the uploaded <run>_raw.jsonl, _users.jsonl, _dlq.jsonl
# and _manifest.json, the SQLite tables raw_users, users, dlq_records (every column), the
# etl_runs counts, and the DLQ reasons and line numbers. Exactly what is normalised:
# scripts/compare_outputs.py. Prints one line per comparison and, for a difference, the first
# differing line of each side; exits 1 on any difference.
#
#   scripts/compare-outputs.sh --base DIR --new DIR [--users N] [--base-transformers N] [--new-transformers N]
#                              [--chunk-users K] [--base-env KEY=VALUE ...] [--new-env KEY=VALUE ...] [--keep]
#
#   --base DIR   the reference build's executables (Extractor, Transformer, Saver, API, DummyJSON and
#                etl-pipeline_TransformerCore.resources), e.g. a copy of today's release; its
#                DummyJSON serves both sides
#   --new DIR    the build under test (e.g. .build/release)
#   --users N    fixture size (default 100000, 5% bad rows, seed 1)
#   --base-transformers N, --new-transformers N   Transformer replicas per side (default 1 each),
#                each with its own INSTANCE_ID
#   --chunk-users K   CHUNK_USERS for both sides (default unset; a build without chunks ignores it)
#   --base-env KEY=VALUE, --new-env KEY=VALUE   an extra variable for one side's stages (repeatable),
#                e.g. `--new-env AGE_MAX=64` to see the check fail
#   --keep       keep the work directory (both runs' staging, databases, uploads, logs)
#   --timeout S  per run (default 900)
#
# Ports (override with env): redis-server COMPARE_REDIS_PORT 16481, the SFTP server
# COMPARE_SFTP_PORT (else BENCH_SFTP_PORT, else 12240), the fixture COMPARE_FIXTURE_PORT 18392,
# the API COMPARE_API_PORT 18393. Needs root (the SFTP server's chroot). Stops everything it
# started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec python3 "$root/scripts/compare_outputs.py" --repo "$root" "$@"
