#!/usr/bin/env bash
# The one-shot `keygen` service of docker-compose.yml (Dockerfile target `keygen`, run as root).
# Prepares what the other containers bind-mount from the repository, then exits 0:
#
#   ssh_keys/    scripts/gen-keys.sh: the saver's ed25519 key pair, the sftp server's host key
#                and known_hosts with lines for `sftp` and `[sftp]:22`; existing keys are kept.
#                The client key is handed to APP_UID, the non-root user the stages run as (the
#                saver mounts ssh_keys/ read-only and must read it); the host key stays root's.
#   database/    created if missing, owned by APP_UID: the saver writes DB_PATH there.
#   sftp_data/   created if missing, owned by SFTP_DATA_OWNER: atmoz/sftp only chowns an
#                upload folder it creates itself, and this one is a bind mount.
#
# Mounts (docker-compose.yml): ./ssh_keys, ./database, ./sftp_data under /app.
# Environment: APP_UID (10001, the Dockerfile's), SFTP_DATA_OWNER (1001:100, the uid in the
# sftp service's command and atmoz/sftp's `users` group), SFTP_KEY_PASSPHRASE (gen-keys.sh).
set -euo pipefail

root="${KEYGEN_ROOT:-/app}"
app_uid="${APP_UID:-10001}"
sftp_owner="${SFTP_DATA_OWNER:-1001:100}"
keys="$root/ssh_keys"

[[ "$app_uid" =~ ^[0-9]+$ ]] || { echo "keygen: APP_UID must be a number, got '$app_uid'" >&2; exit 2; }
[[ "$sftp_owner" =~ ^[0-9]+:[0-9]+$ ]] || { echo "keygen: SFTP_DATA_OWNER must be uid:gid, got '$sftp_owner'" >&2; exit 2; }

mkdir -p "$keys"
# When a container that bind-mounts a single key file starts before that file exists, Docker
# creates an empty directory in its place; remove such leftovers so the key can be written.
for name in id_ed25519 id_ed25519.pub ssh_host_ed25519_key ssh_host_ed25519_key.pub known_hosts; do
    if [[ -d "$keys/$name" ]]; then
        rmdir "$keys/$name" || { echo "keygen: $keys/$name is a non-empty directory; remove it" >&2; exit 1; }
        echo "keygen: removed the empty directory Docker left at ssh_keys/$name"
    fi
done

gen-keys.sh "$keys"

# gen-keys.sh leaves the folder 700; the saver (APP_UID) needs to reach its key and known_hosts.
chmod 711 "$keys"
chown "$app_uid:$app_uid" "$keys/id_ed25519" "$keys/id_ed25519.pub"
echo "keygen: ssh_keys/id_ed25519 belongs to uid $app_uid (the stages' user)"

install -d -m 0755 "$root/database"
chown -R "$app_uid:$app_uid" "$root/database"
echo "keygen: database/ belongs to uid $app_uid"

install -d -m 0755 "$root/sftp_data"
chown "$sftp_owner" "$root/sftp_data"
echo "keygen: sftp_data/ belongs to $sftp_owner (the sftp user)"
