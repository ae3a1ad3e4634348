#!/usr/bin/env bash
# Installs the Debian packages the pipeline builds against and the local servers its local run
# uses. With --tests, also what only the tests and scripts/screenshots.sh need: promtool, chromium,
# pngquant/optipng, and html5lib (PyPI) in a virtual environment of its own (.run/html-venv) for
# the dashboard's strict HTML check (scripts/check-html.py). Does nothing when everything is
# present; otherwise `apt-get update` first.
#
#   scripts/install-deps.sh            # scripts/run.sh
#   scripts/install-deps.sh --tests    # scripts/test.sh, scripts/screenshots.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tests=false
[ "${1:-}" = "--tests" ] && tests=true

packages=(
  libhiredis-dev libcurl4-openssl-dev libssh2-1-dev libsqlite3-dev pkg-config
  redis-server openssh-server openssh-sftp-server openssh-client sqlite3 ca-certificates curl
  age  # the saver's encrypted uploads (SFTP_ENCRYPT_RECIPIENTS), and age-keygen for gen-keys.sh --age
)
if $tests; then
  packages+=(
    prometheus  # promtool, which the API's tests run on GET /metrics (the server itself is not started)
    chromium    # the headless browser the dashboard's end-to-end tests and scripts/screenshots.sh drive
    python3-venv  # the virtual environment html5lib goes into (Debian's python3 refuses system-wide pip)
    python3-yaml  # scripts/container-contract.py and scripts/compose-check.py read the compose file
    pngquant optipng  # scripts/screenshots.sh: small PNGs (a 256-colour palette, then lossless)
  )
fi

# html5lib in .run/html-venv (HTML_VENV), as scripts/contract-test.sh installs schemathesis:
# the strict parser the dashboard's pages must pass (HTML5LIB_VERSION, default 1.1).
html_venv() {
  local venv="${HTML_VENV:-$root/.run/html-venv}" version="${HTML5LIB_VERSION:-1.1}"
  if "$venv/bin/python" -c "import html5lib, sys; sys.exit(html5lib.__version__ != '$version')" 2>/dev/null; then
    return 0
  fi
  echo "install-deps: installing html5lib $version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "html5lib==$version"
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  if $tests; then html_venv; fi
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
if $tests; then html_venv; fi
echo "install-deps: done"
