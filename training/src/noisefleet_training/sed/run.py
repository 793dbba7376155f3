"""The edge's sensor pipeline over a recording: detected events in seconds, and replayable frames.

Steps of ``run_pipeline``:
1. read the recording (first channel) and feed it, in 1 s blocks, to ``SensorPipeline`` with the
   given calibration offset, so the level gate (dB SPL) and ``unknown`` level behave as on a
   calibrated sensor;
2. keep the event records, turn their RFC 3339 start/end back into seconds from the stream start
   and join the parts of long events (same ``event_id``);
3. record every frame (levels + class scores) handed to the detector: the scores do not depend on
   the detector's thresholds (the gate decides on level alone), so ``replay_events`` can run
   the pure ``EventDetector`` at other thresholds without running the int8 model again.

``unknown`` events (loud, no class active) are returned like the others: the metrics leave them
out of the class scores (no reference event has that label) but count them in the label-agnostic
scores, where a loud unexplained sound is a detection like any other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from noisefleet_core.acoustics.meter import MeterSettings
from noisefleet_core.contract.events import EVENT_KIND
from noisefleet_core.events import DetectorSettings, EventDetector, Frame
from noisefleet_edge.audio_files import AudioInputError, open_recording, read_channel
from noisefleet_edge.classifier import SoundClassifier
from noisefleet_edge.detection import SensorPipeline
from noisefleet_training.datasets.base import DatasetError
from noisefleet_training.sed.metrics import Event

STREAM_START = datetime(2000, 1, 1, tzinfo=UTC)
"""Any fixed epoch: events are converted back to seconds from it."""
BLOCK_S = 1.0
SYNTHETIC_CALIBRATION_OFFSET_DB = 90.0
"""dB SPL = dBFS + this, for the synthetic soundscapes. Their A-weighted 0.1 s frames measure
(dBFS, 5th/50th/95th percentile over 8 soundscapes, train and held-out presets): bed -61/-40/-30,
quiet stretches -87/-64/-55, events -48/-30/-14. With 90 dB the bed reads about 50 dB (95 %
below 60, a daytime side street), the quiet stretches below the 45 dB gate, the events around
60 dB; with 100 dB a quarter of the bed frames would be over the 65 dB ``unknown`` level."""


@dataclass(frozen=True)
class PipelineRun:
    events: tuple[Event, ...]
    """Detected events in seconds from the recording's start, ``unknown`` included."""
    frames: tuple[Frame, ...]
    """The frames the detector saw, for ``replay_events``."""
    windows_total: int
    windows_classified: int

    @property
    def gate_saved_fraction(self) -> float:
        """Share of analysis windows the level gate spared the classifier."""
        if self.windows_total == 0:
            return 0.0
        return 1.0 - self.windows_classified / self.windows_total


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """The first channel of a recording as float64, and its sample rate (the edge's reader)."""
    try:
        recording = open_recording(path)
        return read_channel(recording, 0), recording.sample_rate_hz
    except AudioInputError as error:
        raise DatasetError(str(error)) from error


def _seconds(stamp: str) -> float:
    return round((datetime.fromisoformat(stamp) - STREAM_START).total_seconds(), 6)


def events_from_wire(records: Iterable[dict[str, Any]]) -> list[Event]:
    """Event records (parts joined by event id) as events in seconds, in onset order."""
    spans: dict[str, list[Any]] = {}
    for record in records:
        if record.get("kind") != EVENT_KIND:
            continue
        start, end = _seconds(record["start"]), _seconds(record["end"])
        span = spans.setdefault(record["event_id"], [start, end, record["label"]])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    return sorted(Event(s, e, label) for s, e, label in spans.values())


def run_pipeline(
    audio_path: str | os.PathLike[str],
    classifier: SoundClassifier,
    detector_settings: DetectorSettings,
    calibration_offset_db: float,
) -> PipelineRun:
    """Run the sensor pipeline over one recording (see the module docstring)."""
    x, fs = read_audio(Path(audio_path))
    counter = iter(range(1, 1 << 62))
    frames: list[Frame] = []
    pipeline = SensorPipeline(
        MeterSettings(fs, 1.0, calibration_offset_db=calibration_offset_db, calibrated=True),
        classifier,
        detector_settings,
        STREAM_START,
        id_factory=lambda: f"event-{next(counter)}",
        on_frame=frames.append,
    )
    records: list[dict[str, Any]] = []
    block = max(1, round(BLOCK_S * fs))
    for start in range(0, x.size, block):
        records.extend(pipeline.process(x[start : start + block]))
    records.extend(pipeline.flush())
    stats = pipeline.gate_stats
    return PipelineRun(
        tuple(events_from_wire(records)),
        tuple(frames),
        stats.windows_total,
        stats.windows_classified,
    )


def detect_file(
    wav_path: str | os.PathLike[str],
    classifier: SoundClassifier,
    detector_settings: DetectorSettings,
    calibration_offset_db: float,
) -> tuple[list[tuple[float, float, str]], float]:
    """The events ``(onset_s, offset_s, label)`` of one recording (``unknown`` included) and the
    share of analysis windows the level gate saved."""
    run = run_pipeline(wav_path, classifier, detector_settings, calibration_offset_db)
    return [(e.onset_s, e.offset_s, e.label) for e in run.events], run.gate_saved_fraction


def replay_events(frames: Sequence[Frame], settings: DetectorSettings) -> list[Event]:
    """The events the detector reports for recorded ``frames`` under other ``settings`` (same
    labels and frame length), parts of long events joined."""
    detector = EventDetector(settings, record_frames=False)
    detected = detector.push_many(frames)
    detected.extend(detector.flush())
    spans: dict[str, list[Any]] = {}
    for event in detected:
        span = spans.setdefault(event.event_id, [event.start_s, event.end_s, event.label])
        span[0], span[1] = min(span[0], event.start_s), max(span[1], event.end_s)
    return sorted(Event(s, e, label) for s, e, label in spans.values())
