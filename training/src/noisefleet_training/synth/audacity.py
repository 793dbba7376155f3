"""Audacity label tracks: the annotation format the project uses for event ground truth.

One line per label, ``start<TAB>end<TAB>label``, times in seconds (written with six decimals).
Audacity may add a line starting with a backslash under a label for its frequency range; the
parser skips those. Pure text in, text out: the file handling is in ``files``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class LabelFormatError(ValueError):
    """A label track line could not be parsed; the message names the line."""


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


def format_labels(events: Iterable[SoundEvent]) -> str:
    """The label track text, one ``start\\tend\\tlabel`` line per event, in the given order."""
    return "".join(f"{e.onset_s:.6f}\t{e.offset_s:.6f}\t{e.label}\n" for e in events)


def parse_labels(text: str) -> list[SoundEvent]:
    """Events from label track text (blank lines and frequency-range lines are skipped)."""
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("\\"):
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise LabelFormatError(f"line {number}: expected start<TAB>end<TAB>label: {line!r}")
        try:
            start, end = float(parts[0]), float(parts[1])
            events.append(SoundEvent(start, end, parts[2] if len(parts) > 2 else ""))
        except ValueError as error:
            raise LabelFormatError(f"line {number}: {error}") from None
    return events
