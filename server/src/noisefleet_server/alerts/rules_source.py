"""Where the rules come from: the config's rules file merged with the database's, validated as
a whole (one-line errors), and checked against the configured notifiers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from psycopg import AsyncConnection

from noisefleet_core.alerts.errors import RuleError
from noisefleet_core.alerts.rules import RuleSet, load_rules_toml, merge_rule_sets, parse_rules
from noisefleet_server.alerts.store_sql import db_rules


def file_rules(path: str) -> RuleSet:
    """The rules of a TOML file (empty when no file is configured)."""
    if not path:
        return parse_rules({"rules": []})
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise RuleError(f"alerts.rules_file: cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise RuleError(f"alerts.rules_file: {path} is not UTF-8 text") from None
    try:
        return load_rules_toml(text)
    except RuleError as error:
        raise RuleError(f"{path}: {error}") from None


def check_notifiers(rules: RuleSet, known: Sequence[str]) -> None:
    for rule in rules.rules:
        unknown = sorted(set(rule.notify or ()) - set(known))
        if unknown:
            raise RuleError(
                f"rule {rule.id}: notify: unknown notifier(s) {', '.join(unknown)}"
                f" (configured: {', '.join(known) or 'none'})"
            )


async def load_rule_set(
    conn: AsyncConnection, rules_file: str, notifiers: Sequence[str]
) -> RuleSet:
    """File rules + database rules, validated together."""
    from_file = file_rules(rules_file)
    try:
        from_db = parse_rules({"rules": await db_rules(conn)})
    except RuleError as error:
        raise RuleError(f"database rules: {error}") from None
    merged = merge_rule_sets(from_file, from_db)
    check_notifiers(merged, notifiers)
    return merged
