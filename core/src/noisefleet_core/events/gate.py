"""The level gate: the classifier runs only while the A-weighted level says something is there.

Steps of ``LevelGate.update`` for each frame's LAeq:
1. at or above ``gate_level_db`` the gate is open and the hold timer restarts;
2. below it, the gate stays open while the hold (``gate_hold_s`` in whole frames) lasts, so the
   quiet tail of an event is still classified and its offset found;
3. otherwise the gate is closed: no inference runs and the frame counts as quiet (the detector
   gets ``scores=None`` for it);
4. the frame is counted as classified or gated, so the share of inference the gate saves can be
   reported.

A level that is not a number (NaN) never opens the gate.
"""

from __future__ import annotations

from noisefleet_core.events.settings import DetectorSettings


def gate_open(laeq_db: float, settings: DetectorSettings) -> bool:
    """Whether a frame's level alone opens the gate (no hold): ``laeq_db >= gate_level_db``."""
    return laeq_db >= settings.gate_level_db


class LevelGate:
    """The gate's state machine: level threshold plus a hold time after the level drops."""

    def __init__(self, settings: DetectorSettings) -> None:
        self._settings = settings
        self._hold_frames = settings.frames(settings.gate_hold_s)
        self._hold_left = 0
        self.frames_classified = 0
        """Frames for which the gate was open (the classifier ran)."""
        self.frames_gated = 0
        """Frames for which the gate was closed (inference saved)."""

    def update(self, frame_laeq_db: float) -> bool:
        """Whether the classifier should run for this frame; counts the decision."""
        if gate_open(frame_laeq_db, self._settings):
            self._hold_left = self._hold_frames
            is_open = True
        elif self._hold_left > 0:
            self._hold_left -= 1
            is_open = True
        else:
            is_open = False
        if is_open:
            self.frames_classified += 1
        else:
            self.frames_gated += 1
        return is_open

    @property
    def frames_total(self) -> int:
        """Frames seen by the gate."""
        return self.frames_classified + self.frames_gated

    @property
    def gated_fraction(self) -> float:
        """Share of frames for which inference was saved (0 before any frame)."""
        total = self.frames_total
        return self.frames_gated / total if total else 0.0
