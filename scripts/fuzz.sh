#!/usr/bin/env bash
# Builds the libFuzzer targets (docs/RELIABILITY.md, "Fuzzing") and runs each for a bounded time:
# JSONFuzz (the JSON core) and TransformFuzz (raw lines → everything the transformer writes).
#
#   scripts/fuzz.sh [seconds per target, default 60] [target ...]
#
# Release build with -sanitize=fuzzer,address into .build-fuzz (ETL_FUZZ=1 declares the targets;
# the default build never sees them), linked with the toolchain's lld: SwiftPM gives every
# executable a `main` of its own, which gold refuses next to libFuzzer's. The corpus grows in
# .run/fuzz/corpus/<target> (seeded from Fuzz/corpus/); a crash or a broken invariant stops the
# target, leaves the input in .run/fuzz/artifacts/ and fails the script. Prints the executions,
# corpus and time of each target. FUZZ_JOBS=N runs N fuzzing processes per target (default 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds="${1:-60}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(JSONFuzz TransformFuzz)
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: seconds must be a whole number, got '$seconds'" >&2; exit 2 ;; esac
jobs="${FUZZ_JOBS:-1}"
case "$jobs" in ''|*[!0-9]*|0) echo "fuzz.sh: FUZZ_JOBS must be a positive integer, got '$jobs'" >&2; exit 2 ;; esac

scratch="$root/.build-fuzz"
bin="$scratch/release"
toolchain_bin="$(dirname "$(readlink -f "$(command -v swift)")")"
lld="$toolchain_bin/ld.lld"
[ -x "$lld" ] || { echo "fuzz.sh: no ld.lld next to swift ($toolchain_bin)" >&2; exit 1; }
mkdir -p "$scratch" .run/fuzz/artifacts
toolset="{\"schemaVersion\": \"1.0\", \"linker\": {\"path\": \"$lld\"}}"
# Rewritten only when it changes: a newer toolset file rebuilds everything.
[ "$(cat "$scratch/toolset.json" 2>/dev/null)" = "$toolset" ] || echo "$toolset" > "$scratch/toolset.json"

for target in "${targets[@]}"; do
  case "$target" in
    JSONFuzz) seeds=Fuzz/corpus/json; dict=Fuzz/json.dict ;;
    TransformFuzz) seeds=Fuzz/corpus/transform; dict=Fuzz/transform.dict ;;
    *) echo "fuzz.sh: unknown target '$target' (JSONFuzz, TransformFuzz)" >&2; exit 2 ;;
  esac
  started=$(date +%s)
  ETL_FUZZ=1 swift build -c release --scratch-path "$scratch" --product "$target" \
    -Xswiftc -sanitize=fuzzer,address --toolset "$scratch/toolset.json" 2>&1 \
    | grep -v -e "Cannot export local symbol" -e "unhandled; explicitly declare" -e "CMakeLists.txt" || true
  [ -x "$bin/$target" ] || { echo "fuzz.sh: the build left no $bin/$target" >&2; exit 1; }
  built=$(( $(date +%s) - started ))
  echo "fuzz.sh: $target built in $built s"

  corpus=".run/fuzz/corpus/$target"
  log=".run/fuzz/$target.log"
  mkdir -p "$corpus"
  # The Swift backtracer would hold a crashing run for up to 30 s; libFuzzer reports instead.
  status=0
  SWIFT_BACKTRACE=enable=no "$bin/$target" "$corpus" "$seeds" -dict="$dict" \
    -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix=".run/fuzz/artifacts/$target-" \
    $([ "$jobs" -gt 1 ] && echo "-jobs=$jobs -workers=$jobs") >"$log" 2>&1 || status=$?
  if [ "$jobs" -gt 1 ]; then cat fuzz-*.log >>"$log" 2>/dev/null && rm -f fuzz-*.log; fi
  runs=$( (grep -h '^stat::number_of_executed_units' "$log" || true) | awk '{s += $2} END {print s + 0}')
  # libFuzzer's last status line: coverage and the corpus it kept (inputs/bytes).
  last=$( (grep -h -E '^#[0-9]+' "$log" || true) | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' || true)
  corp=$(echo "$last" | grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' || true)
  echo "fuzz.sh: $target: $runs executions in $(( $(date +%s) - started - built )) s, ${corp:-corp: ?} (inputs/size), ${cov:-cov: ?}, exit $status"
  if [ "$status" -ne 0 ]; then
    grep -h -E 'invariant failed|ERROR: AddressSanitizer|ERROR: libFuzzer|deadly signal|Test unit written' "$log" | head -20 >&2 || true
    echo "fuzz.sh: $target failed; the full log is $log" >&2
    exit 1
  fi
done
