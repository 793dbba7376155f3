from __future__ import annotations

from pathlib import Path

import pytest

from noisefleet_edge.classifier import SoundClassifier, default_model_dir
from noisefleet_training.sed.generate import write_evaluation_soundscapes
from noisefleet_training.synth import HELDOUT_SETTINGS


@pytest.fixture(scope="session")
def soundscapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 20 s held-out-preset soundscapes with label tracks (and .quiet.txt tracks)."""
    out = tmp_path_factory.mktemp("soundscapes")
    write_evaluation_soundscapes(out, HELDOUT_SETTINGS, 2, seed=11, duration_s=20.0)
    return out


@pytest.fixture(scope="session")
def classifier() -> SoundClassifier:
    return SoundClassifier(default_model_dir())
