"""Soundscapes: events inside the audio, valid and apart, quiet stretches quiet, labels on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_training.datasets.audacity import read_label_track
from noisefleet_training.synth.events import SoundEvent
from noisefleet_training.synth.files import generate_soundscapes, write_soundscape
from noisefleet_training.synth.settings import CLASSES, HELDOUT_SETTINGS, TRAIN_SETTINGS, Span
from noisefleet_training.synth.soundscape import MIN_GAP_S, generate_soundscape

FS = 16000


def _rms_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio**2)))


@pytest.fixture(scope="module")
def scape():
    return generate_soundscape(
        np.random.default_rng(3), TRAIN_SETTINGS, 60.0, FS, event_density_per_min=10.0
    )


def test_events_lie_within_the_audio_in_order_and_apart(scape) -> None:
    assert scape.audio.shape == (60 * FS,)
    assert np.all(np.isfinite(scape.audio))
    assert np.max(np.abs(scape.audio)) <= 0.98
    assert len(scape.events) >= 3
    for event in scape.events:
        assert 0.0 <= event.onset_s < event.offset_s <= 60.0
        assert event.label in CLASSES
    for before, after in zip(scape.events, scape.events[1:], strict=False):
        assert after.onset_s >= before.offset_s + MIN_GAP_S - 1e-9


def test_quiet_stretches_are_quiet_and_free_of_events(scape) -> None:
    assert scape.quiet_spans
    for start, end in scape.quiet_spans:
        for event in scape.events:
            assert event.offset_s <= start - 1.0 or event.onset_s >= end + 1.0
    quiet = np.concatenate(
        [scape.audio[round(s * FS) : round(e * FS)] for s, e in scape.quiet_spans]
    )
    assert _rms_db(quiet) < _rms_db(scape.audio) - 15
    assert _rms_db(quiet) < -50


def test_events_stand_out_of_the_bed(scape) -> None:
    louder = 0
    for event in scape.events:
        inside = scape.audio[round(event.onset_s * FS) : round(event.offset_s * FS)]
        before = scape.audio[max(0, round((event.onset_s - 0.5) * FS)) : round(event.onset_s * FS)]
        louder += _rms_db(inside) > _rms_db(before) + 1.0
    assert louder >= 0.7 * len(scape.events)


def test_soundscapes_are_deterministic() -> None:
    a = generate_soundscape(np.random.default_rng(9), HELDOUT_SETTINGS, 12.0, FS, 12.0)
    b = generate_soundscape(np.random.default_rng(9), HELDOUT_SETTINGS, 12.0, FS, 12.0)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.events == b.events
    assert a.quiet_spans == b.quiet_spans


def test_snr_and_labels_can_be_chosen() -> None:
    scape = generate_soundscape(
        np.random.default_rng(1),
        TRAIN_SETTINGS,
        30.0,
        FS,
        event_density_per_min=20.0,
        snr_db=Span.of(25.0, 30.0),
        quiet_fraction=0.0,
        labels=("siren", "dog_bark"),
    )
    assert not scape.quiet_spans
    assert {e.label for e in scape.events} <= {"siren", "dog_bark"}
    for event in scape.events:
        inside = scape.audio[round(event.onset_s * FS) : round(event.offset_s * FS)]
        assert _rms_db(inside) > _rms_db(scape.audio[: FS // 10]) + 10 or event.onset_s < 0.2


def test_no_events_when_density_is_zero() -> None:
    scape = generate_soundscape(np.random.default_rng(0), TRAIN_SETTINGS, 5.0, FS, 0.0)
    assert scape.events == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration_s": 0.0}, "duration"),
        ({"event_density_per_min": -1.0}, "density"),
        ({"labels": ("lawnmower",)}, "lawnmower"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message: str) -> None:
    arguments = {"duration_s": 5.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_soundscape(np.random.default_rng(0), TRAIN_SETTINGS, fs=FS, **arguments)


def test_written_soundscape_round_trips(scape, tmp_path: Path) -> None:
    wav, txt = tmp_path / "street.wav", tmp_path / "street.txt"
    write_soundscape(wav, txt, scape.audio, scape.events, FS)
    audio, fs = sf.read(wav)
    assert fs == FS
    assert audio.shape == scape.audio.shape
    assert np.max(np.abs(audio - scape.audio)) < 1e-4
    lines = txt.read_text().splitlines()
    assert len(lines) == len(scape.events)
    assert all(len(line.split("\t")) == 3 for line in lines)
    parsed = [SoundEvent(*e) for e in read_label_track(txt)]
    assert [e.label for e in parsed] == [e.label for e in scape.events]
    for got, want in zip(parsed, scape.events, strict=True):
        assert got.onset_s == pytest.approx(want.onset_s, abs=1e-6)
        assert got.offset_s == pytest.approx(want.offset_s, abs=1e-6)


def test_generate_soundscapes_writes_audio_and_both_label_tracks(tmp_path: Path) -> None:
    paths = generate_soundscapes(tmp_path, HELDOUT_SETTINGS, 2, seed=4, duration_s=20.0)
    assert [p.name for p in paths] == ["soundscape_000.wav", "soundscape_001.wav"]
    for path in paths:
        assert sf.info(path).frames == 20 * FS
        read_label_track(path.with_suffix(".txt"))
        quiet = read_label_track(tmp_path / f"{path.stem}.quiet.txt")
        assert all(e.label == "quiet" for e in quiet)
