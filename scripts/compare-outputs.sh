#!/usr/bin/env bash
# Byte-identity check for performance work (issue #9): runs each stage of two builds on the same
# input and ledger facts and compares their outputs byte for byte — raw.jsonl (Extractor);
# users.jsonl, dlq.jsonl, raw.masked.jsonl (Transformer); the four uploaded files and the
# database rows (Saver). Details in scripts/compare_outputs.py.
#
#   scripts/compare-outputs.sh --base DIR --new DIR [--users N] [--keep]
#
#   --base DIR   the reference build's executables (Extractor, Transformer, Saver, DummyJSON and
#                etl-pipeline_TransformerCore.resources), e.g. a copy of an un-optimised release
#   --new DIR    the build under test (e.g. .build/release)
#   --users N    fixture size (default 100000, 5% bad rows, seed 1)
#
# Uses a private redis-server on 127.0.0.1:16481 (COMPARE_REDIS_PORT), the benchmark's SFTP
# server port 12240 (BENCH_SFTP_PORT) and the fixture on 18392 (COMPARE_FIXTURE_PORT); needs
# root (the SFTP server's chroot). Stops everything it started. Exits 1 on any difference.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec python3 "$root/scripts/compare_outputs.py" --repo "$root" "$@"
