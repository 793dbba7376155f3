"""The model a sensor starts with: the one in its model store, or the configured one.

``model_in_force`` (blocking: run it in a thread):
1. open the sensor's ``ModelStore``;
2. an empty store gets the configured model (so a later update has something to roll back
   to); a store whose configured model changed since (``configured.sha256``, a hash of the
   folder's contents: a ``touch`` or a reinstall does not change it) gets the new one, which
   replaces a model pushed remotely;
3. load the current model and run it once; if it fails, roll back to the previous one.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
from datetime import datetime
from pathlib import Path

import numpy as np

from noisefleet_core.models.manifest import CARD_FILE, MANIFEST_FILE, MODEL_FILE, ModelError
from noisefleet_edge.agent.config import SensorConfig
from noisefleet_edge.agent.model_store import ModelStore
from noisefleet_edge.classifier import ClassifierError, SoundClassifier

log = logging.getLogger(__name__)

CONFIGURED_MARK = "configured.sha256"


def load_and_run(folder: Path) -> SoundClassifier:
    """Load a model folder and run it once on 2 s of silence (a model that cannot run is
    refused before it replaces the one in force)."""
    classifier = SoundClassifier(folder)
    rate = classifier.sample_rate_hz
    if classifier.classify(np.zeros(2 * rate), rate) is None:
        raise ModelError(f"{folder}: the model produced no output on 2 s of audio")
    return classifier


MODEL_FOLDER_FILES = (MANIFEST_FILE, MODEL_FILE, CARD_FILE)


def archive_of(folder: Path) -> bytes:
    """A model folder as the tar archive a remote update would carry."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in MODEL_FOLDER_FILES:
            if (folder / name).is_file():
                archive.add(folder / name, arcname=name, recursive=False)
    return buffer.getvalue()


def contents_sha256(folder: Path) -> str:
    """SHA-256 of a model folder's files, names and bytes only: unlike its tar archive, which
    stores modification times and owners, a ``touch`` or a reinstall does not change it."""
    digest = hashlib.sha256()
    for name in MODEL_FOLDER_FILES:
        path = folder / name
        if path.is_file():
            data = path.read_bytes()
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
    return digest.hexdigest()


def model_in_force(
    models_dir: Path, sensor: SensorConfig, now: datetime
) -> tuple[ModelStore, SoundClassifier, str]:
    """The sensor's store, its loaded model and the model's version (steps in the module doc).
    ``ModelUpdateError``, ``ModelError``, ``ClassifierError`` or ``OSError`` if none loads."""
    store = ModelStore(models_dir, sensor.id)
    configured_sha = contents_sha256(sensor.model_dir)
    mark = store.folder / CONFIGURED_MARK
    previous_mark = mark.read_text().strip() if mark.is_file() else None
    if store.current_version() is None:
        store.seed(sensor.model_dir, load_and_run, now)
    elif previous_mark != configured_sha:
        # The operator configured another model: it replaces the one in force.
        archive = archive_of(sensor.model_dir)
        store.install(archive, hashlib.sha256(archive).hexdigest(), load_and_run, now)
    mark.write_text(configured_sha + "\n")
    folder = store.current_dir()
    assert folder is not None
    try:
        classifier = load_and_run(folder)
    except (ModelError, ClassifierError) as error:
        log.error("%s: the model in force fails (%s); rolling back", sensor.id, error)
        folder = store.rollback()
        classifier = load_and_run(folder)
    return store, classifier, folder.name
