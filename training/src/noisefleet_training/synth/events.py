"""Ground-truth sound events of generated audio.

They are written as Audacity label tracks by ``files`` through
``noisefleet_training.datasets.audacity`` (one reader and writer of that format for the project).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SoundEvent:
    """One labelled sound: where it is audible and what it is."""

    onset_s: float
    offset_s: float
    label: str

    def __post_init__(self) -> None:
        if not 0.0 <= self.onset_s <= self.offset_s:
            raise ValueError(f"need 0 <= onset <= offset, got {self.onset_s}, {self.offset_s}")
        if any(c in self.label for c in "\t\n\r"):
            raise ValueError(f"label {self.label!r} must not contain tabs or newlines")

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s
