# shellcheck shell=bash
# Runs the API binary over a database on 127.0.0.1 and a free port, for the scripts that test or
# measure it (contract-test.sh, bench-api.sh). Source it, then:
#
#   api_start BIN DB LOG [VAR=value ...]   start BIN with DB_PATH=DB, output to LOG; sets api_pid
#                                          and api_port; returns once /health says the database
#                                          is ready (bounded: 30 s), fails with the log otherwise
#   api_stop                               SIGTERM and wait (safe to call twice, or from a trap)

api_pid=""
api_port=""

api_start() {
  local bin="$1" db="$2" log="$3"
  shift 3
  api_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  env API_HOST=127.0.0.1 API_PORT="$api_port" DB_PATH="$db" "$@" "$bin" >"$log" 2>&1 &
  api_pid=$!
  local _
  for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:$api_port/health" 2>/dev/null | grep -q '"database":"ready"' && return 0
    if ! kill -0 "$api_pid" 2>/dev/null; then
      cat "$log" >&2
      echo "api-server: the API exited at start-up" >&2
      return 1
    fi
    sleep 0.2
  done
  cat "$log" >&2
  echo "api-server: the API did not report its database ready on 127.0.0.1:$api_port within 30 s" >&2
  return 1
}

api_stop() {
  if [ -n "$api_pid" ] && kill -0 "$api_pid" 2>/dev/null; then
    kill -TERM "$api_pid" 2>/dev/null || true
    wait "$api_pid" 2>/dev/null || true
  fi
  api_pid=""
}
