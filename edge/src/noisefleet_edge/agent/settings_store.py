"""Settings changed remotely survive a restart: ``state_dir/settings/<sensor>.json``.

``save_settings`` (after a ``set`` command changed something; blocking: run it in a thread):
the settings now in force and the configured ones they were laid over, written atomically
(a temporary file, fsync, rename, fsync of the folder), so a power cut leaves the old file or
the new one.

``load_settings`` (at start):
1. no file: the configured settings;
2. the configuration's own settings changed since the file was written: the operator edited
   them, and they win (as a newly configured model replaces a pushed one); the file is left
   to be replaced by the next ``set``;
3. otherwise the saved settings, checked again like a ``set`` against the model in force;
   a file that cannot be read or no longer fits is reported and the configured settings used.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from noisefleet_edge.agent.tuning import (
    ModelThresholds,
    SensorTuning,
    TuningError,
    tuning_from_mapping,
    tuning_to_mapping,
)
from noisefleet_edge.errors import NoisefleetEdgeError

SETTINGS_FOLDER = "settings"


class SettingsStoreError(NoisefleetEdgeError):
    """Settings could not be saved (one line: the file and why)."""


@dataclass(frozen=True)
class LoadedSettings:
    tuning: SensorTuning
    """The settings to start with."""
    restored: bool
    """Whether they are the saved ones (False: the configured ones)."""
    note: str | None
    """Why saved settings were not used, for the log and the start-up state report."""


def settings_path(state_dir: Path, sensor: str) -> Path:
    return state_dir / SETTINGS_FOLDER / f"{sensor}.json"


def save_settings(path: Path, applied: SensorTuning, configured: SensorTuning) -> None:
    """Keep ``applied`` (laid over ``configured``) for the next start."""
    text = json.dumps(
        {"configured": tuning_to_mapping(configured), "settings": tuning_to_mapping(applied)},
        sort_keys=True,
    )
    temporary = path.with_suffix(".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as error:
        raise SettingsStoreError(f"cannot save the settings in {path} ({error.strerror})") from None


def load_settings(
    path: Path,
    configured: SensorTuning,
    labels: tuple[str, ...],
    thresholds: ModelThresholds | None = None,
) -> LoadedSettings:
    """The settings to start with: the saved ones unless the configuration changed since."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LoadedSettings(configured, False, None)
    except (OSError, UnicodeDecodeError) as error:
        return LoadedSettings(configured, False, f"cannot read the saved settings ({error})")
    try:
        data = json.loads(text)
        saved, laid_over = data["settings"], data["configured"]
    except (ValueError, TypeError, KeyError):
        return LoadedSettings(configured, False, f"{path} is not a settings file; ignored")
    if laid_over != tuning_to_mapping(configured):
        note = "the configured settings changed since the remote ones were saved; they win"
        return LoadedSettings(configured, False, note)
    try:
        tuning = tuning_from_mapping(saved, labels, None, thresholds)
    except TuningError as error:
        return LoadedSettings(configured, False, f"the saved settings no longer fit: {error}")
    return LoadedSettings(tuning, True, None)
