"""Events and alerts added to the seeded fleet (``seed``) by direct inserts into the store.

- tower/roof: ``siren`` at t0+1 min (confidence 0.90), t0+2 min (0.50), t0+20 min (0.95);
  ``dog_bark`` at t0+5 min and t0+25 min (0.80); each 10 s long;
- depot/gate: ``siren`` at t0+3 min (0.90);
- a resolved, late alert of rule ``quiet`` at depot/gate (beside the seed's firing ``loud``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

EVENTS = [
    ("tower", "roof", "siren", 1, 0.90),
    ("tower", "roof", "siren", 2, 0.50),
    ("tower", "roof", "siren", 20, 0.95),
    ("tower", "roof", "dog_bark", 5, 0.80),
    ("tower", "roof", "dog_bark", 25, 0.80),
    ("depot", "gate", "siren", 3, 0.90),
]


def seed_events(url: str, t0: datetime) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for index, (site, sensor, label, minute, confidence) in enumerate(EVENTS):
            start = t0 + timedelta(minutes=minute)
            conn.execute(
                "INSERT INTO noisefleet_store.events (event_id, sensor_id, label, start, \"end\","
                " laeq_db, lafmax_db, lae_db, confidence_peak, confidence_mean, runner_up, part,"
                " final, phase, rank) SELECT %s, sensor_id, %s, %s, %s, 72.0, 75.0, 82.0, %s,"
                " %s, '[]', 1, true, 'end', 1 FROM noisefleet_store.sensors"
                " WHERE site = %s AND sensor = %s",
                (f"ev{index}", label, start, start + timedelta(seconds=10), confidence,
                 confidence, site, sensor),
            )  # fmt: skip
        conn.execute(
            "INSERT INTO noisefleet_store.alerts (rule_id, sensor_id, state, kind, severity,"
            " pending_since, fired_at, resolved_at, late, message) SELECT 'quiet', sensor_id,"
            " 'resolved', 'level', 'warning', %s, %s, %s, true, 'LAeq above 65 dB'"
            " FROM noisefleet_store.sensors WHERE site = 'depot' AND sensor = 'gate'",
            (t0 + timedelta(minutes=1), t0 + timedelta(minutes=2), t0 + timedelta(minutes=9)),
        )


DRAFT = """
[[rules]]
id = "draft-loud"
kind = "level"
metric = "laeq"
window_s = 60
limit_db = 55.0
"""
"""Fires once on tower/roof (60 dB from t0+15 min) and once on depot/gate (70 dB)."""
