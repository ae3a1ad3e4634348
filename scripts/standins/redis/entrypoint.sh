#!/bin/sh
# TEST STAND-IN entrypoint for redis:7 (see Dockerfile). The official image is built with
# protected mode off (clients come from other containers); Debian's binary has it on, so it is
# turned off here, before the command's own arguments, which may still override it.
set -e
if [ "$1" = redis-server ]; then
    shift
    exec redis-server --protected-mode no "$@"
fi
exec "$@"
