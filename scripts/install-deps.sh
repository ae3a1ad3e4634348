#!/usr/bin/env bash
# Installs the Debian packages the pipeline builds against and the local servers its tests and
# local run use. Does nothing when everything is present; otherwise `apt-get update` first.
set -euo pipefail

packages=(
  libhiredis-dev libcurl4-openssl-dev libssh2-1-dev libsqlite3-dev pkg-config
  redis-server openssh-server openssh-sftp-server openssh-client sqlite3 ca-certificates curl
  prometheus  # promtool, which the API's tests run on GET /metrics (the server itself is not started)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Only promtool is wanted from `prometheus`: where systemd started the server it brings
# (listening on every interface, port 9090), stop it and keep it from starting at boot.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
echo "install-deps: done"
