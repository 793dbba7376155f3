"""Limits a command payload must meet before it is parsed, checked in linear time.

A payload comes from the network: parsing it is where a hostile or broken one does its harm
(a 30 MB array takes hundreds of MB once parsed, deep nesting overflows the parser's stack with
a ``RecursionError``, an integer of over 4300 digits makes ``json`` raise a plain
``ValueError`` after a quadratic conversion). ``check_payload_limits``:

1. refuses a payload larger than ``max_bytes`` before looking inside;
2. blanks out the JSON strings (one linear regular-expression pass), so brackets and digits
   inside strings do not count;
3. refuses nesting of arrays and objects deeper than ``max_depth``;
4. refuses a number with more than ``max_digits`` digits in a row.
Each refusal is a ``ContractError`` with one line. Whether the payload is JSON at all is left
to the parser: these checks only bound what parsing it can cost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from noisefleet_core.contract.fields import ContractError
from noisefleet_core.contract.topics import CommandKind
from noisefleet_core.contract.wire_specs import MAX_CHUNK_BYTES

__all__ = [
    "COMMAND_MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NUMBER_DIGITS",
    "check_command_limits",
    "check_payload_limits",
]

MAX_DEPTH = 16
"""Nesting of arrays and objects a payload may have (commands need 3)."""
MAX_NUMBER_DIGITS = 40
"""Digits a number may have in a row (a double needs 17, a 64-bit integer 20)."""
COMMAND_MAX_BYTES: Mapping[CommandKind, int] = MappingProxyType(
    {
        # Every setting for a model of some thousand labels fits well within these.
        "set": 64 * 1024,
        "state": 128 * 1024,
        # One chunk's base64 (4/3 of it) plus the other fields, with room to spare so a chunk
        # slightly too large gets the field's own reason.
        "model": 2 * MAX_CHUNK_BYTES,
    }
)
"""Largest payload of each command kind."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_OPENERS = frozenset(b"[{")


def check_payload_limits(
    payload: bytes,
    max_bytes: int,
    max_depth: int = MAX_DEPTH,
    max_digits: int = MAX_NUMBER_DIGITS,
) -> None:
    """``ContractError`` (one line) if ``payload`` is larger, deeper or has longer numbers than
    allowed; linear in its size, and it stops at the first breach."""
    if len(payload) > max_bytes:
        raise ContractError(
            f"payload: {len(payload)} bytes, more than the {max_bytes} allowed; not parsed"
        )
    structure = _STRING.sub(b'""', payload)
    depth = 0
    for bracket in structure.translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in _OPENERS else -1
        if depth > max_depth:
            raise ContractError(
                f"payload: arrays and objects nested deeper than {max_depth} levels; not parsed"
            )
    if re.search(rb"[0-9]{%d}" % (max_digits + 1), structure):
        raise ContractError(f"payload: a number of more than {max_digits} digits; not parsed")


def check_command_limits(kind: CommandKind, payload: bytes) -> None:
    """``check_payload_limits`` with the size allowed for ``kind``."""
    check_payload_limits(payload, COMMAND_MAX_BYTES[kind])
