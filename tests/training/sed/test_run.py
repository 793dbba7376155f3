"""The pipeline over a recording: events in seconds, and the detector replayed from its frames."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from noisefleet_core.events import DetectorSettings
from noisefleet_edge.classifier import SoundClassifier
from noisefleet_training.sed.metrics import Event
from noisefleet_training.sed.run import (
    STREAM_START,
    detect_file,
    events_from_wire,
    replay_events,
    run_pipeline,
)


def test_replaying_recorded_frames_gives_the_pipeline_events(
    soundscapes: Path, classifier: SoundClassifier
) -> None:
    # The settings the pipeline runs with: the model's non-event labels (``ambient``) included,
    # which the pipeline adds itself and a replay needs to be told.
    settings = DetectorSettings(
        classifier.labels, non_event_labels=classifier.manifest.non_event_labels
    )
    wav = soundscapes / "soundscape_000.wav"
    run = run_pipeline(wav, classifier, settings, 90.0)
    assert run.events, "the soundscape's events must give detections"
    assert replay_events(run.frames, settings) == list(run.events)
    assert 0.0 <= run.gate_saved_fraction < 1.0
    events, saved = detect_file(wav, classifier, settings, 90.0)
    assert events == [tuple(e) for e in run.events]
    assert saved == run.gate_saved_fraction

    # Other thresholds replay without the model; higher thresholds cover a subset of the time.
    def class_time(onset: float) -> float:
        trial = replace(
            settings, default_onset_threshold=onset, default_offset_threshold=0.6 * onset
        )
        events = replay_events(run.frames, trial)
        return sum(e.offset_s - e.onset_s for e in events if e.label != "unknown")

    assert class_time(0.9) <= class_time(0.5) <= class_time(0.3)


def test_wire_events_become_seconds_with_parts_joined() -> None:
    start = STREAM_START.isoformat().replace("+00:00", "")
    records = [
        {"kind": "levels"},
        {"kind": "event", "event_id": "x", "label": "siren",
         "start": f"{start[:-2]}02.5Z", "end": f"{start[:-2]}04.000Z"},
        {"kind": "event", "event_id": "x", "label": "siren",
         "start": f"{start[:-2]}04.000Z", "end": f"{start[:-2]}07.250Z"},
        {"kind": "event", "event_id": "y", "label": "unknown",
         "start": f"{start[:-2]}00.000Z", "end": f"{start[:-2]}01.000Z"},
    ]  # fmt: skip
    assert events_from_wire(records) == [
        Event(0.0, 1.0, "unknown"),
        Event(2.5, 7.25, "siren"),
    ]
