#!/usr/bin/env bash
# Local redis-server for development and tests: scripts/redis.sh start|stop|status
#
#   REDIS_PORT  port on 127.0.0.1 (default 6379; the tests use 16379)
#   REDIS_DIR   data directory, relative to the repository root unless absolute
#               (default .run/redis-$REDIS_PORT); holds the AOF, redis.pid and redis.log
#
# Idempotent: start when running and stop when stopped just say so. Only ever binds to
# 127.0.0.1. AOF is on, as in production (docs/ARCHITECTURE.md, "Ledger"), so a restart keeps the ledger.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${REDIS_PORT:-6379}"
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    echo "redis.sh: REDIS_PORT must be 1-65535, not \"$port\"" >&2
    exit 2
fi
dir="${REDIS_DIR:-.run/redis-$port}"
[[ "$dir" = /* ]] || dir="$root/$dir"
pidfile="$dir/redis.pid"
logfile="$dir/redis.log"
wait_seconds=10

for tool in redis-server redis-cli; do
    command -v "$tool" >/dev/null || {
        echo "redis.sh: $tool not found (apt-get install redis-server)" >&2
        exit 2
    }
done

# The pid of our redis-server if it is alive (a stale pidfile, or a pid reused by another
# program, does not count).
our_pid() {
    local pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

# Alive and not a zombie (a server that died at start-up is our unreaped child until we exit).
alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ "${stat##*) }" != Z* ]]
}

close_inherited_fds() {
    local fd
    for fd in /proc/$BASHPID/fd/*; do
        fd="${fd##*/}"
        if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
}

answers_ping() {
    [[ "$(timeout 1 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]]
}

start() {
    local pid
    if pid="$(our_pid)"; then
        if answers_ping; then
            echo "redis already running on 127.0.0.1:$port (pid $pid)"
            return 0
        fi
    elif answers_ping; then
        echo "redis.sh: something else already answers on 127.0.0.1:$port (no pidfile in $dir): stop it or pick another REDIS_PORT" >&2
        return 1
    else
        mkdir -p "$dir"
        rm -f "$pidfile"
        # Detached in a session of its own rather than with --daemonize yes, so that its pid is
        # known at once and a server that dies at start-up (port taken, bad AOF) fails this
        # script immediately instead of after the whole wait.
        # It also must not inherit the caller's other descriptors: a caller reading this
        # script's output through a pipe would otherwise wait for EOF as long as redis runs.
        # Nor its signal mask: a caller that runs this script from a thread with signals
        # blocked (Foundation's Process does, from Swift tests) would leave SIGTERM blocked
        # in redis. perl (Essential on Debian) clears the mask before exec.
        (
            close_inherited_fds
            exec perl -MPOSIX -e 'sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!\n";
                                  exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n"' \
                setsid redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
                --appendonly yes --daemonize no \
                --pidfile "$pidfile" --logfile "$logfile" </dev/null >/dev/null 2>&1
        ) &
        pid=$!
    fi
    local deadline=$((SECONDS + wait_seconds))
    while ((SECONDS < deadline)); do
        if answers_ping; then
            echo "redis started on 127.0.0.1:$port (pid $pid, data $dir)"
            return 0
        fi
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        echo "redis.sh: redis (pid $pid) did not answer PING on 127.0.0.1:$port within ${wait_seconds} s; last lines of $logfile:" >&2
    else
        echo "redis.sh: redis exited at start-up on 127.0.0.1:$port; last lines of $logfile:" >&2
    fi
    tail -n 20 "$logfile" >&2 2>/dev/null || echo "(no log)" >&2
    return 1
}

stop() {
    local pid
    if ! pid="$(our_pid)"; then
        rm -f "$pidfile"
        echo "redis not running on 127.0.0.1:$port"
        return 0
    fi
    # SHUTDOWN flushes the AOF and exits; SIGTERM (the same for redis) as a fallback for a
    # server that does not answer.
    timeout 5 redis-cli -h 127.0.0.1 -p "$port" shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + wait_seconds))
    while ((SECONDS < deadline)); do
        if ! alive "$pid"; then
            echo "redis stopped on 127.0.0.1:$port (pid $pid)"
            return 0
        fi
        sleep 0.1
    done
    echo "redis.sh: redis (pid $pid) did not exit within ${wait_seconds} s of SHUTDOWN; last lines of $logfile:" >&2
    tail -n 20 "$logfile" >&2 2>/dev/null || true
    return 1
}

status() {
    local pid
    if pid="$(our_pid)" && answers_ping; then
        echo "redis running on 127.0.0.1:$port (pid $pid, data $dir)"
        return 0
    fi
    echo "redis not running on 127.0.0.1:$port"
    return 1
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *)
        echo "usage: scripts/redis.sh start|stop|status  (env: REDIS_PORT, REDIS_DIR)" >&2
        exit 2
        ;;
esac
