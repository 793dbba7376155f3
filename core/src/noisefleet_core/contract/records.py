"""Typed level and event records, decoded from a checked message (what the server stores).

``decode`` checks every record against the contract's field specs; these functions then turn the
checked JSON objects into frozen dataclasses, so no ``dict[str, Any]`` crosses into the
consumer's layers. They trust that the records were checked (``decode`` did it) and only convert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts of 10 ms L_AF samples; bin ``i`` starts at (first_bin + i) * bin_width_db."""

    bin_width_db: float
    first_bin: int
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LevelRecordIn:
    """One level record as received (units in the names, times aware UTC)."""

    start: datetime
    end: datetime
    duration_s: float
    laeq_db: float | None
    lceq_db: float | None
    lzeq_db: float | None
    lafmax_db: float | None
    lafmin_db: float | None
    lasmax_db: float | None
    lae_db: float | None
    lcpeak_db: float | None
    laf10_db: float | None
    laf50_db: float | None
    laf90_db: float | None
    histogram: Histogram
    coverage: float
    clipped_samples: int
    invalid_samples: int
    calibrated: bool
    calibration_offset_db: float | None
    sample_rate_hz: int
    energy_shares: tuple[tuple[str, float], ...]
    """(label, share of the interval's A-weighted energy); empty when not settled."""
    source: str | None = None
    channel: int | None = None


@dataclass(frozen=True, slots=True)
class RunnerUp:
    label: str
    score: float


@dataclass(frozen=True, slots=True)
class EventRecordIn:
    """One event report as received; parts of one long event share ``event_id``."""

    event_id: str
    label: str
    start: datetime
    end: datetime
    duration_s: float
    confidence_peak: float | None
    confidence_mean: float | None
    laeq_db: float
    lafmax_db: float
    lae_db: float
    runner_up: tuple[RunnerUp, ...]
    part: int
    final: bool
    source: str | None = None
    channel: int | None = None


def _number(value: Any) -> float | None:
    return value if value is None or type(value) is float else float(value)


def _time(text: str) -> datetime:
    """A checked UTC timestamp (``...Z``): ``fromisoformat`` reads it as aware UTC."""
    return datetime.fromisoformat(text)


def level_record(wire: dict[str, Any]) -> LevelRecordIn:
    """The typed form of a checked level record. This runs for every record the server takes
    in, so it is positional and trusts the check: JSON numbers are already ``int`` or
    ``float`` (an ``int`` serves where a ``float`` is declared)."""
    hist = wire["laf_histogram"]
    shares = wire.get("energy_shares")
    return LevelRecordIn(
        _time(wire["start"]),
        _time(wire["end"]),
        wire["duration_s"],
        wire["laeq_db"],
        wire["lceq_db"],
        wire["lzeq_db"],
        wire["lafmax_db"],
        wire["lafmin_db"],
        wire["lasmax_db"],
        wire["lae_db"],
        wire["lcpeak_db"],
        wire["laf10_db"],
        wire["laf50_db"],
        wire["laf90_db"],
        Histogram(hist["bin_width_db"], hist["first_bin"], tuple(hist["counts"])),
        wire["coverage"],
        wire["clipped_samples"],
        wire["invalid_samples"],
        wire["calibrated"],
        wire["calibration_offset_db"],
        wire["sample_rate_hz"],
        tuple(shares.items()) if shares else (),
        wire.get("source"),
        wire.get("channel"),
    )


def event_record(wire: dict[str, Any]) -> EventRecordIn:
    """The typed form of a checked event record."""
    return EventRecordIn(
        event_id=wire["event_id"],
        label=wire["label"],
        start=_time(wire["start"]),
        end=_time(wire["end"]),
        duration_s=float(wire["duration_s"]),
        confidence_peak=_number(wire["confidence_peak"]),
        confidence_mean=_number(wire["confidence_mean"]),
        laeq_db=float(wire["laeq_db"]),
        lafmax_db=float(wire["lafmax_db"]),
        lae_db=float(wire["lae_db"]),
        runner_up=tuple(RunnerUp(r["label"], float(r["score"])) for r in wire["runner_up"]),
        part=int(wire["part"]),
        final=bool(wire["final"]),
        source=wire.get("source"),
        channel=wire.get("channel"),
    )
