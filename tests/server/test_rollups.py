"""Roll-ups and Lden from real ingest, checked against independent recomputations."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from tests.server.conftest import ServerProcess
from tests.server.helpers import Publisher, level_record, levels_payload, wait_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _random_record(rng: random.Random, start: datetime) -> dict[str, Any]:
    level = rng.uniform(40, 80)
    first = int(level * 10) - rng.randint(0, 30)
    counts = [rng.randint(0, 9) for _ in range(rng.randint(5, 60))]
    counts[0] = max(counts[0], 1)
    shares = {"background": 0.5, rng.choice(["siren", "dog_bark"]): 0.5}
    coverage = rng.choice([1.0, 1.0, 1.0, 0.5])
    return level_record(
        start, round(level, 2), histogram=(first, counts), shares=shares, coverage=coverage
    )


def _energy_mean(records: list[dict[str, Any]]) -> float:
    energy = sum(10 ** (r["laeq_db"] / 10) * r["duration_s"] * r["coverage"] for r in records)
    seconds = sum(r["duration_s"] * r["coverage"] for r in records)
    return 10 * math.log10(energy / seconds)


def _independent_percentile(records: list[dict[str, Any]], exceeded: float) -> float:
    """Expand the merged histogram into samples at bin centres; numpy's percentile."""
    samples = []
    for r in records:
        h = r["laf_histogram"]
        for i, c in enumerate(h["counts"]):
            samples += [(h["first_bin"] + i + 0.5) * h["bin_width_db"]] * c
    return float(np.percentile(np.array(samples), 100 - exceeded))


def _publish_minutes(publisher: Publisher, records: dict[int, list[dict[str, Any]]]) -> None:
    messages = []
    for minute, minute_records in sorted(records.items()):
        messages.append(levels_payload("park", "s01", minute + 1, minute_records))
    publisher.publish_many(messages)


def _check_hour(db: psycopg.Connection, hour: datetime, records: list[dict[str, Any]]) -> None:
    row = db.execute(
        "SELECT laeq_db, lafmax_db, laf10_db, laf50_db, laf90_db, coverage, lcpeak_db"
        " FROM noisefleet.levels_1h WHERE start = %s",
        (hour,),
    ).fetchone()
    assert row is not None
    laeq, lafmax, l10, l50, l90, coverage, lcpeak = row
    assert laeq == pytest.approx(_energy_mean(records), abs=0.006)
    assert lafmax == pytest.approx(max(r["lafmax_db"] for r in records))
    assert lcpeak == pytest.approx(max(r["lcpeak_db"] for r in records))
    for value, n in ((l10, 10), (l50, 50), (l90, 90)):
        assert value == pytest.approx(_independent_percentile(records, n), abs=0.1 + 1e-9)
    measured = sum(r["duration_s"] * r["coverage"] for r in records)
    assert coverage == pytest.approx(measured / 3600)


def test_rollups_equal_an_independent_recomputation_including_late_data(
    start_server: Callable[..., ServerProcess], publisher: Publisher, db: psycopg.Connection
) -> None:
    start_server()
    rng = random.Random(7)
    records = {
        m: [_random_record(rng, T0 + timedelta(minutes=m, seconds=s)) for s in range(60)]
        for m in range(120)
    }
    late = {m: records[m] for m in (5, 6, 70, 119)}
    _publish_minutes(publisher, {m: r for m, r in records.items() if m not in late})
    wait_for(
        lambda: db.execute("SELECT count(*) FROM noisefleet_store.messages").fetchone() == (116,),
        what="116 minutes",
    )

    def settled() -> bool:
        row = db.execute("SELECT count(*) FROM noisefleet_store.dirty_hours").fetchone()
        return row == (0,) and db.execute(
            "SELECT count(*) FROM noisefleet.levels_1h"
        ).fetchone() == (2,)

    wait_for(settled, what="roll-ups")
    for hour in range(2):
        minutes = [m for m in range(hour * 60, hour * 60 + 60) if m not in late]
        _check_hour(db, T0 + timedelta(hours=hour), [r for m in minutes for r in records[m]])
    _publish_minutes(publisher, late)  # a replay after an outage
    wait_for(
        lambda: db.execute("SELECT count(*) FROM noisefleet_store.messages").fetchone() == (120,),
        what="the late minutes",
    )
    wait_for(settled, what="roll-ups after late data")
    wait_for(
        lambda: (
            db.execute(
                "SELECT coverage FROM noisefleet.levels_1h WHERE start = %s", (T0,)
            ).fetchone()[0]  # type: ignore[index]
            > 0.5
        ),
        what="late data in the roll-up",
    )
    for hour in range(2):
        minutes = range(hour * 60, hour * 60 + 60)
        _check_hour(db, T0 + timedelta(hours=hour), [r for m in minutes for r in records[m]])
    # the 1-min roll-up, the day (UTC site: unregistered) and the energy shares
    everything = [r for m in range(120) for r in records[m]]
    row = db.execute(
        "SELECT laeq_db, coverage FROM noisefleet.levels_1m WHERE start = %s",
        (T0 + timedelta(minutes=70),),
    ).fetchone()
    assert row is not None
    assert row[0] == pytest.approx(_energy_mean(records[70]), abs=0.006)
    day = db.execute(
        "SELECT laeq_db FROM noisefleet.levels_1d WHERE start = %s",
        (datetime(2026, 11, 24, tzinfo=UTC),),
    ).fetchone()
    assert day is not None
    assert day[0] == pytest.approx(_energy_mean(everything), abs=0.006)
    shares = dict(
        db.execute(
            "SELECT label, share FROM noisefleet.energy_shares_1h WHERE start = %s", (T0,)
        ).fetchall()
    )
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["background"] == pytest.approx(0.5)


def _period_level(local: datetime) -> float:
    if 7 <= local.hour < 19:
        return 60.0
    if 19 <= local.hour < 23:
        return 52.0
    return 45.0


def _expected_lden(night_hours: float) -> float:
    energy = 12 * 10 ** (60 / 10) + 4 * 10 ** ((52 + 5) / 10) + night_hours * 10 ** ((45 + 10) / 10)
    return 10 * math.log10(energy / (16 + night_hours))


@pytest.mark.parametrize(
    ("zone", "day", "night_hours"),
    [
        ("Europe/Berlin", date(2026, 3, 28), 7),
        ("Europe/Berlin", date(2026, 10, 24), 9),
        ("America/New_York", date(2026, 3, 7), 7),
        ("America/New_York", date(2026, 10, 31), 9),
    ],
)
def test_lden_across_dst_changes(
    start_server: Callable[..., ServerProcess],
    publisher: Publisher,
    db: psycopg.Connection,
    zone: str,
    day: date,
    night_hours: int,
) -> None:
    tz = ZoneInfo(zone)
    db.execute(
        "INSERT INTO noisefleet_store.sites (site, kind, timezone) VALUES ('city', 'city', %s)",
        (zone,),
    )
    start_server()
    start = datetime.combine(day, time(7), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(7), tzinfo=tz).astimezone(UTC)
    minutes = int((end - start).total_seconds() // 60)
    assert minutes == (16 + night_hours) * 60
    messages = []
    for chunk in range(0, minutes, 60):
        records = []
        for m in range(chunk, min(chunk + 60, minutes)):
            moment = start + timedelta(minutes=m)
            records.append(
                level_record(moment, _period_level(moment.astimezone(tz)), duration_s=60.0)
            )
        messages.append(levels_payload("city", "s01", chunk // 60 + 1, records))
    publisher.publish_many(messages)

    def lden() -> Any:
        if db.execute("SELECT count(*) FROM noisefleet_store.dirty_hours").fetchone() != (0,):
            return None
        return db.execute(
            "SELECT lday_db, levening_db, lnight_db, lden_db, coverage FROM noisefleet.lden_daily"
            " WHERE day = %s",
            (day,),
        ).fetchone()

    row = wait_for(
        lambda: (
            lden()
            if db.execute("SELECT count(*) FROM noisefleet_store.messages").fetchone()
            == (len(messages),)
            else None
        ),
        timeout_s=60,
        what="Lden",
    )
    lday, levening, lnight, lden_db, coverage = row
    assert (lday, levening, lnight) == (60.0, 52.0, 45.0)
    assert lden_db == pytest.approx(_expected_lden(night_hours), abs=0.006)
    assert coverage == pytest.approx(1.0)
