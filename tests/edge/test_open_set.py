"""Open set on the edge: pure tones, speech and silence never become a class.

With the built-in model always; with the YAMNet linear-probe model too where its wheel and the
real clips are already cached (unit tests never download), which also must report a steady
12 s siren as one 12 s event.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_core.events import DetectorSettings
from noisefleet_edge.classifier import SoundClassifier, default_model_dir
from noisefleet_training.realclips.audio import speech
from noisefleet_training.sed.run import run_pipeline

FS = 16000
CALIBRATION_OFFSET_DB = 100.0  # a 0.5-amplitude sine reads 97 dB SPL: calibrator level
T = np.arange(8 * FS) / FS


def _signals() -> dict[str, np.ndarray]:
    signals = {
        "calibration_1khz": 0.5 * np.sin(2 * np.pi * 1000 * T),
        "tone_440hz": 0.1 * np.sin(2 * np.pi * 440 * T),
        "tone_3khz": 0.1 * np.sin(2 * np.pi * 3000 * T),
        "silence": np.zeros(T.size),
    }
    spoken = speech("Please lock the door when you leave the office tonight.", "en", FS)
    if spoken is not None:
        signals["speech"] = 0.1 * spoken / np.max(np.abs(spoken))
    return signals


def _class_events(classifier: SoundClassifier, path: Path) -> list[str]:
    settings = DetectorSettings(
        classifier.labels, non_event_labels=classifier.manifest.non_event_labels
    )
    run = run_pipeline(path, classifier, settings, CALIBRATION_OFFSET_DB)
    return [e.label for e in run.events if e.label != "unknown"]


def _check_open_set(classifier: SoundClassifier, tmp_path: Path) -> None:
    for name, x in _signals().items():
        path = tmp_path / f"{name}.wav"
        sf.write(path, x, FS)
        decision = classifier.classify(x, FS)
        assert decision is not None
        assert decision.decision.label == "unknown", name
        assert _class_events(classifier, path) == [], name


def test_the_default_model_names_no_tone_speech_or_silence(tmp_path: Path) -> None:
    _check_open_set(SoundClassifier(default_model_dir()), tmp_path)


def test_speech_is_tested_where_espeak_ng_is_installed() -> None:
    if speech("test", "en", FS) is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")


def _yamnet_model(tmp_path_factory: pytest.TempPathFactory, head: str) -> SoundClassifier:
    from noisefleet_training.yamnet.command import (
        blend_spec_factory,
        build_yamnet,
        logreg_spec_factory,
    )
    from noisefleet_training.yamnet.fetch import WHEEL_FILE, default_cache_dir

    cache = default_cache_dir()
    clips = cache / "real-clips" / "clips.tsv"
    wheel = cache / "wheels" / WHEEL_FILE
    if not (wheel.is_file() and clips.is_file()) or os.environ.get("NOISEFLEET_NO_YAMNET"):
        pytest.skip("run noisefleet-train yamnet and real-clips once to cache their inputs")
    factory = {"logreg": logreg_spec_factory, "blend": blend_spec_factory}[head]
    out = tmp_path_factory.mktemp("yamnet") / head
    build_yamnet(out, cache, spec_factory=factory(clips.parent, cache))
    return SoundClassifier(out)


@pytest.fixture(scope="module")
def yamnet_logreg(tmp_path_factory: pytest.TempPathFactory) -> SoundClassifier:
    return _yamnet_model(tmp_path_factory, "logreg")


@pytest.fixture(scope="module")
def yamnet_blend(tmp_path_factory: pytest.TempPathFactory) -> SoundClassifier:
    return _yamnet_model(tmp_path_factory, "blend")


@pytest.mark.slow
def test_yamnet_blend_names_no_tone_speech_or_silence(
    yamnet_blend: SoundClassifier, tmp_path: Path
) -> None:
    # its unknown threshold and aggregation come from TRAIN CV (model.json), not the defaults
    _check_open_set(yamnet_blend, tmp_path)


@pytest.mark.slow
def test_yamnet_logreg_names_no_tone_speech_or_silence(
    yamnet_logreg: SoundClassifier, tmp_path: Path
) -> None:
    _check_open_set(yamnet_logreg, tmp_path)


@pytest.mark.slow
def test_yamnet_logreg_reports_a_steady_12_s_siren_as_one_event(
    yamnet_logreg: SoundClassifier, tmp_path: Path
) -> None:
    t = np.arange(20 * FS) / FS
    phase = 2 * np.pi * np.cumsum(1050 + 450 * np.sin(2 * np.pi * 0.25 * t)) / FS
    siren = sum(0.2 / k * np.sin(k * phase) for k in range(1, 8))
    x = 0.003 * np.random.default_rng(0).standard_normal(t.size)
    on = (t >= 4) & (t < 16)
    x[on] += 0.05 * siren[on]
    path = tmp_path / "siren.wav"
    sf.write(path, x, FS)
    settings = DetectorSettings(yamnet_logreg.labels, non_event_labels=("ambient",))
    events = run_pipeline(path, yamnet_logreg, settings, 90.0).events
    assert [e.label for e in events] == ["siren"]
    assert events[0].onset_s == pytest.approx(4.0, abs=0.3)
    assert events[0].offset_s == pytest.approx(16.0, abs=0.3)
