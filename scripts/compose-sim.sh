#!/usr/bin/env bash
# Runs the docker-compose.yml stack without a Docker engine (none runs on these machines), as
# close to the containers as a root shell gets, to check that what compose describes works:
#
# - a network namespace of its own, where the service names resolve (/etc/hosts: redis, sftp,
#   dummyjson) and every port is what compose uses (Redis 6379, SFTP 22, API 8000, fixture 8090);
# - the image's binaries (the release build, stripped, with its *.resources beside them, as the
#   Dockerfile copies them), each service run with exactly the environment, command and mounts
#   that docker-compose.yml gives it (`--profile offline`, no .env), as uid:gid 10001:10001 in
#   its own /app, with read-only mounts read-only and the named volume shared;
# - the one-shot keygen first (scripts/compose-keygen.sh, as root), Redis with AOF, and an
#   OpenSSH SFTP server laid out like atmoz/sftp (scripts/sftp.sh on port 22) with the
#   generated host key, so the saver's known_hosts check runs against `[sftp]:22`.
#
# It waits for the first run to complete (bounded), asks the API for it, lists the uploads, and
# stops everything it started. Needs root, a release build (`swift build -c release
# --static-swift-stdlib`) and redis-server/sshd (scripts/install-deps.sh). Not part of
# scripts/test.sh (the release build takes minutes); a manual check of the container contract.
#
#   scripts/compose-sim.sh        exits 0 when the first run completed and the API served it
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sim="$root/.run/compose-sim"

if [ "${1:-}" != "--inside" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "compose-sim: needs root" >&2; exit 1; }
  exec unshare --net --mount --fork "$0" --inside
fi

say() { printf '\033[1m== %s\033[0m\n' "$*"; }
rm -rf "$sim"
mkdir -p "$sim"/{image,host,volumes,logs,redis}

say "network: a namespace of its own; redis, sftp and dummyjson are 127.0.0.1"
ip link set lo up
mount --make-rprivate /
printf '127.0.0.1 localhost redis sftp dummyjson\n' > "$sim/hosts"
mount --bind "$sim/hosts" /etc/hosts

say "image: the release binaries, stripped, with their resource bundles"
bin="$(cd "$root" && swift build -c release --static-swift-stdlib --show-bin-path 2>/dev/null || echo "$root/.build/release")"
products="$(sed -n 's/^ARG PRODUCTS="\(.*\)"$/\1/p' "$root/Dockerfile")"
for p in $products; do
  [ -x "$bin/$p" ] || { echo "compose-sim: no release build of $p in $bin" >&2; exit 1; }
  strip -o "$sim/image/$p" "$bin/$p"
done
for bundle in "$bin"/*.resources; do [ -d "$bundle" ] && cp -R "$bundle" "$sim/image/"; done
ls "$sim/image"

say "keygen (one-shot, as root)"
mkdir -p "$sim/host/ssh_keys"
env -i PATH="$root/scripts:/usr/sbin:/usr/bin:/sbin:/bin" KEYGEN_ROOT="$sim/host" "$root/scripts/compose-keygen.sh"

# The services, as docker-compose.yml describes them: one line each with the command, the
# environment and the mounts, rendered by scripts/container-contract.py's own reader.
python3 - "$root" "$sim" > "$sim/services.sh" <<'EOF'
import importlib.util, shlex, sys
root, sim = sys.argv[1:3]
spec = importlib.util.spec_from_file_location("contract", f"{root}/scripts/container-contract.py")
c = importlib.util.module_from_spec(spec); spec.loader.exec_module(c)
c.ROOT = root
services = c.compose({})["services"]
for name in ["dummyjson", "api", "saver", "transformer", "extractor"]:
    svc = services[name]
    base = f"/srv/{name}"
    print(f"mkdir -p {base}/app")
    for source, target, ro in c.mounts_of(svc):
        src = f"{sim}/host/{source[2:]}" if source.startswith("./") else f"{sim}/volumes/{source}"
        print(f"mkdir -p {shlex.quote(src)} {base}{target}")
        if not source.startswith("./"):
            # A new named volume starts as a copy of the image's folder: /app/* belong to the user.
            print(f"chown 10001:10001 {shlex.quote(src)}")
        print(f"mount --bind {shlex.quote(src)} {base}{target}")
        if ro:
            print(f"mount -o remount,bind,ro {base}{target}")
    env = {k: v.replace("/app/", f"{base}/app/") for k, v in c.env_of(svc).items()}
    env_words = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
    cmd = " ".join(shlex.quote(w) for w in c.command_of(svc))
    print(f"start {name} {base}/app {env_words} -- {cmd}")
EOF

pids=()
stop_all() {
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 2
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  SFTP_PORT=22 SFTP_KEYS_DIR="$sim/host/ssh_keys" "$root/scripts/sftp.sh" stop >/dev/null 2>&1 || true
  redis-cli -p 6379 shutdown nosave >/dev/null 2>&1 || true
}
trap stop_all EXIT

# start NAME WORKDIR VAR=value... -- COMMAND...: as uid 10001 (the image's USER), in WORKDIR,
# with only the given environment, the binary found on PATH as in /usr/local/bin.
start() {
  local name="$1" workdir="$2"; shift 2
  local env=()
  while [ "$1" != "--" ]; do env+=("$1"); shift; done
  shift
  (cd "$workdir" && exec setpriv --reuid 10001 --regid 10001 --clear-groups \
     env -i PATH="$sim/image:/usr/bin:/bin" HOME="$workdir" "${env[@]}" "$@") > "$sim/logs/$name.log" 2>&1 &
  pids+=($!)
  echo "started $name (pid $!): $*"
}

say "redis (AOF on) and sftp (port 22, the generated host key)"
redis-server --port 6379 --bind 127.0.0.1 --appendonly yes --dir "$sim/redis" --daemonize yes \
  --pidfile "$sim/redis/redis.pid" --logfile "$sim/redis/redis.log"
chroot_dir="$(SFTP_PORT=22 SFTP_KEYS_DIR="$sim/host/ssh_keys" "$root/scripts/sftp.sh" start)"
for _ in $(seq 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done

say "the services, as compose runs them"
. "$sim/services.sh"
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:8090/users?limit=1 2>/dev/null && break; sleep 0.1; done

say "waiting for the first run (at most 5 minutes)"
run=""; status=""
for _ in $(seq 1500); do
  run="$(redis-cli -p 6379 ZREVRANGE etl:runs 0 0 2>/dev/null || true)"
  if [ -n "$run" ]; then
    status="$(redis-cli -p 6379 HGET "etl:run:$run" status 2>/dev/null || true)"
    [ "$status" = completed ] || [ "$status" = failed ] && break
  fi
  sleep 0.2
done
say "first run: ${run:-none} ${status:-unfinished}"
redis-cli -p 6379 HGETALL "etl:run:$run" | paste - - | grep -E '^(status|failed_phase|error|extract_counts|transform_counts|save_counts)\b' || true

say "api health check (as compose runs it) and /etl_runs"
curl -fsS http://127.0.0.1:8000/health; echo
api_runs="$(curl -fsS "http://127.0.0.1:8000/etl_runs?limit=1" || true)"
echo "$api_runs" | cut -c1-400
say "uploads (sftp_data)"
ls -l "$chroot_dir/upload" || true
for name in extractor transformer saver api dummyjson; do
  say "log: $name (last lines)"
  tail -n 5 "$sim/logs/$name.log"
done

ok=true
[ "$status" = completed ] || ok=false
echo "$api_runs" | grep -q "\"$run\"" || ok=false
ls "$chroot_dir/upload" | grep -q "^${run}_manifest.json$" || ok=false
if $ok; then say "ok: run $run completed, the API serves it, its manifest is on the SFTP server"; exit 0; fi
say "FAILED (logs in $sim/logs)"
exit 1
