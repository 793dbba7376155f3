"""The sensor pipeline: levels + gate + classifier + detector, streaming and through analyze."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from noisefleet_core.acoustics.meter import MeterSettings
from noisefleet_core.events import DetectorSettings
from noisefleet_edge.classifier import SoundClassifier, default_model_dir
from noisefleet_edge.cli import main
from noisefleet_edge.detection import SensorPipeline

FS = 16000
OFFSET_DB = 100.0  # dB SPL = dBFS + 100


@pytest.fixture(scope="module")
def classifier() -> SoundClassifier:
    return SoundClassifier(default_model_dir())


def _street(seconds: int = 60) -> np.ndarray:
    """A quiet street (~35 dB) with one loud siren-like sweep from 20 to 26 s (when that long)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(seconds * FS) * 10 ** ((35 - OFFSET_DB) / 20)
    t = np.arange(6 * FS) / FS
    sweep = np.sin(2 * np.pi * np.cumsum(900 + 350 * np.sin(2 * np.pi * 0.5 * t)) / FS)
    if seconds >= 26:
        x[20 * FS : 26 * FS] += sweep * 10 ** ((80 - OFFSET_DB) / 20)  # 80 dB (AES17)
    return x


def _run(classifier: SoundClassifier, x: np.ndarray, blocks: list[int]) -> tuple[Any, Any]:
    pipeline = SensorPipeline(
        MeterSettings(FS, 1.0, calibration_offset_db=OFFSET_DB, calibrated=True),
        classifier,
        DetectorSettings(classifier.labels),
        datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
        "street",
        0,
    )
    out: list[dict[str, Any]] = []
    start = 0
    for size in blocks:
        out += pipeline.process(x[start : start + size])
        start += size
    out += pipeline.process(x[start:])
    out += pipeline.flush()
    return out, pipeline


def _by_kind(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "event_id"} for r in records if r["kind"] == kind]


def test_streaming_equals_whole_file(classifier: SoundClassifier) -> None:
    x = _street(30)
    whole, _ = _run(classifier, x, [])
    rng = np.random.default_rng(0)
    split, _ = _run(classifier, x, [int(n) for n in rng.integers(1, 20000, 40)])
    for kind in ("levels", "event"):
        assert _by_kind(split, kind) == _by_kind(whole, kind)
    assert len(_by_kind(whole, "levels")) == 30


def test_the_loud_sweep_is_an_event_with_levels_and_shares(classifier: SoundClassifier) -> None:
    records, pipeline = _run(classifier, _street(), [FS] * 59)
    events = [r for r in records if r["kind"] == "event"]
    assert events, "the 80 dB sweep must be reported"
    # The sweep (0.5 sweeps/s, faster than the generator's sirens) may be reported in pieces:
    # class events where the model recognises it, ``unknown`` (loud, no class) between them.
    # Together they cover it, each at its level.
    sweep = sorted((e for e in events if e["laeq_db"] >= 70), key=lambda e: e["start"])
    assert sweep[0]["start"] <= "2026-11-24T08:00:20.500Z"
    assert sweep[-1]["end"] >= "2026-11-24T08:00:25.500Z"
    for loud in sweep:
        assert loud["laeq_db"] == pytest.approx(80.0, abs=1.5)
        if loud["duration_s"] >= 1.0:  # fast time weighting lags a 0.3 s piece at the onset
            assert loud["lafmax_db"] >= loud["laeq_db"]
        assert loud["lae_db"] == pytest.approx(
            loud["laeq_db"] + 10 * np.log10(loud["duration_s"]), abs=0.02
        )
        assert loud["final"] is True
    levels = [r for r in records if r["kind"] == "levels"]
    assert len(levels) == 60
    during = levels[22]["energy_shares"]
    assert sum(during.values()) == pytest.approx(1.0, abs=1e-3)
    assert during["background"] < 0.05  # the sweep explains the loud second
    assert levels[5]["energy_shares"] == {"background": 1.0}
    # Quiet street: the gate spares the classifier most of the minute.
    assert pipeline.gate_stats.saved_fraction >= 0.8


def test_analyze_prints_events_with_the_events_option(tmp_path: Path) -> None:
    path = tmp_path / "street.wav"
    sf.write(path, _street(40), FS, subtype="PCM_24")
    out = io.StringIO()
    code = main(
        ["analyze", str(path), "--events", "--calibration-offset-db", str(OFFSET_DB),
         "--start-time", "2026-11-24T08:00:00Z"],
        out=out,
    )  # fmt: skip
    assert code == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = {r["kind"] for r in records}
    assert kinds == {"levels", "event"}
    event = next(r for r in records if r["kind"] == "event")
    assert set(event) >= {
        "event_id", "label", "start", "end", "duration_s", "confidence_peak", "confidence_mean",
        "laeq_db", "lafmax_db", "lae_db", "runner_up", "part", "final", "source", "channel",
    }  # fmt: skip
    assert all("energy_shares" in r for r in records if r["kind"] == "levels")


def test_bad_detector_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "street.wav"
    sf.write(path, _street(3), FS)
    code = main(
        ["analyze", str(path), "--events", "--onset-threshold", "0.2", "--offset-threshold", "0.6"],
        out=io.StringIO(),
    )
    assert code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1


def test_rates_without_whole_sample_frames_keep_event_times(classifier: SoundClassifier) -> None:
    """At 11025 Hz a 0.1 s frame is 1102 samples: events and shares still line up."""
    fs = 11025
    rng = np.random.default_rng(4)
    x = rng.standard_normal(40 * fs) * 10 ** ((35 - OFFSET_DB) / 20)
    t = np.arange(6 * fs) / fs
    sweep = np.sin(2 * np.pi * np.cumsum(900 + 350 * np.sin(2 * np.pi * 0.5 * t)) / fs)
    x[30 * fs : 36 * fs] += sweep * 10 ** ((80 - OFFSET_DB) / 20)
    pipeline = SensorPipeline(
        MeterSettings(fs, 1.0, calibration_offset_db=OFFSET_DB, calibrated=True),
        classifier,
        DetectorSettings(classifier.labels),
        datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
    )
    records = pipeline.process(x) + pipeline.flush()
    levels = [r for r in records if r["kind"] == "levels"]
    assert len(levels) == 40
    assert all("energy_shares" in r for r in levels)
    loud = [r for r in records if r["kind"] == "event" and r["laeq_db"] >= 70]
    # Frames last 1102/11025 s, not 0.1 s: with the nominal length the times would run early.
    assert "2026-11-24T08:00:29.2" <= loud[0]["start"] <= "2026-11-24T08:00:30.5"
    assert "2026-11-24T08:00:35.5" <= loud[-1]["end"] <= "2026-11-24T08:00:36.6"


def test_tuned_thresholds_in_the_model_folder_apply(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    for item in default_model_dir().iterdir():
        (model / item.name).write_bytes(item.read_bytes())
    manifest = json.loads((model / "model.json").read_text())
    labels = manifest["labels"]
    manifest["detector"] = {
        "onset_thresholds": dict.fromkeys(labels, 1.0),
        "offset_thresholds": dict.fromkeys(labels, 1.0),
    }
    (model / "model.json").write_text(json.dumps(manifest))
    path = tmp_path / "street.wav"
    sf.write(path, _street(30), FS, subtype="PCM_24")

    def labels_found(*extra: str) -> set[str]:
        out = io.StringIO()
        args = ["analyze", str(path), "--model", str(model), "--calibration-offset-db", "100"]
        assert main([*args, *extra], out=out) == 0
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        return {r["label"] for r in records if r["kind"] == "event"}

    assert labels_found() <= {"unknown"}  # no class can reach an onset threshold of 1.0
    assert labels_found("--onset-threshold", "0.5") - {"unknown"}  # the option overrides them


def test_the_models_non_event_labels_are_never_events(classifier: SoundClassifier) -> None:
    """Settings built without the model's ``ambient`` still never report it: the pipeline adds
    the manifest's non-event labels (here every class starts at a score of 0.05)."""
    assert classifier.manifest.non_event_labels == ("ambient",)
    pipeline = SensorPipeline(
        MeterSettings(FS, 1.0, calibration_offset_db=OFFSET_DB, calibrated=True),
        classifier,
        DetectorSettings(
            classifier.labels, default_onset_threshold=0.05, default_offset_threshold=0.01
        ),
        datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
    )
    x = _street(30) * 10 ** (15 / 20)  # a 50 dB street: the gate is open, beds are classified
    records = pipeline.process(x) + pipeline.flush()
    labels = {r["label"] for r in records if r["kind"] == "event"}
    assert "ambient" not in labels
    assert pipeline.gate_stats.windows_classified > 0
