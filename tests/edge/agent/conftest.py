"""Fixtures for the outbox and MQTT link tests: a real mosquitto broker per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mosquitto import Mosquitto, MosquittoNotInstalledError, find_tool

BrokerFactory = Callable[..., Mosquitto]


@pytest.fixture(scope="session")
def mosquitto_installed() -> None:
    """Fail (never skip) when mosquitto is missing: scripts/setup.sh installs it."""
    try:
        find_tool("mosquitto")
        find_tool("mosquitto_passwd")
    except MosquittoNotInstalledError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def broker_factory(tmp_path: Path, mosquitto_installed: None) -> Iterator[BrokerFactory]:
    """``make(**options)``: a started broker in its own temp dir (see ``Mosquitto``)."""
    brokers: list[Mosquitto] = []

    def make(**options: Any) -> Mosquitto:
        broker = Mosquitto(tmp_path / f"broker{len(brokers)}", **options)
        brokers.append(broker)
        broker.start()
        return broker

    yield make
    for broker in brokers:
        broker.stop()


@pytest.fixture
def broker(broker_factory: BrokerFactory) -> Mosquitto:
    """An anonymous broker on a free 127.0.0.1 port."""
    return broker_factory()
