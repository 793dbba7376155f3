"""The seeded fleet (``seed``) on a Friday night: tower's 30 min of levels from 23:10 Berlin
time (15 min at 50 dB, 15 at 60: 57.4 dB), its alert at 23:30, and one music event at 23:41."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.dashboard.seed import Fleet, seed_fleet
from tests.server.alert_harness import ingest
from tests.server.helpers import event_record, events_payload

NIGHT_T0 = datetime(2026, 11, 27, 22, 10, tzinfo=UTC)  # 23:10 in Berlin
EVENT_START = NIGHT_T0 + timedelta(minutes=31)


def seed_night(url: str) -> Fleet:
    fleet = seed_fleet(url, NIGHT_T0)
    event = event_record("3f1c2b9e-0000-4000-8000-000000000001", "music", EVENT_START, 20.0)
    ingest(url, [events_payload("tower", "roof", 40, [event], sent_at=EVENT_START)])
    return fleet
