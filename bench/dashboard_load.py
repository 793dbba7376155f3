"""The dashboard benchmark's fleet: a month of 1-s levels, events, alerts and heartbeats, stored
the way the server stores them, fast (used by ``bench_dashboard.py``).

How the data is made (``load_fleet``):
1. sites and sensors through the server's registry (``add_site``, ``assign_sensor``);
2. per sensor, 1-s records generated with numpy: a day/evening/night pattern in the site's time
   zone, a per-sensor offset, slow (AR(1), per minute) and fast (per second) noise, and +10 to
   +25 dB during the sensor's events; each record's eight levels rounded to the wire's two
   decimals and eight L_AF samples per second for the histogram. The records of each minute
   become the server's own ``MinuteRow`` (energy Σ10^(L/10)·t, measured seconds, maxima, the
   summed histogram, energy per label, exactly what ``merge_minute`` accumulates for those
   records) and its stored form comes from the server's ``_row_to_db`` (``encode_levels``,
   ``encode_histogram``, percentiles), written with binary COPY. So the stored rows are what
   ingest writes for these records; only MQTT, classification and the per-record merge are
   skipped (they would take hours for 259 M records on two cores);
3. events (``events_per_day`` per sensor-day, labels by time of day) with COPY, as ingest
   stores a final event;
4. roll-ups by the server's own ``recompute_hour``/``recompute_day``/``recompute_lden`` over
   every sensor-hour, local day and Lden day, in worker processes with disjoint sensors;
5. heartbeats (one a minute, the agent's default) and the sensors' latest state in SQL
   (generate_series); alerts (resolved and firing level alerts) in SQL; dashboard users.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from scipy.signal import lfilter

from noisefleet_core.acoustics.combine import DenPeriods, den_day_of
from noisefleet_dashboard import accounts
from noisefleet_server.db.minute_rows_sql import (
    MINUTE_COLUMNS,
    MINUTE_TYPES,
    _row_to_db,
    ensure_month_partition,
)
from noisefleet_server.db.rollups_sql import recompute_day, recompute_hour, recompute_lden
from noisefleet_server.ingest.minutes import PLANES, HistogramSum, MinuteRow
from noisefleet_server.registry import add_site, assign_sensor

PASSWORD = "bench password 1"
ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "UTC")
LABELS_DAY = ("car", "truck", "construction", "voice", "siren", "dog_bark")
LABELS_NIGHT = ("car", "voice", "music", "dog_bark", "siren")
# Local hour → typical LAeq (dB) of a city street: quiet nights, busy days, calmer evenings.
HOURLY_DB = np.array(
    [
        44,
        42,
        41,
        41,
        42,
        45,
        51,
        56,
        58,
        58,
        57,
        57,
        58,
        58,
        57,
        57,
        58,
        58,
        56,
        53,
        52,
        51,
        49,
        46,
    ],
    dtype=np.float64,
)
HIST_SAMPLES = 8
"""L_AF samples per second in a record's histogram (0.1 dB bins)."""


@dataclass(frozen=True)
class Plan:
    sensors: int
    sites: int
    days: int
    end: datetime
    """The minute the data ends at (exclusive): the benchmark's "now"."""
    events_per_day: int
    seed: int = 7

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    def site_of(self, index: int) -> str:
        return f"site-{index % self.sites + 1:02d}"

    def zone_of(self, site_index: int) -> str:
        return ZONES[site_index % len(ZONES)]


def sensor_names(plan: Plan) -> list[tuple[str, str]]:
    """(site, sensor) of every sensor, sensors spread round-robin over the sites."""
    return [(plan.site_of(i), f"s{i + 1:03d}") for i in range(plan.sensors)]


async def _register(url: str, plan: Plan) -> None:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    async with conn:
        for k in range(plan.sites):
            await add_site(
                conn,
                f"site-{k + 1:02d}",
                kind="city" if k % 3 == 0 else "real_estate",
                timezone=plan.zone_of(k),
                name=f"Site {k + 1}",
                lat=52.5 + 0.01 * k,
                lon=13.4 + 0.01 * k,
                limits={"day": 55.0, "evening": 50.0, "night": 45.0},
            )
        for site, sensor in sensor_names(plan):
            await assign_sensor(conn, site, sensor)
        month = date(plan.start.year, plan.start.month, 1)
        while month <= plan.end.date():
            await ensure_month_partition(conn, month)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _events_of_day(
    rng: np.random.Generator, day_start: datetime, zone: ZoneInfo, count: int
) -> list[tuple[int, int, str]]:
    """(start second of the UTC day, duration s, label) of one sensor-day's events."""
    out = []
    for _ in range(int(rng.poisson(count))):
        second = int(rng.integers(0, 86400 - 120))
        local_hour = (day_start + timedelta(seconds=second)).astimezone(zone).hour
        labels = LABELS_DAY if 7 <= local_hour < 22 else LABELS_NIGHT
        out.append((second, int(rng.integers(3, 90)), str(rng.choice(labels))))
    return sorted(out)


def _day_levels(
    rng: np.random.Generator,
    day_start: datetime,
    zone: ZoneInfo,
    offset_db: float,
    events: list[tuple[int, int, str]],
) -> tuple[np.ndarray, np.ndarray]:
    """One UTC day's 1-s LAeq (86400) and each second's label index (-1: background)."""
    seconds = np.arange(86400)
    local = day_start.astimezone(zone)
    local_hours = (local.hour + local.minute / 60 + seconds / 3600) % 24
    base = np.interp(local_hours, np.arange(25), np.append(HOURLY_DB, HOURLY_DB[0]))
    slow = lfilter([1.0], [1.0, -0.95], rng.normal(0, 0.6, 1440))
    laeq = base + offset_db + np.repeat(slow, 60) + rng.normal(0, 1.2, 86400)
    label = np.full(86400, -1, dtype=np.int64)
    for index, (second, duration, _) in enumerate(events):
        rise = float(rng.uniform(10, 25))
        shape = np.sin(np.linspace(0.2, math.pi - 0.2, duration)) * rise
        laeq[second : second + duration] = np.logaddexp(
            laeq[second : second + duration] * math.log(10) / 10,
            (laeq[second : second + duration] + shape) * math.log(10) / 10,
        ) * (10 / math.log(10))
        label[second : second + duration] = index
    return np.clip(np.round(laeq, 2), 25.0, 120.0), label


def _minute_rows(
    sensor_id: int,
    day_start: datetime,
    laeq: np.ndarray,
    label: np.ndarray,
    events: list[tuple[int, int, str]],
    rng: np.random.Generator,
    daytime: np.ndarray,
) -> list[tuple[object, ...]]:
    """The stored form of one day's 1440 minutes (see the module docstring)."""
    spread = rng.uniform(1.0, 4.0, 86400)
    values = np.empty((PLANES, 86400))
    values[0] = laeq
    values[1] = laeq + spread  # LAFmax
    values[2] = laeq - spread  # LAFmin
    values[3] = laeq + 0.35 * spread  # LAF10
    values[4] = laeq - 0.1 * spread  # LAF50
    values[5] = laeq - 0.6 * spread  # LAF90
    values[6] = laeq + rng.uniform(3, 8, 86400)  # LCeq
    values[7] = laeq + rng.uniform(14, 20, 86400)  # LCpeak
    values = np.round(values, 2)
    matrix = (np.round(values * 100) + 32768).astype(np.uint16)
    energy = 10.0 ** (values[0] / 10.0)
    samples = np.round(
        (
            np.repeat(laeq, HIST_SAMPLES)
            + rng.normal(0, 1, 86400 * HIST_SAMPLES) * 0.5 * np.repeat(spread, HIST_SAMPLES)
        )
        * 10
    ).astype(np.int64)
    offsets = np.arange(60, dtype=np.int64) * 1000
    durations = np.full(60, 1000, dtype=np.int64)
    coverage = np.full(60, 10000, dtype=np.int64)
    calibrated = np.ones(60, dtype=bool)
    rows = []
    for m in range(1440):
        cut = slice(m * 60, m * 60 + 60)
        part = samples[m * 60 * HIST_SAMPLES : (m + 1) * 60 * HIST_SAMPLES]
        low = int(part.min())
        histogram = HistogramSum(0.1, low, np.bincount(part - low).astype(np.int64))
        e = energy[cut]
        shares: dict[str, float] = {}
        background = "traffic" if daytime[m] else "background"
        quiet = label[cut] < 0
        if quiet.any():
            shares[background] = float(e[quiet].sum())
        for index in np.unique(label[cut][~quiet]):
            name = events[int(index)][2]
            shares[name] = shares.get(name, 0.0) + float(e[label[cut] == index].sum())
        row = MinuteRow(
            sensor_id=sensor_id,
            minute=day_start + timedelta(minutes=m),
            offsets_ms=offsets,
            durations_ms=durations,
            levels=matrix[:, cut],
            coverage=coverage,
            calibrated=calibrated,
            energy=float(e.sum()),
            measured_s=60.0,
            lafmax_db=float(values[1, cut].max()),
            lcpeak_db=float(values[7, cut].max()),
            histogram=histogram,
            share_energy=shares,
        )
        rows.append(_row_to_db(row))
    return rows


def load_sensor(url: str, plan: Plan, index: int) -> tuple[int, int]:
    """Minute rows and events of sensor ``index`` (a worker process); (minutes, events)."""
    site, sensor = sensor_names(plan)[index]
    rng = np.random.default_rng([plan.seed, index])
    offset_db = float(rng.uniform(-5, 5))
    minutes = events_stored = 0
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT s.sensor_id, si.timezone FROM noisefleet_store.sensors s"
            " JOIN noisefleet_store.sites si USING (site) WHERE s.site = %s AND s.sensor = %s",
            (site, sensor),
        ).fetchone()
        assert row is not None
        sensor_id, timezone = row
        zone = ZoneInfo(timezone)
        for day in range(plan.days):
            day_start = plan.start + timedelta(days=day)
            events = _events_of_day(rng, day_start, zone, plan.events_per_day)
            laeq, label = _day_levels(rng, day_start, zone, offset_db, events)
            local = day_start.astimezone(zone)
            local_hours = (local.hour + local.minute / 60 + np.arange(1440) / 60) % 24
            daytime = (local_hours >= 7) & (local_hours < 22)
            rows = _minute_rows(sensor_id, day_start, laeq, label, events, rng, daytime)
            with conn.transaction(), conn.cursor() as cur:
                columns = ", ".join(MINUTE_COLUMNS)
                with cur.copy(
                    f"COPY noisefleet_store.level_minutes ({columns}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(list(MINUTE_TYPES))
                    for r in rows:
                        copy.write_row(r)
                with cur.copy(
                    'COPY noisefleet_store.events (event_id, sensor_id, label, start, "end",'
                    " laeq_db, lafmax_db, lae_db, confidence_peak, confidence_mean, runner_up,"
                    " part, final, phase, rank) FROM STDIN"
                ) as copy:
                    for n, (second, duration, name) in enumerate(events):
                        levels = laeq[second : second + duration]
                        lae = 10 * math.log10(float((10 ** (levels / 10)).sum()))
                        laeq_event = lae - 10 * math.log10(duration)
                        start = day_start + timedelta(seconds=second)
                        confidence = round(float(rng.uniform(0.5, 0.99)), 2)
                        copy.write_row(
                            (
                                f"{sensor}-{day:03d}-{n:03d}",
                                sensor_id,
                                name,
                                start,
                                start + timedelta(seconds=duration),
                                round(laeq_event, 2),
                                round(float(levels.max()) + 2.0, 2),
                                round(lae, 2),
                                confidence,
                                round(confidence - 0.1, 2),
                                '[{"label": "background", "score": 0.05}]',
                                1,
                                True,
                                "end",
                                7,
                            )
                        )
            minutes += len(rows)
            events_stored += len(events)
    return minutes, events_stored


async def _rollups(url: str, plan: Plan, sensor_ids: list[int]) -> int:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    done = 0
    async with conn:
        for sensor_id in sensor_ids:
            cursor = await conn.execute(
                "SELECT coalesce(si.timezone, 'UTC') FROM noisefleet_store.sensors se"
                " LEFT JOIN noisefleet_store.sites si USING (site) WHERE se.sensor_id = %s",
                (sensor_id,),
            )
            row = await cursor.fetchone()
            assert row is not None
            zone, periods = ZoneInfo(row[0]), DenPeriods(timezone=row[0])
            days: set[date] = set()
            den_days: set[date] = set()
            hours = int((plan.end - plan.start) / timedelta(hours=1))
            async with conn.transaction():
                for h in range(hours):
                    hour = plan.start + timedelta(hours=h)
                    await recompute_hour(conn, sensor_id, hour)
                    for moment in (hour, hour + timedelta(minutes=59, seconds=59)):
                        days.add(moment.astimezone(zone).date())
                        den_days.add(den_day_of(moment, periods))
                for day in sorted(days):
                    await recompute_day(conn, sensor_id, day, zone)
                for day in sorted(den_days):
                    await recompute_lden(conn, sensor_id, day, periods)
            done += hours
    return done


def rollup_sensors(url: str, plan: Plan, sensor_ids: list[int]) -> int:
    """The server's roll-ups of these sensors (a worker process); the hours recomputed."""
    return asyncio.run(_rollups(url, plan, sensor_ids))


def register(url: str, plan: Plan) -> None:
    asyncio.run(_register(url, plan))


def load_state(url: str, plan: Plan) -> tuple[int, int]:
    """Heartbeats, the sensors' latest state, alerts and users; (heartbeats, alerts)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO noisefleet_store.heartbeats (sensor_id, sent_at, uptime_s, cpu_percent,"
            " temperature_c, disk_free_bytes, outbox_depth, outbox_dropped, dropped_frames,"
            " clock_synced, model_sha256)"
            " SELECT s.sensor_id, t, extract(epoch FROM t - %(start)s), 20 + 15 * random(),"
            " 45 + 10 * random(),"
            " 20e9::bigint - (extract(epoch FROM t - %(start)s) * 1000)::bigint,"
            " (random() * 3)::int, 0, 0, true, 'f' || lpad(s.sensor_id::text, 63, '0')"
            " FROM noisefleet_store.sensors s"
            " CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s - interval '1 minute',"
            " interval '1 minute') AS t",
            {"start": plan.start, "end": plan.end},
        )
        offline = max(1, plan.sensors // 20)
        conn.execute(
            "UPDATE noisefleet_store.sensors SET"
            " last_seen = %(end)s - CASE WHEN sensor_id <= %(offline)s"
            "   THEN interval '2 hours' ELSE interval '20 seconds' END,"
            " status = 'online', status_at = %(start)s, heartbeat_at = %(end)s,"
            " outbox_depth = (sensor_id %% 4), model_name = 'urban-sed-int8',"
            " model_sha256 = 'f' || lpad(sensor_id::text, 63, '0'),"
            " calibration_date = (%(end)s - (sensor_id %% 200) * interval '1 day')::date,"
            " calibration_offset_db = 120.0, first_seen = %(start)s",
            {"start": plan.start, "end": plan.end, "offline": offline},
        )
        # Level alerts: about one a sensor-day resolved after 5 to 65 minutes, and one firing
        # alert at every tenth sensor.
        conn.execute(
            "INSERT INTO noisefleet_store.alerts (rule_id, sensor_id, state, kind, severity,"
            " limit_value, value, peak, peak_at, pending_since, fired_at, ended_at, resolved_at,"
            " message, acknowledged_at, acknowledged_by)"
            " SELECT CASE WHEN d %% 2 = 0 THEN 'night-limit' ELSE 'rolling-15' END, s.sensor_id,"
            " 'resolved', 'level', 'warning', 55, 58.5, 61.2, t + interval '3 minutes', t,"
            " t + interval '1 minute', t + interval '5 minutes' + d * interval '1 minute',"
            " t + interval '6 minutes' + d * interval '1 minute', 'LAeq 15 min above 55 dB',"
            " CASE WHEN d %% 3 = 0 THEN t + interval '2 hours' END,"
            " CASE WHEN d %% 3 = 0 THEN 'olga' END"
            " FROM noisefleet_store.sensors s CROSS JOIN LATERAL ("
            "  SELECT d, %(start)s + d * interval '1 day' + (s.sensor_id * 37 %% 1440)"
            "   * interval '1 minute' AS t FROM generate_series(0, %(days)s - 1) AS d) AS x",
            {"start": plan.start, "days": plan.days},
        )
        conn.execute(
            "INSERT INTO noisefleet_store.alerts (rule_id, sensor_id, state, kind, severity,"
            " limit_value, value, peak, pending_since, fired_at, message)"
            " SELECT 'rolling-15', sensor_id, 'firing', 'level', 'warning', 55, 57.0, 59.0,"
            " %(end)s - interval '40 minutes', %(end)s - interval '25 minutes',"
            " 'LAeq 15 min above 55 dB' FROM noisefleet_store.sensors WHERE sensor_id %% 10 = 0",
            {"end": plan.end},
        )
        heartbeats = conn.execute("SELECT count(*) FROM noisefleet_store.heartbeats").fetchone()
        alerts = conn.execute("SELECT count(*) FROM noisefleet_store.alerts").fetchone()
        sites = [f"site-{k + 1:02d}" for k in range(plan.sites)]
        accounts.add_user(conn, "admin", PASSWORD, "admin")
        accounts.add_user(conn, "olga", PASSWORD, "operator", sites[:3])
        accounts.add_user(conn, "vera", PASSWORD, "viewer", sites[:1])
        conn.execute("VACUUM ANALYZE")
    assert heartbeats is not None
    assert alerts is not None
    return int(heartbeats[0]), int(alerts[0])


def sensor_ids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT sensor_id FROM noisefleet_store.sensors ORDER BY sensor_id"
        ).fetchall()
    return [r[0] for r in rows]
