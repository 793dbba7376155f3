#!/usr/bin/env bash
# Prepare a fresh machine for noisefleet development, tests and the demo.
# 1. system packages (Debian; installed when missing and we are root),
# 2. uv (the installer that reads uv.lock),
# 3. .venv with every workspace package and the dev tools, exactly as locked.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libportaudio2 mosquitto gcc libc6-dev chromium fonts-noto-color-emoji docker-compose espeak-ng)
# gcc: the MCU firmware tests; chromium: the dashboard's browser tests (Playwright drives it,
# never `playwright install`); the emoji font: the state marks (🟢, ❌) in their screenshots;
# docker-compose: `docker-compose config` validates docker-compose.yml (no Docker engine needed);
# espeak-ng: the speech signals of the open-set tests and of the real-audio evaluation

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: warning: missing system packages ${missing[*]} (install them as root)" >&2
  fi
fi

UV_VERSION=0.13.9
if command -v uv >/dev/null; then
  UV=(uv)
else
  python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==${UV_VERSION}"
  UV=(python3 -m uv)
fi

export UV_PYTHON_DOWNLOADS=never
"${UV[@]}" sync --locked --all-packages --all-groups --python 3.11 --quiet
