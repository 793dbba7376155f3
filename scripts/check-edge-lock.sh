#!/usr/bin/env bash
# Check that edge/requirements.lock installs with pip itself (uv resolves differently) on the
# gateways: Linux aarch64 (Raspberry Pi OS, glibc 2.36) and x86_64 with CPython 3.11.
# 1. per Python version, a throwaway venv of that version with the current pip (uv venv --seed):
#    pip evaluates the lock's markers against the interpreter it runs on, not --python-version;
# 2. per target: `pip download --only-binary=:all:` of the lock for that platform, dependencies
#    included, hashes required: every pin must exist as a wheel there, its Requires-Python must
#    admit that Python, and every dependency must be pinned.
# Usage: scripts/check-edge-lock.sh [PYTHON_VERSION:ARCH ...]   (default: 3.11 on both arches)
set -euo pipefail
cd "$(dirname "$0")/.."
LOCK=edge/requirements.lock
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(3.11:aarch64 3.11:x86_64)

if command -v uv >/dev/null; then UV=(uv); else UV=(python3 -m uv); fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for target in "${TARGETS[@]}"; do
  version=${target%%:*}
  arch=${target##*:}
  pip="$work/pip-$version/bin/pip"
  if [ ! -x "$pip" ] && ! UV_PYTHON_DOWNLOADS=never "${UV[@]}" venv --quiet --seed \
      --python "$version" "$work/pip-$version" >/dev/null 2>&1; then
    echo "check-edge-lock: no CPython $version on this machine to run pip with" >&2
    exit 1
  fi
  platforms=(--platform "manylinux2014_$arch")
  for glibc in $(seq 17 36); do platforms+=(--platform "manylinux_2_${glibc}_$arch"); done
  if ! log=$("$pip" download --quiet --disable-pip-version-check --only-binary=:all: \
      "${platforms[@]}" --implementation cp --python-version "$version" \
      --require-hashes -r "$LOCK" -d "$work/wheels-$target" 2>&1); then
    echo "check-edge-lock: $LOCK does not install with pip on CPython $version $arch:" >&2
    echo "$log" | grep -E "ERROR|requires|Requires-Python" | head -5 >&2
    exit 1
  fi
  count=$(find "$work/wheels-$target" -name "*.whl" | wc -l)
  echo "check-edge-lock: $LOCK installs with pip on CPython $version $arch ($count wheels)"
done
