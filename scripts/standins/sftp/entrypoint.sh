#!/bin/bash
# TEST STAND-IN entrypoint for atmoz/sftp:debian (see Dockerfile): creates one chrooted user
# per `user:password:uid:gid:dirs` argument, authorizes the keys mounted under
# /home/<user>/.ssh/keys/, and runs sshd in the foreground, logging to stderr.
set -euo pipefail
log() { echo "[sftp-standin] $*" >&2; }

[ $# -gt 0 ] || { log "FATAL: no users given (user:password:uid:gid:dirs)"; exit 3; }
for spec in "$@"; do
    IFS=':' read -r user pass uid gid dirs <<< "$spec"
    [[ "$user" =~ ^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}$ ]] || { log "FATAL: bad user name in '$spec'"; exit 3; }
    if ! getent passwd "$user" >/dev/null; then
        opts=(--no-user-group --badname --no-create-home)
        [ -z "$uid" ] || opts+=(--non-unique --uid "$uid")
        if [ -n "$gid" ]; then
            getent group "$gid" >/dev/null || groupadd --gid "$gid" "group_$gid"
            opts+=(--gid "$gid")
        fi
        useradd "${opts[@]}" "$user"
    fi
    home="/home/$user"
    mkdir -p "$home"
    chown root:root "$home"   # a chroot must belong to root
    chmod 755 "$home"
    if [ -n "$pass" ]; then echo "$user:$pass" | chpasswd; else usermod -p '*' "$user"; fi
    if [ -d "$home/.ssh/keys" ]; then
        cat "$home"/.ssh/keys/* 2>/dev/null | sort -u > "$home/.ssh/authorized_keys"
        chown "$(id -u "$user")" "$home/.ssh/authorized_keys"
        chmod 600 "$home/.ssh/authorized_keys"
    fi
    IFS=',' read -ra folders <<< "$dirs"
    for folder in "${folders[@]}"; do
        if [ ! -d "$home/$folder" ]; then
            mkdir -p "$home/$folder"
            chown -R "$(id -u "$user"):users" "$home/$folder"
        fi
    done
    log "user $user (uid $(id -u "$user")), folders: ${dirs:-none}"
done
[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -f /etc/ssh/ssh_host_ed25519_key -N ''
log "sshd on port 22"
exec /usr/sbin/sshd -D -e
