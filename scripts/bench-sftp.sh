#!/usr/bin/env bash
# Upload throughput of PipelineSFTP (the saver's libssh2 wrapper) against OpenSSH's own sftp
# client, same file, same local server, side by side. Results go in docs/BENCHMARKS.md.
#
# Usage: scripts/bench-sftp.sh
# Environment: SFTP_PORT (default 12222), SFTP_USER (default sftp_user),
#              BENCH_SIZE_MIB (default 200), BENCH_RUNS (default 3).
# Needs root (scripts/sftp.sh starts the server if it is not running) and an unencrypted
# client key in ssh_keys/ (the sftp client runs in batch mode).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
port="${SFTP_PORT:-12222}"
user="${SFTP_USER:-sftp_user}"
size_mib="${BENCH_SIZE_MIB:-200}"
runs="${BENCH_RUNS:-3}"
keys="$repo_root/ssh_keys"

work="$(mktemp -d /tmp/sftp-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

SFTP_PORT="$port" SFTP_USER="$user" scripts/sftp.sh start >/dev/null

echo "== building SFTPBench (release)" >&2
export ETL_BENCHMARKS=1  # SFTPBench is outside the default build (Package.swift)
swift build -c release --product SFTPBench >&2
bench="$(swift build -c release --show-bin-path)/SFTPBench"

file="$work/bench-${size_mib}MiB.bin"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$file"
bytes="$(stat -c %s "$file")"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

sftp_options=(-q -i "$keys/id_ed25519" -o "UserKnownHostsFile=$keys/known_hosts" -o StrictHostKeyChecking=yes
    -o BatchMode=yes -o IdentitiesOnly=yes -P "$port")
printf 'put %s upload/bench-openssh.bin\n' "$file" > "$work/put.batch"
printf 'rm upload/bench-openssh.bin\n' > "$work/rm.batch"
: > "$work/wrapper-upload.txt"
: > "$work/wrapper-total.txt"
: > "$work/openssh.txt"

# The two clients take turns, so a change in machine load (other builds on a shared host)
# hits both alike instead of whichever happened to run second.
echo "== $runs rounds: PipelineSFTP then OpenSSH sftp, $size_mib MiB each, 127.0.0.1:$port" >&2
for run in $(seq 1 "$runs"); do
    "$bench" --file "$file" --host 127.0.0.1 --port "$port" --user "$user" \
        --key "$keys/id_ed25519" --known-hosts "$keys/known_hosts" --runs 1 > "$work/wrapper.txt"
    result="$(grep -E '^RESULT runs=[0-9]+ ' "$work/wrapper.txt")" || { echo "bench-sftp: SFTPBench printed no RESULT line" >&2; exit 1; }
    sed -E 's/.*upload_mibs=([0-9.]+).*/\1/' <<< "$result" >> "$work/wrapper-upload.txt"
    sed -E 's/.*total_mibs=([0-9.]+).*/\1/' <<< "$result" >> "$work/wrapper-total.txt"
    echo "round $run PipelineSFTP: $(sed -n "s/^run 1: //p" "$work/wrapper.txt")" >&2

    start="$(date +%s.%N)"
    sftp "${sftp_options[@]}" -b "$work/put.batch" "$user@127.0.0.1" >/dev/null
    end="$(date +%s.%N)"
    rate="$(awk -v b="$bytes" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", b / 1048576 / (e - s) }')"
    echo "round $run OpenSSH sftp: $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }') s = $rate MiB/s (process start + connect + upload)" >&2
    echo "$rate" >> "$work/openssh.txt"
done
sftp "${sftp_options[@]}" -b "$work/rm.batch" "$user@127.0.0.1" >/dev/null
wrapper_upload="$(median < "$work/wrapper-upload.txt")"
wrapper_total="$(median < "$work/wrapper-total.txt")"
openssh="$(median < "$work/openssh.txt")"

ratio="$(awk -v w="$wrapper_total" -v o="$openssh" 'BEGIN { printf "%.0f", 100 * w / o }')"
echo
echo "SFTP upload throughput, $size_mib MiB file, 127.0.0.1:$port, median of $runs runs (MiB/s)"
printf '%-44s %10s\n' "client" "MiB/s"
printf '%-44s %10s\n' "PipelineSFTP (connect + upload + close)" "$wrapper_total"
printf '%-44s %10s\n' "PipelineSFTP (upload alone)" "$wrapper_upload"
printf '%-44s %10s\n' "OpenSSH sftp (process + connect + upload)" "$openssh"
echo "PipelineSFTP reaches ${ratio}% of the OpenSSH client."
