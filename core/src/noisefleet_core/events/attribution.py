"""What caused the noise: shares of A-weighted energy per label over a level interval.

Steps of ``attribute_energy``:
1. every frame's energy is 10^(LAeq/10) (frames have equal length, so no duration weight);
2. a frame covered by reported events gives its energy in equal parts to their labels (a class
   or ``unknown``); a frame covered by none gives it to ``background``;
3. each label's energy is divided by the total, so the shares sum to 1.

The frames' labels come from the detector's decisions (``EventDetector.pop_decided_frames``): a
frame belongs to an event from its first to its last active frame, gaps included, so the
shares agree with the reported events. ``EnergyAttribution`` collects the settled frames of a
stream and answers for any interval [start_frame, end_frame) once all its frames are settled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Sequence

from noisefleet_core.acoustics.combine import energy
from noisefleet_core.events.detector import DecidedFrame
from noisefleet_core.events.settings import BACKGROUND_LABEL


def attribute_energy(
    frame_levels_db: Sequence[float], frame_labels: Sequence[Collection[str]]
) -> dict[str, float]:
    """Share of the frames' total A-weighted energy per label and ``background``.

    The result holds every label that covers a frame, in sorted order, then ``background``
    (always present, possibly 0). An empty interval has no energy to share: ValueError.
    """
    if len(frame_levels_db) != len(frame_labels):
        raise ValueError(
            f"need one label set per frame: {len(frame_levels_db)} levels, "
            f"{len(frame_labels)} label sets"
        )
    if not frame_levels_db:
        raise ValueError("an interval without frames has no energy to attribute")
    totals: dict[str, float] = {}
    for level_db, labels in zip(frame_levels_db, frame_labels, strict=True):
        frame_energy = energy(level_db)
        owners = sorted(set(labels)) or [BACKGROUND_LABEL]
        for owner in owners:
            totals[owner] = totals.get(owner, 0.0) + frame_energy / len(owners)
    total = sum(totals.values())
    shares = {
        label: (totals[label] / total if total > 0 else 0.0)
        for label in sorted(totals)
        if label != BACKGROUND_LABEL
    }
    if total > 0:
        shares[BACKGROUND_LABEL] = totals.get(BACKGROUND_LABEL, 0.0) / total
    else:  # only when every level underflows: all of it is background by convention
        shares[BACKGROUND_LABEL] = 1.0
    return shares


class EnergyAttribution:
    """Settled frames of one stream, and the energy shares of level intervals over them."""

    def __init__(self) -> None:
        self._frames: deque[DecidedFrame] = deque()

    def add(self, frames: Iterable[DecidedFrame]) -> None:
        """Append settled frames; their indices must continue the ones already held."""
        for frame in frames:
            if self._frames and frame.index != self._frames[-1].index + 1:
                raise ValueError(
                    f"frames must be consecutive: expected frame {self._frames[-1].index + 1}, "
                    f"got {frame.index}"
                )
            self._frames.append(frame)

    @property
    def settled_until(self) -> int | None:
        """One past the last settled frame held, or None when nothing is held."""
        return self._frames[-1].index + 1 if self._frames else None

    def shares(self, start_frame: int, end_frame: int) -> dict[str, float]:
        """Energy shares over [start_frame, end_frame); every frame must be held."""
        if end_frame <= start_frame:
            raise ValueError(f"empty interval [{start_frame}, {end_frame})")
        if not self._frames:
            raise ValueError("no settled frames held")
        first = self._frames[0].index
        if start_frame < first or end_frame > first + len(self._frames):
            raise ValueError(
                f"frames [{start_frame}, {end_frame}) are not all settled and held "
                f"(held: [{first}, {first + len(self._frames)}))"
            )
        chosen = [self._frames[i - first] for i in range(start_frame, end_frame)]
        return attribute_energy([f.laeq_db for f in chosen], [f.labels for f in chosen])

    def discard_before(self, frame_index: int) -> None:
        """Forget frames before this index (intervals already attributed)."""
        while self._frames and self._frames[0].index < frame_index:
            self._frames.popleft()
