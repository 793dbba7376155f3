"""When a live stream's time is corrected against the system clock (``stream_clock``)."""

from __future__ import annotations

from noisefleet_edge.agent.stream_clock import Correction, StreamClock

BLOCK_S = 0.1


def feed(clock: StreamClock, arrivals: list[float]) -> list[Correction]:
    """Blocks of ``BLOCK_S`` back to back, arriving at ``arrivals``; corrections applied to the
    stream time as the runner applies them."""
    found = []
    shift = 0.0
    for k, arrival in enumerate(arrivals):
        end = (k + 1) * BLOCK_S + shift
        correction = clock.observe(arrival, end)
        if correction is not None:
            found.append(correction)
            shift += correction.gap_s - correction.drop_s
            if correction.restart:
                shift = arrival - (k + 1) * BLOCK_S
    return found


def on_time(n: int, offset: float = 0.0) -> list[float]:
    return [(k + 1) * BLOCK_S + offset for k in range(n)]


def test_a_burst_after_a_stall_is_no_reason_to_correct() -> None:
    # Stalled for 10 s at 5 s: the blocks of those 10 s arrive at once, then on time again.
    held = on_time(50) + [15.0] * 100 + on_time(300)[150:]
    assert feed(StreamClock(), held) == []


def test_a_lasting_lag_is_a_gap_once_and_a_huge_one_a_restart() -> None:
    lagging = on_time(50) + on_time(150, offset=2.0)[50:]  # 2 s lost for good at 5 s
    corrections = feed(StreamClock(), lagging)
    assert len(corrections) == 1
    assert 1.99 < corrections[0].gap_s < 2.1
    assert feed(StreamClock(), on_time(50) + on_time(200, offset=3600.0)[50:]) == [
        Correction(restart=True)
    ]


def test_a_stream_ahead_of_the_clock_drops_the_lead_at_once() -> None:
    corrections = feed(StreamClock(), on_time(50) + on_time(100, offset=-1.5)[50:])
    assert len(corrections) == 1
    assert abs(corrections[0].drop_s - 1.5) < 1e-9
