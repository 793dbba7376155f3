"""Frame sequences for the event detector's tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from noisefleet_core.events import DetectedEvent, DetectorSettings, EventDetector, Frame


def make_frames(
    scores: Sequence[Sequence[float] | None],
    levels_db: Sequence[float] | float = 60.0,
    lafmax_db: Sequence[float] | None = None,
    first_index: int = 0,
) -> list[Frame]:
    """Frames with the given per-frame scores (None: not classified) and levels."""
    n = len(scores)
    levels = [float(levels_db)] * n if isinstance(levels_db, int | float) else list(levels_db)
    maxima = list(lafmax_db) if lafmax_db is not None else [value + 3.0 for value in levels]
    return [
        Frame(
            first_index + i,
            levels[i],
            maxima[i],
            None if scores[i] is None else np.asarray(scores[i], dtype=np.float64),
        )
        for i in range(n)
    ]


def one_class(values: Sequence[float | None]) -> list[list[float] | None]:
    """Score vectors of a one-class model."""
    return [None if value is None else [value] for value in values]


def detect(settings: DetectorSettings, frames: Sequence[Frame]) -> list[DetectedEvent]:
    """Push every frame, then flush; all events in report order."""
    detector = EventDetector(settings)
    return detector.push_many(frames) + detector.flush()
