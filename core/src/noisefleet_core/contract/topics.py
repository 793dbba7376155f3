"""MQTT topics: built and parsed by one pair of functions so no adapter spells a topic by hand.

Layout: ``noisefleet/v1/{site}/{sensor}/{kind}``.

- Data the sensor publishes: ``levels``, ``events``, ``status`` (retained, Last Will),
  ``heartbeat``.
- Commands for the edge agent: ``set`` (the server writes configuration), ``state`` (the agent
  echoes the configuration it applied, retained), ``model`` (the server pushes a model).

Site and sensor ids are restricted to letters, digits, ``-`` and ``_`` (1 to 64 characters):
no ``/`` that would add a level, no ``+`` or ``#`` wildcards, no ``$`` prefixes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

SCHEMA_VERSION = 1
TOPIC_ROOT = "noisefleet"
TOPIC_PREFIX = f"{TOPIC_ROOT}/v{SCHEMA_VERSION}"

DataKind = Literal["levels", "events", "status", "heartbeat"]
CommandKind = Literal["set", "state", "model"]
TopicKind = Literal["levels", "events", "status", "heartbeat", "set", "state", "model"]

DATA_KINDS: tuple[DataKind, ...] = get_args(DataKind)
COMMAND_KINDS: tuple[CommandKind, ...] = get_args(CommandKind)
TOPIC_KINDS: tuple[TopicKind, ...] = get_args(TopicKind)

ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_SHARE_GROUP_PATTERN = ID_PATTERN


class TopicError(ValueError):
    """A topic, id or kind that the contract does not allow."""


@dataclass(frozen=True)
class TopicParts:
    site: str
    sensor: str
    kind: TopicKind


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a safe site or sensor id, else raise ``TopicError``."""
    if not isinstance(value, str) or re.fullmatch(ID_PATTERN, value) is None:
        raise TopicError(
            f"{what} {value!r} is not allowed: use 1 to 64 letters, digits, '-' or '_' "
            "(no '/', '+', '#', spaces or '$')"
        )
    return value


def _check_kind(kind: str) -> TopicKind:
    for known in TOPIC_KINDS:
        if kind == known:
            return known
    raise TopicError(f"unknown topic kind {kind!r}; expected one of {', '.join(TOPIC_KINDS)}")


def topic(site: str, sensor: str, kind: TopicKind) -> str:
    """The topic of one sensor's messages of one kind, e.g. ``noisefleet/v1/park/s01/levels``."""
    check_id(site, "site")
    check_id(sensor, "sensor")
    return f"{TOPIC_PREFIX}/{site}/{sensor}/{_check_kind(kind)}"


def parse_topic(text: str) -> TopicParts:
    """Split a topic into site, sensor and kind; raise ``TopicError`` for anything else."""
    parts = text.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != TOPIC_PREFIX:
        raise TopicError(f"topic {text!r} is not {TOPIC_PREFIX}/{{site}}/{{sensor}}/{{kind}}")
    _, _, site, sensor, kind = parts
    return TopicParts(check_id(site, "site"), check_id(sensor, "sensor"), _check_kind(kind))


def subscription(kind: TopicKind, site: str | None = None) -> str:
    """A filter for one kind from every sensor (of one site, when given)."""
    site_level = "+" if site is None else check_id(site, "site")
    return f"{TOPIC_PREFIX}/{site_level}/+/{_check_kind(kind)}"


def shared_subscription(group: str, kind: TopicKind) -> str:
    """An MQTT 5 shared subscription, so server replicas split one kind's messages between them:
    ``$share/{group}/noisefleet/v1/+/+/{kind}``."""
    check_id(group, "share group")
    return f"$share/{group}/{subscription(kind)}"
