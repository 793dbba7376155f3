"""Whether a sensor measures (``sensor_health.source_problem``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from noisefleet_edge.agent.sensor_health import NO_AUDIO_S, SourceActivity, source_problem

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LIVE = SourceActivity(T0, None, None, None, live=True, finished=False)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_live_source_without_audio_is_a_problem_after_a_while() -> None:
    assert source_problem(LIVE, at(NO_AUDIO_S - 1)) is None
    assert source_problem(LIVE, at(NO_AUDIO_S)) == "no audio from the source for 10 s"
    flowing = replace(LIVE, last_audio_at=at(100))
    assert source_problem(flowing, at(101)) is None
    assert source_problem(replace(flowing, source_note="no frames"), at(115)) == (
        "no audio from the source for 15 s: no frames"
    )


def test_a_failure_lasts_until_audio_follows_it() -> None:
    failed = replace(LIVE, last_failure="device gone", failed_at=at(5), last_audio_at=at(4))
    assert source_problem(failed, at(6)) == "device gone"
    assert source_problem(replace(failed, last_audio_at=at(7)), at(8)) is None
    file_failed = replace(failed, live=False)
    assert source_problem(file_failed, at(6)) == "device gone"


def test_a_file_that_waits_or_has_ended_is_no_problem() -> None:
    assert source_problem(replace(LIVE, live=False), at(1000)) is None
    ended = replace(LIVE, finished=True, last_failure="x", failed_at=at(1))
    assert source_problem(ended, at(1000)) is None
