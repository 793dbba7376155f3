"""``noisefleet-server alerts …``: replay draft rules, list and acknowledge alerts, manage the
database's rules and the regulation templates. Errors are one line (``ServerError``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from noisefleet_core.alerts.errors import AlertError
from noisefleet_core.alerts.rules import RuleSet, merge_rule_sets, parse_rules
from noisefleet_core.alerts.templates import expand_template, list_templates
from noisefleet_server.alerts.notifications import iso
from noisefleet_server.alerts.replay import replay
from noisefleet_server.alerts.rules_source import check_notifiers, file_rules, load_rule_set
from noisefleet_server.alerts.store_sql import acknowledge, db_rules, delete_rule, put_rules
from noisefleet_server.errors import ServerError


def add_parser(sub: Any) -> None:
    alerts = sub.add_parser("alerts", help="alert rules, replay, listing and acknowledgement")
    verbs = alerts.add_subparsers(dest="verb", required=True)
    rp = verbs.add_parser("replay", help="which alerts draft rules would have raised (no writes)")
    rp.add_argument("--rule", type=Path, required=True, help="TOML file of draft rules")
    rp.add_argument("--from", dest="t_from", required=True, help="ISO 8601 with offset")
    rp.add_argument("--to", dest="t_to", required=True, help="ISO 8601 with offset")
    rp.add_argument("--site")
    rp.add_argument("--sensor")
    rp.add_argument("--json", action="store_true", help="one JSON object per alert")
    ls = verbs.add_parser("list", help="list alerts, newest first")
    ls.add_argument("--open", action="store_true", help="only pending and firing alerts")
    ls.add_argument("--site")
    ls.add_argument("--limit", type=int, default=50)
    ack = verbs.add_parser("ack", help="acknowledge an alert")
    ack.add_argument("alert_id", type=int)
    ack.add_argument("--user", required=True)
    ack.add_argument("--comment")
    rules = verbs.add_parser("rules", help="the rules kept in the database").add_subparsers(
        dest="rules_verb", required=True
    )
    rules.add_parser("list", help="every rule in force (file and database)")
    imp = rules.add_parser("import", help="add or replace rules from a TOML file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--user")
    rules.add_parser("export", help="the database's rules as JSON")
    rm = rules.add_parser("delete", help="delete a database rule")
    rm.add_argument("rule_id")
    check = rules.add_parser("validate", help="validate a rules file (no database needed)")
    check.add_argument("file", type=Path)
    tpl = verbs.add_parser("template", help="regulation templates as rules")
    tpl.add_argument("template_id", nargs="?", help="omit to list the templates")
    tpl.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    tpl.add_argument("--site", action="append", default=[])
    tpl.add_argument("--id-prefix", dest="prefix", help="prefix of the generated rule ids")
    tpl.add_argument("--import", dest="do_import", action="store_true", help="store the rules")


def parse_time(text: str, option: str) -> float:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ServerError(
            f"{option} {text!r}: expected ISO 8601, e.g. 2026-11-30T22:00:00+01:00"
        ) from None
    if moment.tzinfo is None:
        raise ServerError(f"{option} {text!r}: add a UTC offset or Z (times are absolute)")
    return moment.timestamp()


def _read_rules(path: Path) -> RuleSet:
    try:
        return file_rules(str(path))
    except AlertError as error:
        raise ServerError(str(error)) from None


def _rule_bodies(path: Path) -> list[dict[str, Any]]:
    rules = _read_rules(path)
    return [rule.to_dict() for rule in rules.rules]


async def _replay(conn: AsyncConnection, args: argparse.Namespace) -> int:
    t_from = parse_time(args.t_from, "--from")
    t_to = parse_time(args.t_to, "--to")
    if t_to <= t_from:
        raise ServerError("--to must be after --from")
    draft = _read_rules(args.rule)
    found = await replay(conn, draft.rules, t_from, t_to, args.site, args.sensor)
    for a in found:
        e = a.episode
        if args.json:
            print(
                json.dumps(
                    {
                        "rule_id": a.rule.id,
                        "site": a.sensor.site,
                        "sensor": a.sensor.sensor,
                        "tier": a.tier_name,
                        "pending_since": iso(e.pending_since),
                        "fired_at": iso(e.fired_at),
                        "ended_at": iso(e.ended_at),
                        "resolved_at": iso(e.resolved_at),
                        "peak": e.peak,
                        "peak_at": iso(e.peak_at),
                        "suppressed": e.suppressed,
                    },
                    sort_keys=True,
                )
            )
        else:
            peak = "-" if e.peak is None else f"{e.peak:.1f}"
            print(
                f"{a.rule.id}  {a.sensor.site}/{a.sensor.sensor}  {a.tier_name or '-'}  "
                f"fired {iso(e.fired_at)}  resolved {iso(e.resolved_at) or 'open'}  peak {peak}"
            )
    rules = len(draft.rules)
    print(f"{len(found)} alert(s) from {rules} rule(s) between {args.t_from} and {args.t_to}")
    return 0


async def _list(conn: AsyncConnection, args: argparse.Namespace) -> int:
    cursor = await conn.execute(
        "SELECT alert_id, state, rule_id, site, sensor, tier, fired_at, resolved_at, late,"
        " acknowledged_by, message FROM noisefleet.alerts"
        " WHERE (NOT %s OR state IN ('pending', 'firing')) AND (%s::text IS NULL OR site = %s)"
        " ORDER BY pending_since DESC LIMIT %s",
        (args.open, args.site, args.site, max(1, args.limit)),
    )
    for row in await cursor.fetchall():
        alert_id, state, rule_id, site, sensor, tier, _fired, _resolved, late, ackby, msg = row
        flags = (" late" if late else "") + (f" ack:{ackby}" if ackby else "")
        print(f"#{alert_id} {state}{flags} {rule_id} {site}/{sensor} {tier or '-'}: {msg}")
    return 0


async def _rules(conn: AsyncConnection, args: argparse.Namespace, config: Any) -> int:
    verb = args.rules_verb
    if verb == "list":
        try:
            rules = await load_rule_set(
                conn, config.alerts.rules_file, [n.name for n in config.notifiers]
            )
        except AlertError as error:
            raise ServerError(str(error)) from None
        for rule in rules.rules:
            state = "" if rule.enabled else " (disabled)"
            print(f"{rule.id}  {rule.kind}  {rule.name}{state}")
        return 0
    if verb == "export":
        print(json.dumps({"rules": await db_rules(conn)}, indent=2, sort_keys=True))
        return 0
    if verb == "delete":
        if not await delete_rule(conn, args.rule_id):
            raise ServerError(f"no database rule {args.rule_id!r}")
        print(f"deleted {args.rule_id}")
        return 0
    bodies = _rule_bodies(args.file)
    await _store_rules(conn, bodies, args.user, config)
    print(f"stored {len(bodies)} rule(s)")
    return 0


async def _store_rules(
    conn: AsyncConnection, bodies: list[dict[str, Any]], user: str | None, config: Any
) -> None:
    """Validate the new rules with everything in force (a clash is refused), then store."""
    ids = {b["id"] for b in bodies}
    existing = [b for b in await db_rules(conn) if b.get("id") not in ids]
    try:
        merged = merge_rule_sets(
            file_rules(config.alerts.rules_file), parse_rules({"rules": existing + bodies})
        )
        check_notifiers(merged, [n.name for n in config.notifiers])
    except AlertError as error:
        raise ServerError(str(error)) from None
    async with conn.transaction():
        await put_rules(conn, bodies, user)


def _params(items: list[str]) -> dict[str, str | float]:
    params: dict[str, str | float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ServerError(f"--param {item!r}: expected KEY=VALUE")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            params[key.strip()] = value.strip()
    return params


async def _template(conn: AsyncConnection | None, args: argparse.Namespace, config: Any) -> int:
    if not args.template_id:
        for info in list_templates():
            print(f"{info.id}  {info.title}")
        return 0
    try:
        bodies = expand_template(
            args.template_id,
            _params(args.param),
            sites=args.site or None,
            id_prefix=args.prefix,
        )
        parse_rules({"rules": bodies})
    except AlertError as error:
        raise ServerError(str(error)) from None
    if args.do_import:
        assert conn is not None
        await _store_rules(conn, bodies, None, config)
        print(f"stored {len(bodies)} rule(s) from template {args.template_id}")
        return 0
    print(_toml(bodies))
    return 0


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise ServerError(f"cannot write {type(value).__name__} as TOML")


def _toml(bodies: list[dict[str, Any]]) -> str:
    """Rules as a TOML file ``alerts rules import`` and ``alerts.rules_file`` read back."""
    out = []
    for body in bodies:
        out.append("[[rules]]")
        out.extend(f"{k} = {_toml_value(v)}" for k, v in body.items() if v is not None)
        out.append("")
    text = "\n".join(out)
    tomllib.loads(text)  # what we print must read back
    return text


def offline_verb(args: argparse.Namespace) -> bool:
    """Verbs that need no database."""
    if args.verb == "rules" and args.rules_verb == "validate":
        return True
    return args.verb == "template" and not args.do_import


def run_offline(args: argparse.Namespace, config: Any) -> int:
    if args.verb == "rules":
        rules = _read_rules(args.file)
        try:
            check_notifiers(rules, [n.name for n in config.notifiers])
        except AlertError as error:
            raise ServerError(str(error)) from None
        print(f"{args.file}: {len(rules.rules)} rule(s), valid")
        return 0
    return asyncio.run(_template(None, args, config))


async def run_online(conn: AsyncConnection, args: argparse.Namespace, config: Any) -> int:
    if args.verb == "replay":
        return await _replay(conn, args)
    if args.verb == "list":
        return await _list(conn, args)
    if args.verb == "ack":
        if not await acknowledge(conn, args.alert_id, args.user, args.comment):
            raise ServerError(f"no alert #{args.alert_id}")
        print(f"acknowledged #{args.alert_id}")
        return 0
    if args.verb == "rules":
        return await _rules(conn, args, config)
    return await _template(conn, args, config)
