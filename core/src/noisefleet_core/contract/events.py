"""The event record on the wire: one sound event summary, never audio.

``event_to_wire`` is the one place that turns a detector's event into this form (the edge's
pipeline, the live meter and ``analyze`` all call it); ``wire_specs`` validates it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from noisefleet_core.contract.levels import format_timestamp

if TYPE_CHECKING:  # the contract is a leaf: no detector at run time
    from noisefleet_core.events.detector import DetectedEvent

EVENT_KIND = "event"
DECIMALS = 4


def event_to_wire(
    event: DetectedEvent, stream_start: datetime, source: str | None, channel: int | None
) -> dict[str, Any]:
    """The JSON object of one event report (no audio, ever)."""
    wire: dict[str, Any] = {
        "kind": EVENT_KIND,
        "event_id": event.event_id,
        "label": event.label,
        "start": format_timestamp(stream_start + timedelta(seconds=event.start_s)),
        "end": format_timestamp(stream_start + timedelta(seconds=event.end_s)),
        "duration_s": round(event.duration_s, 3),
        "confidence_peak": None
        if event.confidence_peak is None
        else round(event.confidence_peak, DECIMALS),
        "confidence_mean": None
        if event.confidence_mean is None
        else round(event.confidence_mean, DECIMALS),
        "laeq_db": round(event.laeq_db, 2),
        "lafmax_db": round(event.lafmax_db, 2),
        "lae_db": round(event.lae_db, 2),
        "runner_up": [{"label": k, "score": round(v, DECIMALS)} for k, v in event.runner_up],
        "part": event.part,
        "final": event.final,
    }
    if source is not None:
        wire["source"] = source
    if channel is not None:
        wire["channel"] = channel
    return wire
