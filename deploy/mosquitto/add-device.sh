#!/usr/bin/env bash
# Add (or re-key) a broker user for one noisefleet sensor, or for the server.
#
#   add-device.sh SITE SENSOR        a device: user SITE.SENSOR, may publish only its own
#                                    levels/events/status/heartbeat/state and read only its own
#                                    set/model topics
#   add-device.sh --server NAME      the server: reads every noisefleet topic, writes set/model
#
# The password is read from the first line of stdin when stdin is not a terminal; otherwise one is
# generated and printed once (store it in the device's secrets file). Running it again for an
# existing user changes the password (rotation) and leaves the ACL alone.
#
# Files (override for tests or other layouts):
#   MOSQUITTO_PASSWD_FILE   default /etc/mosquitto/passwd
#   MOSQUITTO_ACL_FILE      default /etc/mosquitto/acl
# Afterwards reload the broker so it re-reads both files: kill -HUP "$(pidof mosquitto)"
set -euo pipefail

passwd_file=${MOSQUITTO_PASSWD_FILE:-/etc/mosquitto/passwd}
acl_file=${MOSQUITTO_ACL_FILE:-/etc/mosquitto/acl}
id_pattern='^[A-Za-z0-9_-]{1,64}$'
prefix=noisefleet/v1

usage() {
    echo "usage: $0 SITE SENSOR | $0 --server NAME" >&2
    exit 2
}

die() {
    echo "add-device.sh: $*" >&2
    exit 1
}

check_id() {  # the contract's id rule (noisefleet_core.contract.topics.check_id)
    [[ $2 =~ $id_pattern ]] || die "$1 '$2' is not allowed: use 1 to 64 letters, digits, '-' or '_'"
}

if [[ $# -ne 2 ]]; then usage; fi
if [[ $1 == --server ]]; then
    check_id "server user" "$2"
    username=$2
    acl_lines=(
        "user $username"
        "topic read $prefix/#"
        "topic write $prefix/+/+/set"
        "topic write $prefix/+/+/model"
    )
else
    check_id site "$1"
    check_id sensor "$2"
    username="$1.$2"  # mqtt_link.device_username: ids never contain '.'
    base="$prefix/$1/$2"
    acl_lines=("user $username")
    for kind in levels events status heartbeat state; do
        acl_lines+=("topic write $base/$kind")
    done
    for kind in set model; do
        acl_lines+=("topic read $base/$kind")
    done
fi

command -v mosquitto_passwd >/dev/null || PATH="$PATH:/usr/sbin:/usr/bin"
command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd is not installed (apt-get install mosquitto)"

if [[ -t 0 ]]; then
    password=$(openssl rand -base64 24 | tr -d '\n')
    generated=1
else
    IFS= read -r password || true
    generated=0
fi
[[ -n $password ]] || die "empty password on stdin"

umask 077
if [[ -e $passwd_file ]]; then
    mosquitto_passwd -b "$passwd_file" "$username" "$password"
else
    mosquitto_passwd -c -b "$passwd_file" "$username" "$password"
fi

touch "$acl_file"
if grep -qxF "user $username" "$acl_file"; then
    echo "add-device.sh: $username already has ACL lines in $acl_file; password updated" >&2
else
    {
        echo ""
        echo "# $username (added by add-device.sh)"
        printf '%s\n' "${acl_lines[@]}"
    } >>"$acl_file"
fi

# The broker reads both files as user mosquitto (after dropping root): group-readable only.
if getent group mosquitto >/dev/null; then
    chgrp mosquitto "$passwd_file" "$acl_file" 2>/dev/null || true
fi
chmod 640 "$passwd_file" "$acl_file"

if [[ $generated == 1 ]]; then
    echo "user: $username"
    echo "password: $password"
fi
