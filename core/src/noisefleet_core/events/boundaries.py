"""Event boundaries from the level envelope: the classifier finds events, the levels time them.

The classifier's scores come from ~1 s windows every ~0.5 s, so a class is active from up to
half a window before its sound starts to half a window after it ends. The 0.1 s frame levels
are sharp: a sound that starts lifts the level above the bed, and one that stops lets it fall.

``snap_boundaries`` moves each boundary within ``search`` frames of where the scores put it:
1. the level step into frame i is ``L[i] - L[i - span]`` (dB; ``span`` frames smooth out the
   flicker of a single frame);
2. the onset moves into the largest rise, the offset (exclusive end) into the largest fall,
   each only when that step is at least ``min_step_db``: over a steady level there is nothing
   to snap to and the classifier's boundary stays;
3. within the chosen step the boundary goes to the frame with the largest one-frame change
   (the step frame itself for ``span`` 1);
4. a boundary that would leave the event empty keeps both boundaries where they were.
"""

from __future__ import annotations

from collections.abc import Sequence


def _steps(levels_db: Sequence[float], span: int, lo: int, hi: int) -> list[tuple[int, float]]:
    """(frame, level step into it) for frames lo..hi-1 that have a frame ``span`` before them."""
    return [(i, levels_db[i] - levels_db[i - span]) for i in range(max(lo, span), hi)]


def _sharpest(levels_db: Sequence[float], frame: int, span: int, sign: float) -> int:
    """The frame of (frame - span, frame] with the largest one-frame change of ``sign``."""
    candidates = range(max(1, frame - span + 1), frame + 1)
    return max(candidates, key=lambda j: sign * (levels_db[j] - levels_db[j - 1]))


def snap_boundaries(
    levels_db: Sequence[float],
    start: int,
    end: int,
    search: int,
    span: int = 2,
    min_step_db: float = 1.0,
    snap_start: bool = True,
    snap_end: bool = True,
) -> tuple[int, int]:
    """The event [start, end) (indices into ``levels_db``) with its boundaries on level steps.

    ``levels_db`` must hold the frames the search may look at; frames outside it are not
    considered (near the start of a stream, or beyond the newest frame).
    """
    if not 0 <= start < end <= len(levels_db):
        raise ValueError(f"event [{start}, {end}) is not inside {len(levels_db)} frames")
    if search < 0 or span < 1:
        raise ValueError("need search >= 0 frames and span >= 1 frame")
    n = len(levels_db)
    new_start, new_end = start, end
    if snap_start and search > 0:
        rises = _steps(levels_db, span, start - search, min(n, start + search + 1))
        if rises:
            frame, step = max(rises, key=lambda item: item[1])
            if step >= min_step_db:
                new_start = _sharpest(levels_db, frame, span, 1.0)
    if snap_end and search > 0:
        falls = _steps(levels_db, span, end - search, min(n, end + search + 1))
        if falls:
            frame, step = min(falls, key=lambda item: item[1])
            if -step >= min_step_db:
                new_end = _sharpest(levels_db, frame, span, -1.0)
    if new_end <= new_start:
        return start, end
    return new_start, new_end
