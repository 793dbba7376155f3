#!/usr/bin/env bash
# Install the noisefleet edge agent on Raspberry Pi OS (Bookworm, aarch64) or Debian 12.
#
#   sudo deploy/edge/install.sh [--source DIR]
#
# 1. system packages: python3 venv, PortAudio (microphones), ca-certificates;
# 2. a 'noisefleet' system user in the audio and dialout groups (microphones, serial bridges);
# 3. /opt/noisefleet/venv with the edge package installed from hashed requirements
#    (edge/requirements.lock: every wheel checked by SHA-256; no TensorFlow, no compilers);
# 4. /etc/noisefleet/edge.toml from the template (kept if it exists), secrets directory 0700;
# 5. the systemd unit, enabled; it starts once the configuration passes --check.
# Re-running it upgrades the agent in place and keeps configuration, state and models.
set -euo pipefail

SOURCE_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
if [ "${1:-}" = "--source" ]; then SOURCE_DIR="$(cd "$2" && pwd)"; fi
PREFIX=/opt/noisefleet
CONF_DIR=/etc/noisefleet

die() { echo "install.sh: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sudo $0)"
[ -f "$SOURCE_DIR/edge/pyproject.toml" ] || die "$SOURCE_DIR is not a noisefleet checkout"
command -v apt-get >/dev/null || die "apt-get not found: this script is for Raspberry Pi OS / Debian"

echo "install.sh: system packages"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  python3 python3-venv libportaudio2 libsndfile1 ca-certificates >/dev/null

PY_VERSION="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$PY_VERSION" in 3.11|3.12|3.13) ;; *) die "Python $PY_VERSION found; 3.11 to 3.13 needed";; esac

echo "install.sh: user noisefleet"
id noisefleet >/dev/null 2>&1 || useradd --system --home-dir /var/lib/noisefleet \
  --shell /usr/sbin/nologin noisefleet
usermod -a -G audio,dialout noisefleet

echo "install.sh: virtual environment in $PREFIX/venv"
mkdir -p "$PREFIX"
python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --upgrade pip
"$PREFIX/venv/bin/pip" install --quiet --require-hashes -r "$SOURCE_DIR/edge/requirements.lock"
"$PREFIX/venv/bin/pip" install --quiet --no-deps "$SOURCE_DIR/core" "$SOURCE_DIR/mqtt" "$SOURCE_DIR/edge"
cp "$SOURCE_DIR/README.md" "$PREFIX/README.md"

echo "install.sh: configuration in $CONF_DIR"
install -d -m 0755 "$CONF_DIR"
install -d -m 0700 -o noisefleet -g noisefleet "$CONF_DIR/secrets"
if [ ! -f "$CONF_DIR/edge.toml" ]; then
  install -m 0644 "$SOURCE_DIR/deploy/edge/edge.toml" "$CONF_DIR/edge.toml"
  echo "install.sh: edit $CONF_DIR/edge.toml (site, broker, sensors, calibration) and put each"
  echo "            sensor's broker password in $CONF_DIR/secrets/<sensor>.password (mode 0600)"
fi

echo "install.sh: systemd unit"
install -m 0644 "$SOURCE_DIR/deploy/edge/noisefleet-edge.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable noisefleet-edge.service >/dev/null
if "$PREFIX/venv/bin/noisefleet-edge" run --config "$CONF_DIR/edge.toml" --check; then
  systemctl restart noisefleet-edge.service
  echo "install.sh: running; logs: journalctl -u noisefleet-edge -f"
else
  echo "install.sh: the configuration needs editing before the agent can start (see above);"
  echo "            then: systemctl restart noisefleet-edge"
fi
