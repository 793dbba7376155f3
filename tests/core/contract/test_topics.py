from __future__ import annotations

import pytest

from noisefleet_core.contract.topics import (
    COMMAND_KINDS,
    DATA_KINDS,
    TOPIC_KINDS,
    TOPIC_PREFIX,
    TopicError,
    TopicParts,
    parse_topic,
    shared_subscription,
    subscription,
    topic,
)


def test_prefix_carries_the_version() -> None:
    assert TOPIC_PREFIX == "noisefleet/v1"
    assert set(DATA_KINDS) | set(COMMAND_KINDS) == set(TOPIC_KINDS)
    assert COMMAND_KINDS == ("set", "state", "model")


@pytest.mark.parametrize("kind", TOPIC_KINDS)
def test_topic_round_trip(kind: str) -> None:
    text = topic("riverside-park", "s_01", kind)  # type: ignore[arg-type]
    assert text == f"noisefleet/v1/riverside-park/s_01/{kind}"
    assert parse_topic(text) == TopicParts("riverside-park", "s_01", kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "unsafe", ["", "a/b", "a+", "#", "$SYS", "with space", "ü", "x" * 65, "a\nb"]
)
def test_unsafe_ids_are_refused(unsafe: str) -> None:
    with pytest.raises(TopicError, match="not allowed"):
        topic(unsafe, "s01", "levels")
    with pytest.raises(TopicError, match="not allowed"):
        topic("site", unsafe, "levels")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(TopicError, match="unknown topic kind 'audio'"):
        topic("site", "s01", "audio")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "noisefleet/v2/site/s01/levels",
        "noisefleet/v1/site/s01",
        "noisefleet/v1/site/s01/levels/extra",
        "other/v1/site/s01/levels",
        "noisefleet/v1/+/s01/levels",
        "noisefleet/v1/site/s01/audio",
        "/noisefleet/v1/site/s01/levels",
    ],
)
def test_parse_refuses_foreign_topics(text: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(text)


def test_subscriptions() -> None:
    assert shared_subscription("ingest", "levels") == "$share/ingest/noisefleet/v1/+/+/levels"
    assert subscription("status", site="park") == "noisefleet/v1/park/+/status"
    with pytest.raises(TopicError):
        shared_subscription("in/gest", "levels")
