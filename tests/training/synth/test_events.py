"""Ground-truth events of the generator: validated on creation."""

from __future__ import annotations

import pytest

from noisefleet_training.synth.events import SoundEvent


def test_events_refuse_inverted_times_and_tabs() -> None:
    with pytest.raises(ValueError, match="onset"):
        SoundEvent(2.0, 1.0, "x")
    with pytest.raises(ValueError, match="tabs"):
        SoundEvent(0.0, 1.0, "a\tb")


def test_duration() -> None:
    assert SoundEvent(1.5, 4.0, "siren").duration_s == pytest.approx(2.5)
