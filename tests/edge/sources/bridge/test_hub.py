"""Hub helpers: address parsing and rate-limited logging."""

from __future__ import annotations

import logging

import pytest

from noisefleet_edge.sources.bridge.hub import RateLimitedLog, parse_host_port


def test_host_port_parsing() -> None:
    assert parse_host_port("udp", "0.0.0.0:5000") == ("0.0.0.0", 5000)
    assert parse_host_port("tcp", "[::1]:6000") == ("::1", 6000)
    assert parse_host_port("tcp", "gateway.local:1") == ("gateway.local", 1)


def test_rate_limited_log_holds_back_repeats(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = RateLimitedLog(10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="noisefleet_edge.sources.bridge"):
        assert log.warning("a")
        assert not log.warning("b")
        now[0] = 5.0
        assert not log.warning("c")
        now[0] = 10.0
        assert log.warning("d")
    assert [r.getMessage() for r in caplog.records] == ["a", "d (2 similar messages suppressed)"]
