#!/usr/bin/env bash
# Generates the SSH keys the pipeline's SFTP upload needs (docs/ARCHITECTURE.md, "Remote files"):
#
#   id_ed25519, id_ed25519.pub         the saver's client key pair (SFTP_KEY_PATH);
#                                      passphrase from SFTP_KEY_PASSPHRASE (empty: none)
#   ssh_host_ed25519_key, .pub         the SFTP server's host key (scripts/sftp.sh locally,
#                                      mounted into the `sftp` container under compose)
#   known_hosts                        that host key for every name the saver connects to:
#                                      [127.0.0.1]:2222 (local run), [127.0.0.1]:12222 (tests),
#                                      [127.0.0.1]:$SFTP_PORT when set to another port,
#                                      sftp and [sftp]:22 (docker compose service `sftp`)
#
# Usage: scripts/gen-keys.sh [DIR]        (DIR defaults to ssh_keys/ in the repository root)
#        scripts/gen-keys.sh --age [FILE]  an age identity for encrypted uploads (FILE defaults to
#                                          age_keys/identity.txt, outside ssh_keys/ so it is never
#                                          mounted into a container); prints the recipient to set
#                                          as SFTP_ENCRYPT_RECIPIENTS (docs/ENCRYPTION.md)
#
# Idempotent: existing keys are kept (regenerating the host key would make every known_hosts
# copy a mismatch); known_hosts is rewritten from the current host key each time, so it can
# never drift from it. ed25519 because libssh2 1.10 signs RSA keys with SHA-1, which
# OpenSSH 9 refuses.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "${1:-}" == "--age" ]]; then
    identity="${2:-$repo_root/age_keys/identity.txt}"
    command -v age-keygen >/dev/null || { echo "gen-keys: age-keygen not found (apt-get install age)" >&2; exit 1; }
    mkdir -p "$(dirname "$identity")"
    chmod 700 "$(dirname "$identity")" 2>/dev/null || true
    if [[ -f "$identity" ]]; then
        echo "gen-keys: keeping existing age identity $identity" >&2
    else
        (umask 077 && age-keygen -o "$identity" 2>/dev/null)
        echo "gen-keys: wrote age identity $identity (the secret key: keep it where files are decrypted, never in a container)" >&2
    fi
    recipient="$(age-keygen -y "$identity")"
    echo "gen-keys: put this in .env to encrypt uploads to it; decrypt with: age -d -i $identity FILE.age" >&2
    echo "SFTP_ENCRYPT_RECIPIENTS=$recipient"
    exit 0
fi
dir="${1:-$repo_root/ssh_keys}"
passphrase="${SFTP_KEY_PASSPHRASE:-}"

command -v ssh-keygen >/dev/null || { echo "gen-keys: ssh-keygen not found (apt-get install openssh-client)" >&2; exit 1; }

mkdir -p "$dir"
chmod 700 "$dir" 2>/dev/null || true
# Private keys must not be readable by anyone else, or ssh/sshd refuse them.
umask 077

client="$dir/id_ed25519"
host="$dir/ssh_host_ed25519_key"

# make_key PATH PASSPHRASE COMMENT LABEL: an ed25519 key pair, an existing one kept; a lost .pub
# (the private key copied without it) derived again.
make_key() {
    local key="$1" passphrase="$2" comment="$3" label="$4"
    if [[ -f "$key" ]]; then
        echo "gen-keys: keeping existing $label $key"
    else
        ssh-keygen -q -t ed25519 -N "$passphrase" -C "$comment" -f "$key"
        echo "gen-keys: wrote $label $key${passphrase:+ (passphrase-protected)}"
    fi
    if [[ ! -f "$key.pub" ]]; then
        ssh-keygen -y -P "$passphrase" -f "$key" > "$key.pub"
        echo "gen-keys: rederived $key.pub"
    fi
}
make_key "$client" "$passphrase" etl-pipeline-saver "client key"
make_key "$host" "" etl-sftp-host "host key"
chmod 600 "$client" "$host"
chmod 644 "$client.pub" "$host.pub"

# known_hosts: "<pattern> <type> <base64>" per name, without the host key's comment.
read -r key_type key_blob _ < "$host.pub"
ports=(2222 12222)
if [[ -n "${SFTP_PORT:-}" && "${SFTP_PORT}" != 2222 && "${SFTP_PORT}" != 12222 && "${SFTP_PORT}" != 22 ]]; then
    ports+=("$SFTP_PORT")
fi
tmp="$(mktemp "$dir/.known_hosts.XXXXXX")"
{
    for port in "${ports[@]}"; do
        echo "[127.0.0.1]:$port $key_type $key_blob"
    done
    echo "sftp $key_type $key_blob"
    echo "[sftp]:22 $key_type $key_blob"
} > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$dir/known_hosts"
echo "gen-keys: wrote $dir/known_hosts (${#ports[@]} local ports, sftp, [sftp]:22)"
