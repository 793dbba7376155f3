"""The level record on the wire (JSON lines today, MQTT payloads later).

Field names carry their units (``laeq_db``, ``duration_s``); times are RFC 3339 in UTC with
millisecond precision. ``level_record_to_wire`` is the one place that turns a meter record into
this form, so the names cannot drift between the CLI, the agent and the server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the contract is a leaf: no DSP (scipy) at run time
    from noisefleet_core.acoustics.meter import LevelRecord

LEVEL_KIND = "levels"
DECIMALS_DB = 2

# The level fields in wire order; CSV and table outputs use the same order.
LEVEL_FIELDS = (
    "laeq_db",
    "lceq_db",
    "lzeq_db",
    "lafmax_db",
    "lafmin_db",
    "lasmax_db",
    "lae_db",
    "lcpeak_db",
    "laf10_db",
    "laf50_db",
    "laf90_db",
)


class TimestampError(ValueError):
    """A timestamp is not an RFC 3339 date-time with a time zone."""


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2026-11-24T09:14:03.250Z``."""
    if moment.tzinfo is None:
        raise TimestampError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 date-time; a missing time zone is an error, not a guess."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError as error:
        raise TimestampError(
            f"{text!r} is not an RFC 3339 date-time (e.g. 2026-11-24T09:00:00Z)"
        ) from error
    if moment.tzinfo is None:
        raise TimestampError(f"{text!r} has no time zone; add Z or an offset such as +01:00")
    return moment.astimezone(UTC)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DECIMALS_DB)


def level_record_to_wire(
    record: LevelRecord,
    stream_start: datetime,
    source: str | None = None,
    channel: int | None = None,
) -> dict[str, Any]:
    """The JSON object for one level record; ``stream_start`` is the time of sample 0."""
    start = stream_start + timedelta(seconds=record.start_sample / record.sample_rate_hz)
    end = stream_start + timedelta(seconds=record.end_sample / record.sample_rate_hz)
    wire: dict[str, Any] = {
        "kind": LEVEL_KIND,
        "start": format_timestamp(start),
        "end": format_timestamp(end),
        "duration_s": round(record.duration_s, 6),
    }
    for name in LEVEL_FIELDS:
        wire[name] = _round(getattr(record, name))
    wire["laf_histogram"] = record.laf_histogram.to_wire()
    wire["coverage"] = round(record.coverage, 6)
    wire["clipped_samples"] = record.clipped_samples
    wire["invalid_samples"] = record.invalid_samples
    wire["calibrated"] = record.calibrated
    wire["calibration_offset_db"] = _round(record.calibration_offset_db)
    wire["sample_rate_hz"] = record.sample_rate_hz
    if source is not None:
        wire["source"] = source
    if channel is not None:
        wire["channel"] = channel
    return wire
