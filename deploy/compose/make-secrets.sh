#!/usr/bin/env bash
# Create the secrets of the compose stack (docker-compose.yml) in deploy/compose/secrets/:
# database and Grafana admin passwords, a CA with the broker's TLS certificate, the broker's
# password file and ACL with the server's user (and the simulated sensors' users with --sim).
#
#   deploy/compose/make-secrets.sh [--sim] [--broker-name NAME]...
#
# --broker-name adds a DNS name to the broker certificate (the host name gateways connect to;
# `broker` and `localhost` are always in it). Existing files are kept: running it again only
# adds what is missing (use deploy/mosquitto/add-device.sh for more sensors). Needs openssl and
# mosquitto_passwd (apt-get install openssl mosquitto).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir=${SECRETS_DIR:-$here/secrets}
add_device="$here/../mosquitto/add-device.sh"
sim=0
names=(broker localhost)
while [[ $# -gt 0 ]]; do
    case $1 in
        --sim) sim=1; shift ;;
        --broker-name) names+=("$2"); shift 2 ;;
        *) echo "usage: $0 [--sim] [--broker-name NAME]..." >&2; exit 2 ;;
    esac
done
command -v openssl >/dev/null || { echo "make-secrets.sh: openssl is not installed" >&2; exit 1; }
PATH="$PATH:/usr/sbin"
command -v mosquitto_passwd >/dev/null || {
    echo "make-secrets.sh: mosquitto_passwd is not installed (apt-get install mosquitto)" >&2; exit 1; }

umask 077
mkdir -p "$dir"
password() {  # FILE: a random password, once
    [[ -s $1 ]] || openssl rand -base64 24 | tr -d '/+=\n' >"$1"
}
password "$dir/db-password"
[[ -s $dir/grafana-admin-password ]] || password "$dir/grafana-admin-password"
# grafana provision --basic-auth-file reads USER:PASSWORD.
printf 'admin:%s\n' "$(cat "$dir/grafana-admin-password")" >"$dir/grafana-admin"
password "$dir/mqtt-server-password"

if [[ ! -s $dir/mqtt-ca.crt ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=noisefleet broker CA" -keyout "$dir/mqtt-ca.key" -out "$dir/mqtt-ca.crt" 2>/dev/null
fi
if [[ ! -s $dir/mqtt-server.crt ]]; then
    san=$(printf 'DNS:%s,' "${names[@]}")
    printf 'subjectAltName=%sIP:127.0.0.1\nextendedKeyUsage=serverAuth\n' "$san" >"$dir/server.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=noisefleet broker" -keyout "$dir/mqtt-server.key" -out "$dir/server.csr" 2>/dev/null
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/mqtt-ca.crt" -CAkey "$dir/mqtt-ca.key" \
        -CAcreateserial -days 825 -extfile "$dir/server.ext" -out "$dir/mqtt-server.crt" 2>/dev/null
    rm -f "$dir/server.csr" "$dir/server.ext"
fi

export MOSQUITTO_PASSWD_FILE="$dir/mqtt-passwd" MOSQUITTO_ACL_FILE="$dir/mqtt-acl"
has_user() { [[ -e $MOSQUITTO_ACL_FILE ]] && grep -qxF "user $1" "$MOSQUITTO_ACL_FILE"; }
has_user server || "$add_device" --server server <"$dir/mqtt-server-password" >/dev/null
if [[ $sim == 1 ]]; then
    for sensor in s01 s02 s03; do
        password "$dir/sim-$sensor-password"
        has_user "sim.$sensor" || "$add_device" sim "$sensor" <"$dir/sim-$sensor-password" >/dev/null
    done
fi
# Files the containers read as their own (non-root) users: readable, in a private directory.
chmod 0700 "$dir"
chmod 0644 "$dir"/*
chmod 0600 "$dir/mqtt-ca.key"
echo "make-secrets.sh: secrets in $dir (keep mqtt-ca.key offline once devices are issued)"
