#!/usr/bin/env bash
# Whole-pipeline benchmark (issue #9): the four release stages (Extractor, Transformer, Saver,
# API) against the DummyJSON fixture, a private redis-server and a private OpenSSH SFTP server,
# all on 127.0.0.1, for N users; per stage and end to end (extractor start → manifest on the
# SFTP server): wall seconds, users/s, peak RSS per process, bytes moved, and per chunk when each
# stage finished it (the timeline). A table and the timeline on stderr and one JSON line per run
# on stdout; `--repeat K` adds min/median lines. docs/BENCHMARKS.md has the results and how they
# were taken.
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
#                 undisturbed run's (scripts/compare_outputs.py's normalised comparison, printed
#                 on stderr). With --transformers N, the first replica is killed.
#
# Ports (override with env): BENCH_REDIS_PORT 16479, BENCH_SFTP_PORT 12240, BENCH_FIXTURE_PORT
# 18390, BENCH_API_PORT 18391. Needs root (the SFTP server's chroot), redis-server, sshd.
# Everything started is stopped on exit, also on failure or Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bin=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [[ "${args[$i]}" == --bin ]] && bin="${args[$((i + 1))]:-}"
done
if [[ -z "$bin" ]]; then
    echo "== building release (swift build -c release)" >&2
    nice -n 5 swift build -c release >&2
    args+=(--bin "$(swift build -c release --show-bin-path)")
fi
exec python3 "$root/scripts/bench_pipeline.py" --repo "$root" "${args[@]}"
