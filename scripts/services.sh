#!/usr/bin/env bash
# Starts, stops or reports the local servers the pipeline talks to, all on 127.0.0.1:
# redis-server (AOF on) and an OpenSSH sshd laid out like the atmoz/sftp image.
#
#   scripts/services.sh start|stop|status
#
# Ports and data folders come from REDIS_PORT / REDIS_DIR and SFTP_PORT / SFTP_USER; the local
# run uses 6379 and 2222, the tests 16379 and 12222, so both can be up at once.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "${1:-}" in
  start)  "$here/redis.sh" start && "$here/sftp.sh" start ;;
  stop)   rc=0; "$here/sftp.sh" stop || rc=$?; "$here/redis.sh" stop || rc=$?; exit $rc ;;
  status) rc=0; "$here/redis.sh" status || rc=$?; "$here/sftp.sh" status || rc=$?; exit $rc ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
