"""``noisefleet-server``: migrate, run, check, the registry's admin verbs, ``alerts`` and
``grafana``.

Every error is one line on stderr and exit status 1 (2 for usage errors); nothing prints a
traceback for bad input, a missing file or an unreachable service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import aiomqtt
import psycopg

from noisefleet_server import registry
from noisefleet_server.alerts import cli as alerts_cli
from noisefleet_server.commands import push_model, push_settings
from noisefleet_server.config import ServerConfig, broker_address, load_config, redacted_url
from noisefleet_server.db.migrate import migrate
from noisefleet_server.errors import ServerError
from noisefleet_server.grafana import cli as grafana_cli
from noisefleet_server.mqtt import make_client
from noisefleet_server.service import run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noisefleet-server",
        description="noisefleet server: MQTT ingest into PostgreSQL, roll-ups, fleet registry.",
    )
    parser.add_argument("--config", type=Path, help="TOML file (every key also from NOISEFLEET_*)")
    parser.add_argument("--log-level", help="debug, info, warning or error")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the SQL migrations (a no-op when up to date)")
    sub.add_parser("run", help="ingest, roll-up maintenance and retention until SIGTERM")
    sub.add_parser("check", help="config, database and broker reachable (one line each)")

    sites = sub.add_parser("sites", help="the registry's sites").add_subparsers(
        dest="verb", required=True
    )
    add = sites.add_parser("add", help="add or update a site")
    add.add_argument("site")
    add.add_argument("--kind", required=True, choices=("real_estate", "city"))
    add.add_argument("--timezone", required=True, help="IANA name, e.g. Europe/Berlin")
    add.add_argument("--name")
    add.add_argument("--address")
    add.add_argument("--lat", type=float)
    add.add_argument("--lon", type=float)
    add.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="PERIOD=DB",
        help="limit per period in dB(A), e.g. --limit night=45 (day, evening, night)",
    )
    sites.add_parser("list", help="list sites")

    sensors = sub.add_parser("sensors", help="the registry's sensors").add_subparsers(
        dest="verb", required=True
    )
    listing = sensors.add_parser("list", help="list sensors")
    listing.add_argument("--pending", action="store_true", help="only sensors to assign")
    assign = sensors.add_parser("assign", help="confirm a pending sensor at a registered site")
    assign.add_argument("site")
    assign.add_argument("sensor")
    setting = sensors.add_parser("set", help="change settings; waits for the agent's answer")
    setting.add_argument("site")
    setting.add_argument("sensor")
    setting.add_argument("assignments", nargs="+", metavar="key=value")
    setting.add_argument("--timeout-s", type=float, default=30.0)
    push = sensors.add_parser("push-model", help="send a model folder; waits for the answer")
    push.add_argument("site")
    push.add_argument("sensor")
    push.add_argument("folder", type=Path)
    push.add_argument("--timeout-s", type=float, default=120.0)
    alerts_cli.add_parser(sub)
    grafana_cli.add_parser(sub)
    return parser


def _limits(items: Sequence[str]) -> dict[str, float]:
    limits = {}
    for item in items:
        period, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            limits[period.strip()] = float(value)
        except ValueError:
            raise ServerError(f"--limit {item!r}: expected PERIOD=DB, e.g. night=45") from None
    return limits


async def _with_db(config: ServerConfig, action):  # type: ignore[no-untyped-def]
    try:
        async with await psycopg.AsyncConnection.connect(
            config.database.url,
            autocommit=True,
            connect_timeout=round(config.database.connect_timeout_s),
        ) as conn:
            return await action(conn)
    except psycopg.OperationalError as error:
        raise ServerError(
            f"database {redacted_url(config.database.url)}: {' '.join(str(error).split())}"
        ) from None


async def _migrate(config: ServerConfig) -> int:
    report = await asyncio.to_thread(_migrate_sync, config)
    if report.applied:
        print(f"applied {', '.join(report.applied)} (timescale: {report.timescale})")
    else:
        print(f"up to date at version {report.current_version} (timescale: {report.timescale})")
    return 0


def _migrate_sync(config: ServerConfig):  # type: ignore[no-untyped-def]

    try:
        with psycopg.connect(
            config.database.url,
            autocommit=True,
            connect_timeout=round(config.database.connect_timeout_s),
        ) as conn:
            return migrate(conn)
    except psycopg.OperationalError as error:
        raise ServerError(
            f"database {redacted_url(config.database.url)}: {' '.join(str(error).split())}"
        ) from None


async def _check(config: ServerConfig) -> int:

    ok = True
    print(f"config: ok (database {redacted_url(config.database.url)})")

    async def db(conn):  # type: ignore[no-untyped-def]
        cursor = await conn.execute(
            "SELECT current_setting('server_version'),"
            " to_regclass('noisefleet_store.schema_migrations') IS NOT NULL"
        )
        return await cursor.fetchone()

    try:
        version, migrated = await _with_db(config, db)
        state = "migrated" if migrated else "NOT migrated: run `noisefleet-server migrate`"
        print(f"database: ok (PostgreSQL {version}, {state})")
        ok = ok and migrated
    except ServerError as error:
        print(f"database: FAILED ({error})")
        ok = False
    address = broker_address(config.mqtt)
    try:
        async with make_client(
            config.mqtt, client_id="noisefleet-check", persistent=False, manual_ack=False
        ):
            pass
        print(f"broker: ok ({address.host}:{address.port}{', TLS' if address.tls else ''})")
    except (aiomqtt.MqttError, OSError) as error:
        print(f"broker: FAILED ({address.host}:{address.port}: {' '.join(str(error).split())})")
        ok = False
    return 0 if ok else 1


async def _sites(config: ServerConfig, args: argparse.Namespace) -> int:

    if args.verb == "add":
        limits = _limits(args.limit)

        async def add(conn):  # type: ignore[no-untyped-def]
            return await registry.add_site(
                conn,
                args.site,
                kind=args.kind,
                timezone=args.timezone,
                name=args.name,
                address=args.address,
                lat=args.lat,
                lon=args.lon,
                limits=limits,
            )

        new = await _with_db(config, add)
        print(f"site {args.site} {'added' if new else 'updated'}")
        return 0

    async def listing(conn):  # type: ignore[no-untyped-def]
        return await registry.list_sites(conn)

    for site in await _with_db(config, listing):
        shown = " ".join(f"{k}={v:g}" for k, v in site.limits.items()) or "-"
        print(f"{site.site}\t{site.kind}\t{site.timezone}\t{site.name or '-'}\tlimits {shown}")
    return 0


async def _sensors(config: ServerConfig, args: argparse.Namespace) -> int:

    if args.verb == "list":

        async def listing(conn):  # type: ignore[no-untyped-def]
            return await registry.list_sensors(conn, args.pending)

        for s in await _with_db(config, listing):
            seen = s.last_seen.isoformat() if s.last_seen else "never"
            state = "pending" if s.pending else "assigned"
            print(f"{s.site}/{s.sensor}\t{state}\t{s.status or '-'}\tlast seen {seen}")
        return 0
    if args.verb == "assign":

        async def assign(conn):  # type: ignore[no-untyped-def]
            await registry.assign_sensor(conn, args.site, args.sensor)

        await _with_db(config, assign)
        print(f"sensor {args.site}/{args.sensor} assigned")
        return 0
    if args.verb == "set":
        changes = registry.parse_settings(args.assignments)

        async def push(conn):  # type: ignore[no-untyped-def]
            return await push_settings(
                conn, config.mqtt, args.site, args.sensor, changes, "cli", args.timeout_s
            )

    else:
        if not args.folder.is_dir():
            raise ServerError(f"{args.folder}: not a folder")

        async def push(conn):  # type: ignore[no-untyped-def]
            return await push_model(
                conn, config.mqtt, args.site, args.sensor, args.folder, "cli", args.timeout_s
            )

    report = (await _with_db(config, push)).answer
    if report is None:
        print(
            f"{args.site}/{args.sensor}: no answer within {args.timeout_s:g} s "
            "(kept as desired; re-sent when the sensor comes online)"
        )
        return 1
    if not report.accepted:
        print(f"{args.site}/{args.sensor}: refused: {report.reason}")
        return 1
    model = f", model {report.model.name}" if report.model else ""
    print(
        f"{args.site}/{args.sensor}: accepted; settings {json.dumps(dict(report.settings))}{model}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "grafana":
            # Needs no server config unless the datasource URL comes from it.
            logging.basicConfig(level=logging.WARNING)
            return grafana_cli.run(args, lambda: load_config(args.config).database.url)
        offline = args.command == "alerts" and alerts_cli.offline_verb(args)
        config = load_config(args.config, offline=offline)
        level = (args.log_level or config.log_level).upper()
        logging.basicConfig(
            level=getattr(logging, level, logging.INFO),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        if args.command == "run":
            return run(config)
        if args.command == "migrate":
            return asyncio.run(_migrate(config))
        if args.command == "check":
            return asyncio.run(_check(config))
        if args.command == "sites":
            return asyncio.run(_sites(config, args))
        if args.command == "alerts":
            if alerts_cli.offline_verb(args):
                return alerts_cli.run_offline(args, config)
            code: int = asyncio.run(
                _with_db(config, lambda conn: alerts_cli.run_online(conn, args, config))
            )
            return code
        return asyncio.run(_sensors(config, args))
    except ServerError as error:
        print(f"noisefleet-server: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
