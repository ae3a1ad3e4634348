#!/usr/bin/env bash
# `docker compose up`, for real: builds the image from the real Dockerfile and runs the real
# docker-compose.yml on a Docker engine of its own, waits for the first completed run and checks
# what a user would look at. Part of scripts/test.sh (so CI runs it); needs root.
#
#   scripts/compose-check.sh                       the check on docker-compose.yml
#   scripts/compose-check.sh --self-test           then also on a broken copy (the saver's database
#                                                  volume at a wrong path), which must fail, naming it
#   scripts/compose-check.sh --compose-file F      the check on another compose file (a copy of the
#                                                  real one; paths in it are relative to the repository)
#   scripts/compose-check.sh --fresh               first drop the engine's data and the caches
#
# What it does, each step bounded, and everything it started stopped at the end whatever happens:
#
# 1. Installs Debian's docker.io (dockerd 20.10, BuildKit built in), docker-compose (1.29) and
#    debootstrap when missing, and starts its own dockerd: its data root, exec root and socket
#    under .run/compose-check/engine/, no default bridge, no iptables, no other configuration.
#    Nothing is pulled from a registry and no bridge network is ever made.
# 2. Builds test stand-ins (scripts/standins/) under exactly the names the Dockerfile and the
#    compose file use, for the base images that cannot be pulled here: debian:bookworm-slim
#    (debootstrap, the root file system cached under .run/), the Swift build image (this
#    machine's toolchain and package mirror), redis:7 and atmoz/sftp:debian. Each is rebuilt only
#    when its inputs change.
# 3. Derives the host-network variant of the compose file by code (scripts/compose-check.py
#    derive: network_mode host, service names mapped to 127.0.0.1, ports dropped; the only
#    change) and builds the product images with `docker-compose build` from the real Dockerfile
#    (BuildKit; the swift build's cache mount persists in the engine's data root between runs).
# 4. Restarts the engine inside a network namespace of its own that has only a loopback
#    interface, so "host network" is that loopback: the stack's ports (Redis 6379, SFTP 22, the
#    API 8000, the fixture 8090) clash with nothing on the machine and nothing leaves it.
# 5. `docker-compose --profile offline up -d` in a scratch project folder
#    (.run/compose-check/project: ssh_keys/, database/, sftp_data/ as in a checkout), then checks:
#    the runtime image's libraries (ldd: nothing missing, nothing extra), the one-shot keygen
#    exited 0, every health-checked service healthy, every stage running as the image's non-root
#    uid, the first run completed, database/data.db on the host, GET /etl_runs serving the run,
#    its four files in sftp_data/, each service's `docker-compose logs`, then `up -d --scale
#    transformer=3` and a second run in chunks of one page (CHUNK_USERS=100) started as the README
#    says (`run --rm extractor Extractor --once`; docker-compose 1.29 cannot run a one-off
#    container under host networking, so there it execs into the extractor's container and says
#    so), completed with the three replicas up (which replica logged which chunk is printed), a
#    third run with encrypted uploads (the saver recreated with SFTP_ENCRYPT_RECIPIENTS from
#    `scripts/gen-keys.sh --age`; no identity in its environment or /app; its .age files decrypted
#    on the host by `age` to the manifest's plaintext SHA-256), and `down -v` leaving no container
#    and no volume.
#
# Skipped with one line only where no engine can start (not root, no apt-get, no network
# namespaces, or dockerd failing to start outside CI); SKIP_COMPOSE_CHECK=1 skips it too.
# Cold (a fresh clone) 27 minutes on 2 cores shared with other builds, 20 of them the image's
# release build (about 7 on an idle machine); with the engine's data root kept under .run/, 1 to 3
# minutes (stand-ins reused, the swift build incremental through BuildKit's cache mount). Under
# CI=true the data root (about 5 GB) is removed at the end. Logs of every step:
# .run/compose-check/logs/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf 'compose-check: %s\n' "$*"; }
step() { printf '\ncompose-check: == %s  [%ss]\n' "$*" "$SECONDS"; }
skip() { say "SKIPPED: $*"; exit 0; }
die() { say "FAILED: $*" >&2; exit 1; }

compose_file="$root/docker-compose.yml"
self_test=false
fresh=false
while [ $# -gt 0 ]; do
  case "$1" in
    --compose-file) [ $# -ge 2 ] || die "--compose-file needs a file"; compose_file="$(realpath "$2")"; shift 2 ;;
    --self-test) self_test=true; shift ;;
    --fresh) fresh=true; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ -f "$compose_file" ] || die "no compose file at $compose_file"

[ "${SKIP_COMPOSE_CHECK:-0}" != "1" ] || skip "SKIP_COMPOSE_CHECK=1"
[ "$(id -u)" -eq 0 ] || skip "no Docker engine can start here: dockerd needs root, and this is uid $(id -u)"
command -v apt-get >/dev/null || skip "no Docker engine can start here: no apt-get to install Debian's docker.io"
unshare --net true 2>/dev/null || skip "no Docker engine can start here: cannot make a network namespace (unshare --net)"

# --- tools ----------------------------------------------------------------------------------------
# Debian's docker CLI (20.10, BuildKit built in) must come before any other `docker` on PATH:
# docker-compose 1.29 runs the first one it finds for its BuildKit builds.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1 BUILDKIT_PROGRESS=plain
packages=(docker.io docker-compose debootstrap age)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]} (Debian)"
  # No service may start from the package's scripts (that would be a daemon with a bridge).
  made_policy=false
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=true
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if $made_policy; then rm -f /usr/sbin/policy-rc.d; fi
fi
say "$(docker --version), $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /'), $(dpkg-query -W -f='debootstrap ${Version}' debootstrap)"

# --- state under .run/ ----------------------------------------------------------------------------
state="$root/.run/compose-check"
logs="$state/logs"
cache="$state/cache"
engine="$state/engine"
# Unix sockets have a short path limit: with a deep checkout, the exec root and the socket go to
# a short folder of their own under /run instead (named after the checkout).
if [ ${#engine} -gt 60 ]; then
  sockets="/run/etl-compose-check-$(printf '%s' "$root" | sha256sum | cut -c1-12)"
else
  sockets="$engine"
fi
data_root="$engine/data"
exec_root="$sockets/exec"
socket="$sockets/docker.sock"
pidfile="$sockets/dockerd.pid"
export DOCKER_HOST="unix://$socket"
if $fresh; then
  say "--fresh: dropping the engine's data root and the caches"
  rm -rf "$engine" "$cache" "$sockets"
fi
rm -rf "$logs"
mkdir -p "$logs" "$cache" "$engine" "$sockets"
echo '{}' > "$engine/daemon.json"

# --- the engine -----------------------------------------------------------------------------------
dockerd_pid=""
engine_netns=""
engine_start() { # host | private
  local mode="$1" i
  local cmd=(dockerd --config-file "$engine/daemon.json" --data-root "$data_root" --exec-root "$exec_root"
             -H "unix://$socket" --pidfile "$pidfile" --bridge=none --iptables=false --ip6tables=false
             --ip-forward=false --ip-masq=false)
  rm -f "$pidfile"
  if [ "$mode" = private ]; then
    # A network namespace with only a loopback interface, made for this engine; it ends with it.
    unshare --net --fork -- sh -c 'ip link set lo up && exec "$@"' sh "${cmd[@]}" >>"$logs/dockerd.log" 2>&1 &
  else
    "${cmd[@]}" >>"$logs/dockerd.log" 2>&1 &
  fi
  for i in $(seq 120); do
    if [ -s "$pidfile" ] && docker version >/dev/null 2>&1; then
      dockerd_pid="$(cat "$pidfile")"
      engine_netns="/proc/$dockerd_pid/ns/net"
      say "dockerd $dockerd_pid up ($mode network) after $((i / 2))s; data root ${data_root#"$root/"}, socket $socket"
      return 0
    fi
    sleep 0.5
  done
  tail -n 20 "$logs/dockerd.log" | sed 's/^/    /' >&2 || true
  if [ "${CI:-}" = true ] || [ "${COMPOSE_CHECK_REQUIRED:-0}" = 1 ]; then
    die "dockerd did not start in 60s (log above, $logs/dockerd.log)"
  fi
  engine_stop
  skip "no Docker engine can start here: dockerd did not start (log: ${logs#"$root/"}/dockerd.log)"
}

engine_stop() {
  local pid i
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # Whatever of this engine is left: its containerd and shims (found by this engine's own
  # paths, never by name), then any mount under its folders.
  local leftovers
  leftovers="$(ps -eo pid=,args= | grep -F -e "$exec_root" -e "$data_root" | grep -v grep | awk '{print $1}' || true)"
  for pid in $leftovers; do kill -KILL "$pid" 2>/dev/null || true; done
  findmnt -rn -o TARGET | grep -F -e "$data_root" -e "$exec_root" | sort -r | while read -r m; do umount -l "$m" || true; done || true
  dockerd_pid=""
  engine_netns=""
}

# Folders dockerd and containerd make under /run whatever their roots (plugins/, the shims'
# sockets s/): removed at the end when this check made them and they are empty again.
run_dirs_made=()
for d in /run/docker /run/containerd; do [ -e "$d" ] || run_dirs_made+=("$d"); done

project_name="etlcheck"
project=""
stack_up=false
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ -n "$dockerd_pid" ]; then
    if $stack_up; then
      say "stopping the stack (down -v)"
      timeout 120 docker-compose -p "$project_name" --project-directory "$project" -f "$project/docker-compose.yml" \
        --profile offline down -v --timeout 5 >>"$logs/down.log" 2>&1
    fi
    step "stopping the engine"
    engine_stop
  fi
  local mounted
  mounted="$(findmnt -rn -o TARGET | grep -cF -e "$data_root" -e "$exec_root" || true)"
  if ps -eo args= | grep -F -e "$exec_root" -e "$data_root" | grep -qv grep; then
    say "WARNING: processes of this engine are still running"
  else
    say "engine stopped: no dockerd, containerd or container of it left; ${mounted:-0} mounts under its folders"
  fi
  if [ "${CI:-}" = true ]; then
    rm -rf "$engine/data" && say "CI: removed the engine's data root (${data_root#"$root/"})"
  fi
  [ "$sockets" = "$engine" ] || rm -rf "$sockets"
  for d in "${run_dirs_made[@]}"; do
    [ -d "$d" ] && find "$d" -depth -type d -empty -delete 2>/dev/null
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the compose file and its host-network variant ------------------------------------------------
project="$state/project"
fresh_project() { # dir real-compose-file
  rm -rf "$1"
  mkdir -p "$1"
  # What a checkout has in the bind-mounted folders (ssh_keys/README.md).
  git ls-files -z ssh_keys database sftp_data | (cd "$root" && xargs -0 -r cp --parents -t "$1") || true
  python3 scripts/compose-check.py derive "$2" "$1/docker-compose.yml"
}
fresh_project "$project" "$compose_file"
eval "$(python3 scripts/compose-check.py facts "$project/docker-compose.yml" offline)"
say "compose file: ${compose_file#"$root/"}; services (profile offline): $SERVICES"
say "host-network variant: ${project#"$root/"}/docker-compose.yml (derived by scripts/compose-check.py)"

step "engine, build phase (the host's network, for the builds' apt-get)"
engine_start host

# --- stand-ins for the base images ----------------------------------------------------------------
# A stand-in is rebuilt only when its key (its folder and the given inputs) changes.
standin_key() { # folder extra-text
  { tar -C "scripts/standins/$1" --sort=name --mtime=@0 --owner=0 --group=0 -cf - . ; printf '%s' "$2"; } | sha256sum | cut -c1-16
}
standin_build() { # folder tag context extra-text
  local folder="$1" tag="$2" context="$3" key have start=$SECONDS
  key="$(standin_key "$folder" "$4")"
  have="$(docker image inspect -f '{{index .Config.Labels "org.etl-pipeline.standin-key"}}' "$tag" 2>/dev/null || true)"
  if [ "$have" = "$key" ]; then
    say "stand-in $tag: up to date (scripts/standins/$folder, key $key)"
    return 0
  fi
  if ! docker build --network host --label "org.etl-pipeline.standin-key=$key" -t "$tag" \
         -f "scripts/standins/$folder/Dockerfile" "$context" >"$logs/standin-$folder.log" 2>&1; then
    tail -n 30 "$logs/standin-$folder.log" | sed 's/^/    /' >&2 || true
    die "building the stand-in $tag failed (log: ${logs#"$root/"}/standin-$folder.log)"
  fi
  say "stand-in $tag: built in $((SECONDS - start))s from scripts/standins/$folder ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1e6}'))"
}

step "stand-ins for the base images that cannot be pulled here (scripts/standins/)"
runtime_image="$(sed -n 's/^ARG RUNTIME_IMAGE=//p' Dockerfile)"
swift_image="$(sed -n 's/^ARG SWIFT_IMAGE=//p' Dockerfile)"
[ -n "$runtime_image" ] && [ -n "$swift_image" ] || die "the Dockerfile declares no ARG RUNTIME_IMAGE=/SWIFT_IMAGE= default"
[ "$runtime_image" = "debian:bookworm-slim" ] || die "the Dockerfile's RUNTIME_IMAGE is $runtime_image; the stand-in is debian:bookworm-slim"

# debian:bookworm-slim: debootstrap's minimal bookworm, the tar cached under .run/.
ctx="$state/context/debian"
rm -rf "$ctx" && mkdir -p "$ctx/apt"
mirror="$(python3 scripts/compose-check.py apt-sources "$ctx/apt")"
rootfs_tar="$cache/debian-bookworm-minbase.tar"
if [ ! -s "$rootfs_tar" ]; then
  start=$SECONDS
  tmp="$cache/rootfs"
  rm -rf "$tmp"
  if ! timeout 900 debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$logs/debootstrap.log" 2>&1; then
    tail -n 20 "$logs/debootstrap.log" | sed 's/^/    /' >&2 || true
    die "debootstrap of bookworm from the machine's Debian mirror failed"
  fi
  rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* "$tmp/etc/apt/sources.list"
  tar -C "$tmp" --numeric-owner -cf "$rootfs_tar.part" . && mv "$rootfs_tar.part" "$rootfs_tar"
  rm -rf "$tmp"
  say "debootstrap --variant=minbase bookworm: $((SECONDS - start))s, cached as ${rootfs_tar#"$root/"}"
fi
ln "$rootfs_tar" "$ctx/rootfs.tar" 2>/dev/null || cp "$rootfs_tar" "$ctx/rootfs.tar"
standin_build debian "$runtime_image" "$ctx" "$(cat "$ctx"/apt/sources.list "$ctx"/apt/apt.conf.d/*; stat -c '%s %Y' "$rootfs_tar")"
base_id="$(docker image inspect -f '{{.Id}}' "$runtime_image")"

# The Swift build image: this machine's toolchain and its local package mirror (git insteadOf).
swift_bin="$(command -v swift || true)"
[ -n "$swift_bin" ] || die "no swift on PATH: the Swift build image's stand-in is made from this machine's toolchain"
toolchain="$(dirname "$(dirname "$(readlink -f "$swift_bin")")")"
mirror_dir="$(git config --system --get-regexp '^url\..*\.insteadof$' 2>/dev/null | sed -n 's/^url\.\(\/[^ ]*\)\.insteadof .*/\1/p' | head -1)"
mirror_dir="${mirror_dir%/}"
ctx="$state/context/swift"
gitconfig="$(git config --system --get-regexp '^url\..*\.insteadof$' 2>/dev/null || true)"
key_text="$base_id $(swift --version 2>&1) $gitconfig $( [ -z "$mirror_dir" ] || find "$mirror_dir" -maxdepth 3 -printf '%p %T@\n' | sort | sha256sum)"
if [ "$(docker image inspect -f '{{index .Config.Labels "org.etl-pipeline.standin-key"}}' "$swift_image" 2>/dev/null || true)" \
     != "$(standin_key swift "$key_text")" ]; then
  rm -rf "$ctx" && mkdir -p "$ctx/mirror"
  # Hard links (same file system) keep the gigabytes from being copied on disk.
  if [ "$(stat -c %d "$toolchain")" = "$(stat -c %d "$state")" ]; then link=(cp -al); else link=(cp -a); fi
  "${link[@]}" "$toolchain" "$ctx/toolchain"
  if [ -n "$mirror_dir" ]; then
    "${link[@]}" "$mirror_dir/." "$ctx/mirror/"
    printf '%s\n' "$gitconfig" | while read -r k v; do git config -f "$ctx/gitconfig" --add "$k" "$v"; done
  fi
  touch "$ctx/gitconfig"
fi
standin_build swift "$swift_image" "$ctx" "$key_text"
rm -rf "$ctx"

# The images the compose file pulls: a stand-in for each.
for image in $PULLED_IMAGES; do
  case "$image" in
    redis:7|redis:7-*|redis:7.*) folder=redis ;;
    atmoz/sftp|atmoz/sftp:*) folder=sftp ;;
    *) die "the compose file uses the image $image, which cannot be pulled here and has no stand-in in scripts/standins/" ;;
  esac
  standin_build "$folder" "$image" "scripts/standins/$folder" "$base_id"
done

# --- the product images, from the real Dockerfile -------------------------------------------------
dc() { docker-compose -p "$project_name" --project-directory "$project" -f "$project/docker-compose.yml" --profile offline "$@"; }
dct() { # seconds args...: dc, bounded
  local t="$1"; shift
  timeout "$t" docker-compose -p "$project_name" --project-directory "$project" -f "$project/docker-compose.yml" --profile offline "$@"
}

step "the product images: docker-compose build, from the real Dockerfile (BuildKit)"
start=$SECONDS
if ! dct 2400 build >"$logs/build.log" 2>&1; then
  { grep -E '^(#[0-9]+ ERROR|ERROR|Service )' "$logs/build.log" | tail -n 20; tail -n 30 "$logs/build.log"; } | sed 's/^/    /' >&2 || true
  die "docker-compose build failed (log: ${logs#"$root/"}/build.log)"
fi
# The build's steps, once each (compose builds every service that has a build section).
grep -E '^#[0-9]+ \[[a-z]+ +[0-9]+/[0-9]+\]' "$logs/build.log" | sed -E 's/^#[0-9]+ //' | awk '!seen[$0]++' | cut -c1-110 | sed 's/^/    /'
say "built in $((SECONDS - start))s: $(for i in $BUILT_IMAGES; do printf '%s (%s) ' "$i" "$(docker image inspect -f '{{.Size}}' "$i" | awk '{printf "%d MB", $1/1e6}')"; done)"

# --- run phase ------------------------------------------------------------------------------------
step "engine, run phase (a network namespace of its own: loopback only)"
engine_stop
engine_start private
netns() { nsenter --net="$engine_netns" "$@"; }
say "the engine's network: $(netns ip -o link show | awk -F': ' '{printf "%s ", $2}')(nothing else)"

step "the runtime image's libraries (ldd in etl-pipeline:latest)"
ldd_script='
for b in /usr/local/bin/*; do
  [ -f "$b" ] && [ -x "$b" ] || continue
  ldd "$b" | while read -r name arrow path rest; do
    case "$arrow $path" in
      "=> not") echo "missing ${b##*/} $name" ;;
      "=> /"*) p=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null || echo "?:")
               echo "lib ${b##*/} $name $path ${p%%:*}" ;;
    esac
  done
done'
image="$STAGE_IMAGE"
docker run --rm --network none --user 0 --entrypoint sh "$image" -c "$ldd_script" >"$logs/ldd.txt" 2>&1 \
  || { cat "$logs/ldd.txt" >&2; die "could not run ldd in $image"; }
python3 scripts/compose-check.py libraries "$root/Dockerfile" < "$logs/ldd.txt"

step "no test hook in the shipped saver"
# SAVER_TEST_PAUSE_AFTER exists only in debug builds (Package.swift, saverTestHooks).
if docker run --rm --network none --entrypoint sh "$image" -c 'grep -q SAVER_TEST_PAUSE_AFTER /usr/local/bin/Saver'; then
  die "the image's Saver contains SAVER_TEST_PAUSE_AFTER: a debug build, or the test hook outside #if SAVER_TEST_HOOKS"
fi
say "  /usr/local/bin/Saver does not contain SAVER_TEST_PAUSE_AFTER"
say "every library the binaries link is in the image, and the Dockerfile installs none that nothing links"

# --- the stack ------------------------------------------------------------------------------------
# check_stack DIR: up, the checks, a second run, down -v. Runs in a subshell: the first failed
# check ends it with one line naming the problem (after the state of every service), and its
# exit trap always takes the stack down.
declare -A CIDS=()
cid() { # the service's container id (cached once found)
  [ -n "${CIDS[$1]:-}" ] || CIDS[$1]="$(dc ps -q "$1" 2>/dev/null | head -1)"
  printf '%s' "${CIDS[$1]}"
}
redis_cli() { docker exec "$(cid redis)" redis-cli "$@"; }
api_get() { netns curl -fsS --max-time 10 "http://127.0.0.1:$API_PORT_INSIDE$1"; }

wait_for_run() { # previous-run-id -> sets run, status (bounded: 5 minutes)
  local i
  run=""; status=""
  for i in $(seq 300); do
    run="$(redis_cli ZREVRANGE etl:runs 0 0 2>/dev/null || true)"
    if [ -n "$run" ] && [ "$run" != "$1" ]; then
      status="$(redis_cli HGET "etl:run:$run" status 2>/dev/null || true)"
      if [ "$status" = completed ] || [ "$status" = failed ]; then return 0; fi
    fi
    sleep 1
  done
  return 1
}

diagnose() {
  set +e
  say "the stack when the check failed:"
  dc ps 2>&1 | sed 's/^/    /'
  for s in $SERVICES; do
    say "log: $s (last 15 lines)"
    dc logs --no-color --tail=15 "$s" 2>&1 | sed 's/^/    /'
  done
}

check_stack() {
  set -euo pipefail
  stack_fail() { diagnose; die "$*"; }
  trap 'set +e; dc down -v --timeout 5 >>"$logs/down.log" 2>&1' EXIT

  step "docker-compose --profile offline up -d (${project#"$root/"})"
  local start=$SECONDS
  if ! dct 600 up -d --no-build 2>&1 | tee "$logs/up.log" | sed 's/^/    /'; then
    stack_fail "docker-compose up -d failed (above)"
  fi
  say "up -d returned after $((SECONDS - start))s"

  step "the one-shot services and the health checks"
  local s state code i uid user
  for s in $ONESHOTS; do
    state="$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(dc ps -a -q "$s" | head -1)" 2>/dev/null || echo "absent -")"
    [ "$state" = "exited 0" ] || stack_fail "the one-shot $s is '$state', not 'exited 0'"
    say "  $s: exited 0"
  done
  for s in $HEALTHCHECKED; do
    for i in $(seq 90); do
      state="$(docker inspect -f '{{.State.Health.Status}}' "$(cid "$s")" 2>/dev/null || echo absent)"
      [ "$state" = healthy ] && break
      sleep 1
    done
    [ "$state" = healthy ] || stack_fail "$s is '$state' after 90s, not healthy (its health check: $(docker inspect -f '{{json .State.Health.Log}}' "$(cid "$s")" 2>/dev/null | tail -c 300))"
    say "  $s: healthy"
  done

  step "the stages' user"
  user="$(docker image inspect -f '{{.Config.User}}' "$STAGE_IMAGE")"
  for s in $STAGES; do
    local pid
    pid="$(docker inspect -f '{{.State.Pid}}' "$(cid "$s")" 2>/dev/null || echo 0)"
    [ "$pid" -gt 0 ] 2>/dev/null || stack_fail "$s is not running"
    uid="$(awk '/^Uid:/ {print $2 "/" $3}' "/proc/$pid/status")"
    [ "$uid" = "${user%%:*}/${user%%:*}" ] && [ "${user%%:*}" != 0 ] \
      || stack_fail "$s runs as uid $uid (real/effective), not the image's non-root USER $user"
    say "  $s: pid $pid runs as uid ${uid%%/*} (the image's USER $user)"
  done

  step "the first run"
  start=$SECONDS
  wait_for_run "" || stack_fail "no run completed within 5 minutes of up (last: ${run:-none} ${status:-})"
  local first="$run"
  if [ "$status" != completed ]; then
    stack_fail "the first run $first failed: $(redis_cli HGETALL "etl:run:$first" | paste - - | grep -E '^(failed_phase|error)' | tr '\t\n' '= ')"
  fi
  say "run $first completed, $((SECONDS - start))s after up -d returned"
  check_outputs "$first" 1

  step "each service's docker-compose logs"
  local log
  for s in $SERVICES; do
    log="$(dc logs --no-color "$s" 2>&1)"
    [ -n "$(printf '%s' "$log" | grep -v '^Attaching')" ] || stack_fail "docker-compose logs $s is empty"
    case " $STAGES " in *" $s "*)
      case "$s" in api|dummyjson) ;; *)
        grep -q "$first" <<<"$log" || stack_fail "docker-compose logs $s does not mention the run $first" ;;
      esac ;;
    esac
    say "  $s: $(wc -l <<<"$log") lines; last: $(grep -v '^Attaching' <<<"$log" | tail -1 | sed 's/^[^|]*| //' | cut -c1-120)"
  done

  step "three transformer replicas: docker-compose up -d --scale transformer=3"
  dct 300 up -d --scale transformer=3 2>&1 | sed 's/^/    /'
  local replicas
  for _ in $(seq 60); do
    replicas="$(dc ps -q transformer 2>/dev/null | wc -l)"
    [ "$replicas" -eq 3 ] && break
    sleep 1
  done
  [ "$replicas" -eq 3 ] || stack_fail "docker-compose up --scale transformer=3 left $replicas transformer containers"
  say "3 transformer containers running"

  step "a second run, as the README starts one, in chunks of one page (CHUNK_USERS=100)"
  extract_once
  wait_for_run "$first" || stack_fail "the second run did not complete within 5 minutes (last: ${run:-none} ${status:-})"
  [ "$status" = completed ] || stack_fail "the second run $run failed: $(redis_cli HGETALL "etl:run:$run" | paste - - | grep -E '^(failed_phase|error)' | tr '\t\n' '= ')"
  say "run $run completed, in $(redis_cli HGET "etl:run:$run" chunks_total) chunks"
  # Which replica transformed which chunk: compose prefixes each line with its container.
  local split
  split="$(dc logs --no-color transformer 2>&1 | grep "$run" | grep 'chunk transformed' | awk '{print $1}' | sort | uniq -c | awk '{printf "%s %s chunk(s); ", $2, $1}')"
  [ -n "$split" ] || stack_fail "no transformer replica logged a chunk of run $run"
  say "  transformers: $split"
  check_outputs "$run" 2
  local second="$run"

  step "encrypted uploads: the saver recreated with SFTP_ENCRYPT_RECIPIENTS, a third run"
  local identity="$logs/age-identity.txt" recipient
  rm -f "$identity"
  recipient="$(bash scripts/gen-keys.sh --age "$identity" 2>/dev/null)"
  recipient="${recipient#SFTP_ENCRYPT_RECIPIENTS=}"
  export SFTP_ENCRYPT_RECIPIENTS="$recipient"
  dct 300 up -d --no-deps saver 2>&1 | sed 's/^/    /'
  unset SFTP_ENCRYPT_RECIPIENTS
  CIDS[saver]=""
  local env_lines
  env_lines="$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(cid saver)")"
  grep -qx "SFTP_ENCRYPT_RECIPIENTS=$recipient" <<<"$env_lines" || stack_fail "the recreated saver does not have SFTP_ENCRYPT_RECIPIENTS=$recipient"
  if grep -q AGE-SECRET-KEY <<<"$env_lines" || docker exec "$(cid saver)" grep -rqs AGE-SECRET-KEY /app; then
    stack_fail "an age identity is inside the saver's container"
  fi
  say "  saver: encrypts to $recipient; no identity in its environment or under /app"
  extract_once
  wait_for_run "$second" || stack_fail "the third run did not complete within 5 minutes (last: ${run:-none} ${status:-})"
  [ "$status" = completed ] || stack_fail "the third run $run failed: $(redis_cli HGETALL "etl:run:$run" | paste - - | grep -E '^(failed_phase|error)' | tr '\t\n' '= ')"
  check_outputs "$run" 3 "$identity"

  step "docker-compose down -v"
  dct 120 down -v --timeout 10 2>&1 | sed 's/^/    /'
  trap - EXIT
  local left vols
  left="$(docker ps -aq | wc -l)"
  vols="$(docker volume ls -q | wc -l)"
  [ "$left" -eq 0 ] && [ "$vols" -eq 0 ] || stack_fail "after down -v: $left containers and $vols volumes are left"
  say "down -v: no container and no volume left"
}

# extract_once: one run, started as the README says, in chunks of one page (CHUNK_USERS=100).
extract_once() {
  local out rc=0
  out="$(dct 180 run --rm -e CHUNK_USERS=100 extractor Extractor --once 2>&1)" || rc=$?
  if [ $rc -eq 0 ]; then
    say "docker-compose run --rm extractor Extractor --once: exit 0"
  elif grep -qi "links" <<<"$out" && docker-compose version --short | grep -q '^1\.'; then
    say "docker-compose $(docker-compose version --short) cannot run a one-off container under host networking"
    say "  ($(grep -m1 -i 'links' <<<"$out" | sed 's/^ERROR: *//' | cut -c1-160)); compose v2 can."
    say "  Instead, as a user of 1.29 would:"
    say "  docker-compose exec -T extractor Extractor --once"
    rc=0
    out="$(dct 600 exec -T -e CHUNK_USERS=100 extractor Extractor --once 2>&1)" || rc=$?
    printf '%s\n' "$out" | tail -n 3 | sed 's/^/    /'
    [ $rc -eq 0 ] || stack_fail "Extractor --once in the extractor's container failed (exit $rc)"
  else
    printf '%s\n' "$out" | tail -n 10 | sed 's/^/    /'
    stack_fail "docker-compose run --rm extractor Extractor --once failed (exit $rc)"
  fi
}

check_outputs() { # run-id expected-number-of-runs [age identity: the data files are encrypted]
  local run_id="$1" n="$2" identity="${3:-}" body files want f age=""
  [ -z "$identity" ] || age=".age"
  # The database the saver wrote is the file the API reads: database/ in the project folder.
  if [ ! -s "$project/database/data.db" ]; then
    stack_fail "run $run_id completed but there is no database/data.db in the project folder: the saver's database is not on the ./database bind mount the API reads. $(python3 scripts/compose-check.py mounts "$project/docker-compose.yml" saver DB_PATH); $(python3 scripts/compose-check.py mounts "$project/docker-compose.yml" api DB_PATH)"
  fi
  say "  database/data.db: $(stat -c %s "$project/database/data.db") bytes, owner uid $(stat -c %u "$project/database/data.db")"
  body="$(api_get /etl_runs 2>&1)" || stack_fail "GET /etl_runs failed: $body"
  local status remote_files counts runs
  eval "$(python3 scripts/compose-check.py run-json "$run_id" <<<"$body")"
  [ "$status" = completed ] || stack_fail "GET /etl_runs does not serve run $run_id as completed (status: $status): $(cut -c1-300 <<<"$body")"
  [ "$runs" -eq "$n" ] || stack_fail "GET /etl_runs lists $runs runs, expected $n"
  say "  GET /etl_runs: $runs run(s); $run_id completed, counts $counts"
  # The dashboard's templates, style and script are resource files: the image must ship them.
  body="$(api_get /ui/ 2>&1)" || stack_fail "GET /ui/ failed (are the API's resources in the image?): $(cut -c1-300 <<<"$body")"
  case "$body" in *"$run_id"*) ;; *) stack_fail "GET /ui/ does not list run $run_id: $(cut -c1-300 <<<"$body")" ;; esac
  api_get /ui/static/dashboard.css >/dev/null 2>&1 || stack_fail "GET /ui/static/dashboard.css failed: the image lacks the dashboard's resources"
  say "  GET /ui/: the dashboard lists $run_id"
  want="${run_id}_dlq.jsonl$age ${run_id}_manifest.json ${run_id}_raw.jsonl$age ${run_id}_users.jsonl$age"
  files="$(cd "$project/sftp_data" && ls -1 -- "$run_id"* 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//' || true)"
  [ "$files" = "$want" ] || stack_fail "sftp_data/ holds '$files' for run $run_id, expected '$want'"
  for f in $want; do
    [ -s "$project/sftp_data/$f" ] || stack_fail "sftp_data/$f is empty"
    case ",$remote_files,$run_id"_manifest.json"," in *",$f,"*) ;; *) stack_fail "GET /etl_runs does not list $f in the run's remote_files ($remote_files)" ;; esac
  done
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert sys.argv[2] in json.dumps(m)' \
    "$project/sftp_data/${run_id}_manifest.json" "$run_id" || stack_fail "sftp_data/${run_id}_manifest.json is not JSON naming the run"
  say "  sftp_data/: $(cd "$project/sftp_data" && for f in $want; do printf '%s (%s B) ' "$f" "$(stat -c %s "$f")"; done)"
  if [ -n "$identity" ]; then
    # Decrypted on the host, by the reference tool, to what the manifest says the plaintext is.
    local plain
    for f in $want; do
      case "$f" in *.age) ;; *) continue ;; esac
      plain="$(age -d -i "$identity" "$project/sftp_data/$f" | sha256sum | cut -c1-64)" \
        || stack_fail "age -d could not decrypt sftp_data/$f"
      python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); e=[x for x in m["files"] if x["name"]==sys.argv[2]][0]; assert e["sha256"]==sys.argv[3] and e["ciphertext"]["sha256"]==sys.argv[4], e' \
        "$project/sftp_data/${run_id}_manifest.json" "$f" "$plain" "$(sha256sum "$project/sftp_data/$f" | cut -c1-64)" \
        || stack_fail "sftp_data/$f does not decrypt to the plaintext its manifest lists, or is not the ciphertext it lists"
    done
    say "  age -d -i <host identity>: each .age file decrypts to the manifest's plaintext SHA-256"
  fi
  [ "$(ls -1 "$project/sftp_data" | wc -l)" -eq $((4 * n)) ] || stack_fail "sftp_data/ holds $(ls -1 "$project/sftp_data" | wc -l) files after $n runs, expected $((4 * n))"
}

# (`set +e` around the subshell rather than `|| exit`: -e must stay in force inside it.)
stack_up=true
set +e
( set -e; check_stack )
rc=$?
set -e
[ $rc -eq 0 ] || exit 1
stack_up=false
say "ok: the real Dockerfile and docker-compose.yml built and ran; runs served by the API, files in sftp_data/"

# --- self-test: a broken copy must fail, naming the problem ----------------------------------------
if $self_test; then
  step "self-test: a broken copy of the compose file (the saver's database volume at a wrong path)"
  broken="$state/broken-compose.yml"
  python3 - "$compose_file" "$broken" <<'EOF'
import sys
text = open(sys.argv[1]).read()
old = "      - ./database:/app/database\n      - ./ssh_keys:/app/ssh_keys:ro\n"
new = "      - ./database:/app/databse\n      - ./ssh_keys:/app/ssh_keys:ro\n"
if text.count(old) != 1:
    sys.exit("compose-check: self-test: the saver's database volume line is not in the compose file as expected any more")
open(sys.argv[2], "w").write(text.replace(old, new))
EOF
  diff -u "$compose_file" "$broken" | grep '^[-+] ' | sed 's/^/    /' || true
  project="$state/project-broken"
  fresh_project "$project" "$broken"
  stack_up=true
  set +e
  ( set -e; CIDS=(); check_stack ) >"$logs/self-test.log" 2>&1
  rc=$?
  set -e
  stack_up=false
  grep -E 'FAILED' "$logs/self-test.log" | sed 's/^/    /' || true
  if [ $rc -eq 0 ]; then
    die "self-test: the broken copy passed the check (log: ${logs#"$root/"}/self-test.log)"
  fi
  grep -q "FAILED: .*database.*saver: DB_PATH=/app/database/data.db is on no volume" "$logs/self-test.log" \
    || die "self-test: the broken copy failed, but not with a message naming the saver's database volume (log: ${logs#"$root/"}/self-test.log)"
  say "self-test ok: the broken copy fails, and the message names the saver's database volume"
fi
say "ok [${SECONDS}s]"
