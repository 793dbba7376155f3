"""Typed records from decoded messages, and the contract's import weight."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from noisefleet_core.contract.messages import ContractError, EventsMessage, LevelsMessage, decode
from noisefleet_core.contract.records import event_record, level_record
from tests.core.contract.helpers import example_path, example_topic


def test_level_records_decode_into_typed_values() -> None:
    message = decode(example_topic("levels"), example_path("levels").read_bytes())
    assert isinstance(message, LevelsMessage)
    wire = message.records[0]
    record = level_record(wire)
    assert record.start == datetime(2026, 11, 24, 9, 14, 58, tzinfo=UTC)
    assert record.laeq_db == wire["laeq_db"]
    assert record.histogram.counts == tuple(wire["laf_histogram"]["counts"])
    assert record.histogram.bin_width_db == wire["laf_histogram"]["bin_width_db"]
    assert dict(record.energy_shares) == wire["energy_shares"]
    assert record.calibrated is True


def test_event_records_decode_into_typed_values() -> None:
    message = decode(example_topic("events"), example_path("events").read_bytes())
    assert isinstance(message, EventsMessage)
    wire = message.events[0]
    record = event_record(wire)
    assert record.event_id == wire["event_id"]
    assert record.duration_s == wire["duration_s"]
    assert [(r.label, r.score) for r in record.runner_up] == [
        (r["label"], r["score"]) for r in wire["runner_up"]
    ]


def test_a_bad_count_deep_in_a_histogram_is_named_by_its_path() -> None:
    data = json.loads(example_path("levels").read_bytes())
    data["records"][1]["laf_histogram"]["counts"][3] = -1
    with pytest.raises(
        ContractError, match=r"records\[1\]\.laf_histogram\.counts\[3\]: -1 is below"
    ):
        decode(example_topic("levels"), json.dumps(data).encode())


def test_importing_the_contract_loads_no_dsp() -> None:
    code = (
        "import sys, noisefleet_core.contract.messages, noisefleet_core.contract.commands, "
        "noisefleet_core.contract.records; "
        "print(sorted(m for m in ('numpy', 'scipy', 'noisefleet_core.acoustics.meter', "
        "'noisefleet_core.events.detector') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
