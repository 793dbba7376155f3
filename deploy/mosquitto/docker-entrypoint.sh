#!/usr/bin/env bash
# The broker container's entry: copy the secrets (mounted read-only, owned by whoever created
# them on the host) to where mosquitto.conf expects them, owned by mosquitto and private, then
# run mosquitto (which drops root for its `mosquitto` user after reading them).
set -euo pipefail
SECRETS=${SECRETS_DIR:-/run/secrets}
install_secret() {  # NAME DESTINATION MODE
    [[ -r "$SECRETS/$1" ]] || { echo "docker-entrypoint.sh: missing secret $1 in $SECRETS" >&2; exit 1; }
    install -o mosquitto -g mosquitto -m "$3" "$SECRETS/$1" "$2"
}
install_secret mqtt-ca.crt /etc/mosquitto/certs/ca.crt 0644
install_secret mqtt-server.crt /etc/mosquitto/certs/server.crt 0644
install_secret mqtt-server.key /etc/mosquitto/certs/server.key 0600
install_secret mqtt-passwd /etc/mosquitto/passwd 0600
install_secret mqtt-acl /etc/mosquitto/acl 0600
chown mosquitto:mosquitto /var/lib/mosquitto
exec "$@"
