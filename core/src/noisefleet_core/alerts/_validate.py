"""Strict readers of plain data (TOML, JSON from a database) with one-line errors naming a path:
tables, strings, numbers, lists, and the parts shared by rule kinds (time windows, penalties,
tiers).

Rules may come from a web UI through a database, so the input is treated as hostile: every
size is checked before anything is iterated (the number of keys of a table, the length of a list
or a string), nothing is descended into that the schema does not expect, and the offending value
is shown shortened. Each check costs time linear in what it accepts.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from typing import TypeVar

from noisefleet_core.alerts.errors import RuleError
from noisefleet_core.alerts.values import (
    ALL_DAYS,
    DAY_NAMES,
    MINUTES_PER_DAY,
    Penalty,
    Tier,
    TimeWindow,
)

MAX_STRING_CHARS = 256
"""Longest string accepted anywhere in a rule."""
MAX_TABLE_KEYS = 64
"""More keys than this in one table cannot be a rule (every kind has fewer)."""
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters and line separators: a message or a name must stay on one line."""
_SHOWN_CHARS = 40

S = TypeVar("S", bound=str)


def fail(path: str, message: str) -> RuleError:
    """The error for a path (``rules[2] (night-peak).tiers[0].limit_db: must be …``); the empty
    path is the whole rule set."""
    return RuleError(f"{path or 'the rule set'}: {message}")


def show(value: object) -> str:
    """A short one-line rendering of an offending value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        text = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"
        return _CONTROL.sub(lambda m: f"\\u{ord(m[0]):04x}", json.dumps(text, ensure_ascii=False))
    if isinstance(value, Mapping):
        return f"a table of {len(value)} keys"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    return f"a value of type {type(value).__name__}"


def _closest(key: str, known: Collection[str]) -> str:
    matches = difflib.get_close_matches(key[:64], sorted(known), n=1, cutoff=0.6)
    return f' (did you mean "{matches[0]}"?)' if matches else ""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Table:
    """A mapping read strictly: unknown keys are refused with the closest known key as a hint."""

    def __init__(self, value: object, path: str, known: Collection[str]) -> None:
        if not isinstance(value, Mapping):
            raise fail(path, f"must be a table, got {show(value)}")
        if len(value) > MAX_TABLE_KEYS:
            raise fail(path, f"has {len(value)} keys, more than the {MAX_TABLE_KEYS} allowed")
        for key in value:
            if not isinstance(key, str):
                raise fail(path, f"keys must be strings, got {show(key)}")
            if key not in known:
                raise fail(_join(path, show(key)[1:-1]), "unknown key" + _closest(key, known))
        self._value = value
        self.path = path

    def has(self, key: str) -> bool:
        """Whether a key is present (and not null)."""
        return self._value.get(key) is not None

    def at(self, key: str) -> str:
        """The path of a key."""
        return _join(self.path, key)

    def raw(self, key: str) -> object:
        """The value of a key, unchecked (None when absent)."""
        return self._value.get(key)

    def string(
        self,
        key: str,
        *,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
        max_chars: int = MAX_STRING_CHARS,
    ) -> str | None:
        """A string (None when absent)."""
        value = self.raw(key)
        return (
            None if value is None else check_string(value, self.at(key), pattern, hint, max_chars)
        )

    def choice(self, key: str, choices: Sequence[S]) -> S | None:
        """One of fixed strings (None when absent)."""
        value = self.raw(key)
        if value is None:
            return None
        for choice in choices:
            if value == choice:
                return choice
        names = " | ".join(f'"{c}"' for c in choices)
        raise fail(self.at(key), f"must be one of {names}, got {show(value)}")

    def number(self, key: str, low: float, high: float, *, low_open: bool = False) -> float | None:
        """A finite number in [low, high] ((low, high] when ``low_open``); None when absent."""
        value = self.raw(key)
        if value is None:
            return None
        return check_number(value, self.at(key), low, high, low_open=low_open)

    def integer(self, key: str, low: int, high: int) -> int | None:
        """A whole number in [low, high] (None when absent)."""
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise fail(
                self.at(key), f"must be a whole number between {low} and {high}, got {show(value)}"
            )
        return value

    def boolean(self, key: str) -> bool | None:
        """true or false (None when absent)."""
        value = self.raw(key)
        if value is None or isinstance(value, bool):
            return value
        raise fail(self.at(key), f"must be true or false, got {show(value)}")

    def items(self, key: str, max_items: int, *, min_items: int = 0) -> list[tuple[str, object]]:
        """(path, item) of a list's items ([] when absent)."""
        value = self.raw(key)
        if value is None:
            return []
        return check_list(value, self.at(key), max_items, min_items=min_items)

    def strings(
        self,
        key: str,
        max_items: int,
        *,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
        min_items: int = 0,
    ) -> list[str] | None:
        """A list of strings (None when absent)."""
        if self.raw(key) is None:
            return None
        return [
            check_string(item, path, pattern, hint, MAX_STRING_CHARS)
            for path, item in self.items(key, max_items, min_items=min_items)
        ]


def check_string(
    value: object, path: str, pattern: re.Pattern[str] | None, hint: str, max_chars: int
) -> str:
    """A string of at most ``max_chars`` without control characters, matching ``pattern``."""
    if not isinstance(value, str):
        raise fail(path, f"must be a string, got {show(value)}")
    if len(value) > max_chars:
        raise fail(path, f"must be at most {max_chars} characters, got {len(value)}")
    if _CONTROL.search(value) is not None:
        raise fail(path, f"must not contain control characters, got {show(value)}")
    if pattern is not None and pattern.fullmatch(value) is None:
        raise fail(path, f"must be {hint or pattern.pattern}, got {show(value)}")
    return value


def check_number(
    value: object, path: str, low: float, high: float, *, low_open: bool = False
) -> float:
    """A finite int or float (never a bool) in the range, as a float."""
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (low < value if low_open else low <= value)
        and value <= high
    )
    if not ok:
        if math.isinf(high):
            bound = f"> {low:g}" if low_open else f">= {low:g}"
            raise fail(path, f"must be a number {bound}, got {show(value)}")
        above = "above" if low_open else "between"
        and_word = "and at most" if low_open else "and"
        raise fail(path, f"must be a number {above} {low:g} {and_word} {high:g}, got {show(value)}")
    return float(value)  # type: ignore[arg-type]


def check_list(
    value: object, path: str, max_items: int, *, min_items: int = 0
) -> list[tuple[str, object]]:
    """(path, item) pairs of a list of min_items … max_items items."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise fail(path, f"must be a list, got {show(value)}")
    if len(value) > max_items:
        raise fail(path, f"must have at most {max_items} items, got {len(value)}")
    if len(value) < min_items:
        raise fail(path, f"must have at least {min_items} item{'s' if min_items > 1 else ''}")
    return [(f"{path}[{i}]", item) for i, item in enumerate(value)]


MAX_DB = 200.0
MAX_WINDOWS = 32
"""Most active windows or penalties of a rule."""
MAX_TIERS = 16
NAME_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HHMM = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")


def read_window(obj: object, path: str, extra: tuple[str, ...] = ()) -> TimeWindow:
    table = Table(obj, path, ("days", "from", "to", *extra))
    days = ALL_DAYS
    names = table.strings("days", 7, min_items=1)
    if names is not None:
        picked: set[int] = set()
        for index, name in enumerate(names):
            if name not in DAY_NAMES:
                raise fail(
                    f"{table.at('days')}[{index}]", f'must be one of mon … sun, got "{name}"'
                )
            if DAY_NAMES.index(name) in picked:
                raise fail(f"{table.at('days')}[{index}]", f'"{name}" is listed twice')
            picked.add(DAY_NAMES.index(name))
        days = frozenset(picked)
    start = _minutes(table, "from", allow_24=False)
    end = _minutes(table, "to", allow_24=True)
    return TimeWindow(days, start, end)


def _minutes(table: Table, key: str, *, allow_24: bool) -> int:
    text = table.string(key, max_chars=5)
    if text is None:
        raise fail(table.at(key), 'is required ("HH:MM")')
    match = _HHMM.fullmatch(text)
    minutes = -1 if match is None else int(match[1]) * 60 + int(match[2])
    if not 0 <= minutes <= (MINUTES_PER_DAY if allow_24 else MINUTES_PER_DAY - 1):
        top = "24:00" if allow_24 else "23:59"
        raise fail(table.at(key), f'must be a time "HH:MM" from 00:00 to {top}, got "{text}"')
    return minutes


def read_penalties(table: Table) -> tuple[Penalty, ...]:
    penalties = []
    for path, item in table.items("penalties", MAX_WINDOWS):
        window = read_window(item, path, extra=("add_db",))
        add = Table(item, path, ("days", "from", "to", "add_db")).number("add_db", -50, 50)
        if add is None:
            raise fail(f"{path}.add_db", "is required")
        penalties.append(Penalty(window, add))
    return tuple(penalties)


def read_tiers(
    table: Table, limit_key: str, tier_limit_key: str, *, count: bool
) -> tuple[Tier, ...]:
    """Exactly one of the shorthand limit or a list of ascending tiers with unique names."""

    def read(value: object, path: str) -> float:
        if count:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**6:
                raise fail(path, f"must be a whole number between 0 and 1000000, got {show(value)}")
            return float(value)
        return check_number(value, path, 0, MAX_DB)

    if table.has(limit_key) == table.has("tiers"):
        raise fail(table.path, f"needs exactly one of {limit_key} and tiers")
    if table.has(limit_key):
        return (Tier("limit", read(table.raw(limit_key), table.at(limit_key))),)
    tiers: list[Tier] = []
    names: set[str] = set()
    for path, item in table.items("tiers", MAX_TIERS, min_items=1):
        tier = Table(item, path, ("name", tier_limit_key))
        name = tier.string("name", pattern=NAME_ID, hint="a tier name")
        if name is None:
            raise fail(tier.at("name"), "is required")
        if name in names:
            raise fail(tier.at("name"), f'"{name}" is used twice')
        if not tier.has(tier_limit_key):
            raise fail(tier.at(tier_limit_key), "is required")
        limit = read(tier.raw(tier_limit_key), tier.at(tier_limit_key))
        if tiers and limit <= tiers[-1].limit:
            raise fail(
                tier.at(tier_limit_key),
                f"tiers must ascend: {limit:g} is not above {tiers[-1].limit:g}",
            )
        names.add(name)
        tiers.append(Tier(name, limit))
    return tuple(tiers)
