"""Benchmark: the dashboard's server time per page and per chart query over a month of a fleet.

Starts its own PostgreSQL (fsync off, as the tests do) with the server's migrations, loads
``--sensors`` sensors at ``--sites`` sites × ``--days`` days of 1-s levels (default 100 × 30:
259 M records) with events, alerts and heartbeats (``dashboard_load``: minute rows made by the
server's own row code from generated 1-s records, roll-ups by the server's own roll-up code),
then prints:
1. the load: records, minute rows, events, heartbeats, alerts, the time of each step and the
   database's size;
2. every chart query of the pages (the dashboard's own query functions, on one connection, as
   operator ``olga`` who sees 3 sites; the Fleet as ``admin`` who sees every sensor): median
   ms over ``--runs`` calls; goal < 50 ms;
3. every page through Streamlit's AppTest signed in as ``olga`` (Fleet also as ``admin``): cold
   (the dashboard's caches cleared: ``st.cache_data.clear()``, as in a new process; the
   database's own buffers stay warm) and warm (the same page run again): medians over
   ``--runs``; goals < 1000 ms cold and < 300 ms warm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import streamlit as st
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for dashboard_load

import dashboard_load as load

import noisefleet_dashboard
from noisefleet_dashboard import alert_queries, event_queries, queries, report_queries
from noisefleet_dashboard.access import SiteScope
from noisefleet_dashboard.alert_queries import AlertFilter
from noisefleet_dashboard.event_queries import EventFilter
from noisefleet_dashboard.resolution import SPANS, choose_resolution
from noisefleet_server.db.migrate import migrate
from tests.support.postgres import Postgres

QUERY_GOAL_MS = 50.0
COLD_GOAL_MS = 1000.0
WARM_GOAL_MS = 300.0


def _median_ms(work: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        work()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _mark(value: float, goal: float) -> str:
    return "PASS" if value < goal else "MISS"


def load_fleet(url: str, plan: load.Plan, workers: int) -> None:
    steps: list[tuple[str, float]] = []
    t = time.perf_counter()
    load.register(url, plan)
    steps.append(("sites, sensors, partitions (server registry)", time.perf_counter() - t))
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        results = list(
            pool.map(
                load.load_sensor, [url] * plan.sensors, [plan] * plan.sensors, range(plan.sensors)
            )
        )
    minutes = sum(r[0] for r in results)
    events = sum(r[1] for r in results)
    steps.append(
        ("1-s records → minute rows (server MinuteRow, COPY), events", time.perf_counter() - t)
    )
    t = time.perf_counter()
    ids = load.sensor_ids(url)
    chunks = [ids[k::workers] for k in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        hours = sum(pool.map(load.rollup_sensors, [url] * workers, [plan] * workers, chunks))
    steps.append(("roll-ups (server recompute_hour/day/lden)", time.perf_counter() - t))
    t = time.perf_counter()
    heartbeats, alerts = load.load_state(url, plan)
    steps.append(
        ("heartbeats, sensor state, alerts, users, VACUUM ANALYZE", time.perf_counter() - t)
    )
    with psycopg.connect(url) as conn:
        size = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()
    print(
        f"loaded {plan.sensors} sensors at {plan.sites} sites × {plan.days} days ending"
        f" {plan.end:%Y-%m-%d %H:%M} UTC: {minutes * 60:,} 1-s records in {minutes:,} minute rows,"
        f" {hours:,} sensor-hours rolled up, {events:,} events, {heartbeats:,} heartbeats,"
        f" {alerts:,} alerts; database {size[0] if size else '?'}"
    )
    for name, seconds in steps:
        print(f"  {name:<62} {seconds:8.1f} s")


def chart_queries(url: str, plan: load.Plan, runs: int) -> list[tuple[str, float]]:
    """(name, median ms) of each query the pages run, with the pages' own parameters."""
    olga = SiteScope(False, tuple(f"site-{k + 1:02d}" for k in range(min(3, plan.sites))))
    admin = SiteScope(True)
    site = "site-01"
    now = plan.end
    out: list[tuple[str, float]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        sensor = queries.site_sensors(conn, olga, site)[0]

        def add(name: str, work: Callable[[], Any]) -> None:
            out.append((name, _median_ms(work, runs)))

        add("sites", lambda: queries.sites(conn, olga))
        add("fleet (admin, every sensor)", lambda: queries.fleet(conn, admin, now))
        add("fleet (olga)", lambda: queries.fleet(conn, olga, now))
        add("pending sensors", lambda: queries.pending_sensors(conn, admin))
        add("site sensors", lambda: queries.site_sensors(conn, olga, site))
        for span_name, span in SPANS.items():
            resolution = choose_resolution(span)
            start = now - span
            add(
                f"site levels {span_name} ({resolution.label})",
                partial(queries.levels, conn, olga, site, sensor, start, now, resolution),
            )
            add(
                f"site span LAeq {span_name}",
                partial(queries.span_laeq, conn, olga, site, sensor, start, now),
            )
        first = (now - timedelta(days=14)).date()
        add(
            "site Lden 14 days",
            lambda: queries.lden_days(conn, olga, site, sensor, first, now.date()),
        )
        week = EventFilter(site=site, start=now - timedelta(days=7), end=now)
        add("events labels", lambda: event_queries.labels(conn, olga, site))
        add("events count 7 days", lambda: event_queries.count(conn, olga, week))
        add("events table 7 days (1000)", lambda: event_queries.events(conn, olga, week, 1000))
        add("events timeline 7 days (1 h)", lambda: event_queries.timeline(conn, olga, week, 3600))
        add(
            "events per hour of day 7 days",
            lambda: event_queries.hours_of_day(conn, olga, week, "Europe/Berlin"),
        )
        newest = event_queries.events(conn, olga, week, 1)[0]
        around = (newest.start - timedelta(minutes=2), newest.start + timedelta(minutes=2))
        add(
            "event detail 1-s levels ±2 min",
            lambda: queries.levels(
                conn, olga, site, newest.sensor, *around, choose_resolution(around[1] - around[0])
            ),
        )
        since = now - timedelta(days=30)
        add("alerts open", lambda: alert_queries.alerts(conn, olga, AlertFilter(since=since)))
        add(
            "alerts all states 30 days",
            lambda: alert_queries.alerts(
                conn, olga, AlertFilter(states=alert_queries.ALERT_STATES, since=since)
            ),
        )
        add("alert rule ids", lambda: alert_queries.alert_rule_ids(conn, olga))
        c_start, c_end = now - timedelta(hours=3, minutes=30), now - timedelta(hours=2, minutes=30)
        add(
            "complaint levels 1 h (1 s)",
            lambda: queries.levels(
                conn, olga, site, sensor, c_start, c_end, choose_resolution(c_end - c_start)
            ),
        )
        add(
            "complaint events",
            lambda: report_queries.events_between(conn, olga, site, c_start, c_end),
        )
        add(
            "complaint alerts",
            lambda: report_queries.alerts_between(conn, olga, site, c_start, c_end),
        )
        r_first = (now - timedelta(days=8)).date()

        def report() -> None:
            for s in report_queries.calibrations(conn, olga, site):
                queries.lden_days(conn, olga, site, s.sensor, r_first, now.date())
            report_queries.alerts_between(conn, olga, site, now - timedelta(days=8), now)

        add("report 8 days (every sensor's Lden, alerts)", report)
    return out


def page_times(url: str, runs: int) -> list[tuple[str, float, float]]:
    """(page, cold median ms, warm median ms) through AppTest."""
    os.environ["NOISEFLEET_DATABASE_URL"] = url
    os.environ.pop("NOISEFLEET_DASHBOARD_CONFIG", None)
    app = str(Path(noisefleet_dashboard.__file__).parent / "app.py")
    pages: list[tuple[str, str, str, Callable[[AppTest], object] | None]] = [
        ("Fleet (admin)", "admin", "ui/fleet.py", None),
        ("Fleet (olga)", "olga", "ui/fleet.py", None),
        ("Site (24 hours)", "olga", "ui/site.py", None),
        (
            "Site (30 days)",
            "olga",
            "ui/site.py",
            lambda at: at.selectbox(key="site_span").set_value("30 days"),
        ),
        ("Events (7 days)", "olga", "ui/events.py", None),
        ("Alerts", "olga", "ui/alerts.py", None),
        ("Complaint check", "olga", "ui/complaint.py", None),
        ("Reports and export", "olga", "ui/reports.py", None),
    ]
    sessions: dict[str, AppTest] = {}
    out = []
    for name, user, path, adjust in pages:
        if user not in sessions:
            at = AppTest.from_file(app, default_timeout=120).run()
            at.text_input(key="signin_username").input(user)
            at.text_input(key="signin_password").input(load.PASSWORD)
            at.button[0].click().run()
            assert at.title[0].value == "Fleet", [t.value for t in at.title]
            sessions[user] = at
        at = sessions[user]
        at.switch_page(path).run()
        if adjust is not None:
            adjust(at)
            at.run()
        assert not at.exception, at.exception
        cold, warm = [], []
        for _ in range(runs):
            st.cache_data.clear()
            t = time.perf_counter()
            at.run()
            cold.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            at.run()
            warm.append((time.perf_counter() - t) * 1000)
            assert not at.exception, at.exception
        out.append((name, statistics.median(cold), statistics.median(warm)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--events-per-day", type=int, default=12, help="events per sensor-day (Poisson mean)"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="loader processes")
    args = parser.parse_args()
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    plan = load.Plan(args.sensors, args.sites, args.days, end, args.events_per_day)
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
        server = Postgres(Path(folder))
        server.start()
        try:
            url = server.create_database("dashbench")
            with psycopg.connect(url, autocommit=True) as conn:
                migrate(conn)
            load_fleet(url, plan, args.workers)
            print(f"\nchart queries (median of {args.runs}, goal < {QUERY_GOAL_MS:.0f} ms)")
            for name, ms in chart_queries(url, plan, args.runs):
                print(f"  {name:<48} {ms:8.1f} ms  {_mark(ms, QUERY_GOAL_MS)}")
            print(
                f"\npages through AppTest (median of {args.runs}; goal cold < {COLD_GOAL_MS:.0f}"
                f" ms, warm < {WARM_GOAL_MS:.0f} ms)"
            )
            print(f"  {'page':<24} {'cold ms':>9}      {'warm ms':>9}")
            for name, cold, warm in page_times(url, args.runs):
                print(
                    f"  {name:<24} {cold:9.1f} {_mark(cold, COLD_GOAL_MS)} {warm:9.1f}"
                    f" {_mark(warm, WARM_GOAL_MS)}"
                )
        finally:
            server.stop(check=False)
            server.cleanup()


if __name__ == "__main__":
    main()
