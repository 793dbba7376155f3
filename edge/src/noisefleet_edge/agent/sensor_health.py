"""Whether a sensor measures, said honestly: a pure function of what its runner and its source
counted, so the heartbeat (and the server's alerts) see a dead source.

``source_problem`` says why a sensor does not measure now, or None:
1. a sensor whose source has ended (a file played without ``loop``) has no problem;
2. a source failure (the file is not audio, the device vanished, the port is taken) that no
   audio has followed since is the problem, as the failure said it;
3. a live source (microphone, MCU bridge) that delivered no audio for ``NO_AUDIO_S`` (since
   its last block, or since the sensor started) is a problem, with the source's own last note
   (e.g. "MCU 7 sent 22050 Hz audio; the source expects 48000 Hz") when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

NO_AUDIO_S = 10.0
"""A live source silent this long is reported (a bridge notes a stall after 2 s)."""


@dataclass(frozen=True)
class SourceActivity:
    """What the agent saw of one sensor's source."""

    started_at: datetime
    """When the sensor (its current run) started."""
    last_audio_at: datetime | None
    """When the source last delivered a block; None: never."""
    last_failure: str | None
    """The last source failure (one line); None: none."""
    failed_at: datetime | None
    """When it happened."""
    live: bool
    """Whether the source runs on its own clock (a file does not: it waits for the pipeline)."""
    finished: bool
    """Whether the source has ended for good."""
    source_note: str | None = None
    """The source's own last note (``SourceStats.last_error``)."""


def source_problem(activity: SourceActivity, now: datetime) -> str | None:
    """Why the sensor does not measure now (one line), or None while it does."""
    if activity.finished:
        return None
    last_audio = activity.last_audio_at
    failed_at = activity.failed_at
    if (
        activity.last_failure is not None
        and failed_at is not None
        and (last_audio is None or last_audio <= failed_at)
    ):
        return activity.last_failure
    if not activity.live:
        return None
    silent_s = (now - (last_audio or activity.started_at)).total_seconds()
    if silent_s < NO_AUDIO_S:
        return None
    note = f": {activity.source_note}" if activity.source_note else ""
    return f"no audio from the source for {silent_s:.0f} s{note}"
