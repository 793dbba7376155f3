"""The server's pure parts: minute rows, sequences, classification, configuration."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_core.contract.records import level_record as typed_level
from noisefleet_server.config import broker_address, load_config, redacted_url
from noisefleet_server.errors import ConfigError
from noisefleet_server.ingest.classify import Accepted, Rejected, classify, payload_text
from noisefleet_server.ingest.minutes import (
    HistogramSum,
    decode_levels,
    encode_levels,
    merge_minute,
)
from noisefleet_server.ingest.sequences import SequenceState, advance
from noisefleet_server.rollup_math import Part, aggregate
from tests.server.helpers import level_record, levels_payload

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _records(levels: list[float], start: datetime = T0) -> list:
    return [
        typed_level(level_record(start + timedelta(seconds=i), v)) for i, v in enumerate(levels)
    ]


def test_a_minute_row_keeps_energy_sums_and_ignores_duplicates() -> None:
    records = _records([50.0, 60.0, 70.0])
    row = merge_minute(None, 1, T0, records[:2])
    assert row is not None
    assert merge_minute(row, 1, T0, records[:2]) is None  # all duplicates: nothing new
    row = merge_minute(row, 1, T0, [records[2], records[0]])
    assert row is not None
    assert row.offsets_ms.tolist() == [0, 1000, 2000]
    assert (row.levels[0].astype(int) - 32768).tolist() == [5000, 6000, 7000]
    expected = 10 * math.log10((10**5 + 10**6 + 10**7) / 3)
    assert row.laeq_db == pytest.approx(expected, abs=0.005)
    assert row.lafmax_db == 72.0
    assert row.histogram.counts.sum() == 300


def test_records_merge_in_start_order_whatever_the_arrival_order() -> None:
    records = _records([40.0, 41.0, 42.0, 43.0])
    row = merge_minute(None, 1, T0, [records[3], records[1]])
    row = merge_minute(row, 1, T0, [records[0], records[2]])
    assert row is not None
    assert (row.levels[0].astype(int) - 32768).tolist() == [4000, 4100, 4200, 4300]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.integers(-32767, 32767)), min_size=8, max_size=8),
        min_size=1,
        max_size=61,
    ),
    st.integers(0, 3000),
)
def test_levels_encode_and_decode_exactly(rows: list[list[int | None]], spread: int) -> None:
    """Nibble-coded and whole high bytes, nulls, any count of records."""
    values = np.array(
        [[0 if v is None else (v % (spread + 1)) + 4000 + 32768 for v in r] for r in rows],
        dtype=np.uint16,
    ).T
    if spread > 1000:  # also full-range values
        values[0] = np.array([0 if r[0] is None else r[0] + 32768 for r in rows], dtype=np.uint16)
    assert np.array_equal(decode_levels(encode_levels(values), values.shape[1]), values)


def test_histograms_of_different_widths_are_rebinned_to_the_coarser() -> None:
    total = HistogramSum()
    total.add(0.1, 500, [1, 2, 3, 4, 5])  # 50.0 .. 50.5 dB
    total.add(0.5, 101, [10])  # 50.5 .. 51.0 dB
    assert total.width == 0.5
    assert (total.first, total.counts.tolist()) == (100, [15, 10])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 100), min_size=1, max_size=40))
def test_sequences_open_gaps_and_replays_fill_them(arrivals: list[int]) -> None:
    state = SequenceState(None)
    for sequence in arrivals:
        state = advance(state, [sequence])
    seen = set(arrivals)
    first = arrivals[0]
    highest = max(seen)
    missing = {s for s in range(min(seen), highest + 1) if s not in seen}
    gap_members = {s for a, b in state.gaps for s in range(a, b + 1)}
    assert state.max_sequence == highest
    # Below the first number seen nothing is a gap; above it, exactly the missing ones.
    assert gap_members == {s for s in missing if s > first}


def test_classify_accepts_a_good_message_and_rejects_with_one_line() -> None:
    topic_text, payload = levels_payload("park", "s01", 1, [level_record(T0, 50.0)], sent_at=NOW)
    result = classify(
        topic_text, payload, NOW, max_payload_bytes=1 << 20, max_future_s=300, keep_bytes=100
    )
    assert isinstance(result, Accepted)
    assert result.levels[0].laeq_db == 50.0
    bad = classify(
        topic_text,
        b"\x00\xff" * 100,
        NOW,
        max_payload_bytes=1 << 20,
        max_future_s=300,
        keep_bytes=10,
    )
    assert isinstance(bad, Rejected)
    assert "not UTF-8" in bad.reason
    assert bad.payload_bytes == 200
    assert "\x00" not in bad.payload
    assert payload_text(b"a\x00b\xff", 10) == "a\\x00b\\xff"


def test_classify_refuses_records_in_the_future() -> None:
    future = NOW + timedelta(hours=1)
    data = json.loads(levels_payload("park", "s01", 1, [level_record(future, 50.0)])[1])
    data["sent_at"] = "2026-11-24T10:00:00.000Z"
    result = classify(
        "noisefleet/v1/park/s01/levels",
        json.dumps(data).encode(),
        NOW,
        max_payload_bytes=1 << 20,
        max_future_s=300,
        keep_bytes=100,
    )
    assert isinstance(result, Rejected)
    assert "in the future" in result.reason


def test_aggregate_is_energy_correct_and_counts_coverage() -> None:
    parts = [
        Part(T0, 10**6 * 60, 60.0, 62.0, 80.0, 0.1, 600, [60]),
        Part(T0, 10**5 * 30, 30.0, 52.0, 70.0, 0.1, 500, [30]),
    ]
    agg = aggregate(parts, 3600.0)
    assert agg.laeq_db == pytest.approx(10 * math.log10((60e6 + 30e5) / 90), abs=0.005)
    assert agg.coverage == pytest.approx(90 / 3600)
    assert (agg.lafmax_db, agg.lcpeak_db) == (62.0, 80.0)
    assert agg.laf90_db == pytest.approx(50.0 + 0.1 * (9 / 30), abs=1e-9)


def test_config_from_environment_and_file(tmp_path: Path) -> None:
    config = load_config(
        None,
        {
            "NOISEFLEET_DATABASE_URL": "postgresql://u:secret@db/nf",
            "NOISEFLEET_MQTT_URL": "mqtts://ingest:pw@broker:8884",
            "NOISEFLEET_INGEST_BATCH_MAX_MESSAGES": "42",
        },
    )
    assert config.ingest.batch_max_messages == 42
    address = broker_address(config.mqtt)
    assert (address.host, address.port, address.tls, address.username) == (
        "broker",
        8884,
        True,
        "ingest",
    )
    assert "secret" not in repr(config)
    assert "pw" not in repr(config)
    assert redacted_url(config.database.url) == "postgresql://u:***@db/nf"
    secret = tmp_path / "db.pass"
    secret.write_text("s3cret\n")
    file = tmp_path / "server.toml"
    file.write_text(
        '[database]\nurl = "postgresql://nf@db/nf"\npassword_file = "db.pass"\n'
        "[ingest]\nmax_payload_bytes = 2048\n"
    )
    config = load_config(file, {})
    assert config.database.url == "postgresql://nf:s3cret@db/nf"
    assert config.ingest.max_payload_bytes == 2048


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("", {}, "database.url: not set"),
        ('[database]\nurl = "postgresql://u:pw@h/d"\n', {}, "do not put the password in the file"),
        ("[ingest]\nbatch_size = 3\n", {}, "[ingest]: unknown key(s) batch_size"),
        ('[ingest]\nbatch_max_messages = "many"\n', {}, "expected int, got str"),
        ("", {"NOISEFLEET_INGEST_BATCH_MAX_MESSAGES": "x"}, "'x' is not a valid int"),
        ("", {"NOISEFLEET_INGEST_MAX_FUTURE_S": "-1"}, "must be greater than 0"),
        ("", {"NOISEFLEET_MQTT_URL": "http://x"}, "mqtt.url: must start with mqtt://"),
        ('[database]\nurl = "postgresql://h/d"\npassword_file = "nope"\n', {}, "cannot read"),
        ("[weird]\n", {}, "unknown section(s) weird"),
        ("not toml [", {}, "is not valid TOML"),
    ],
)
def test_config_errors_are_one_line_naming_the_key(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    file = tmp_path / "server.toml"
    file.write_text(text)
    base = (
        {}
        if "url" in text or text.startswith("[database]")
        else {"NOISEFLEET_DATABASE_URL": "postgresql://h/d"}
    )
    if message.startswith("database.url: not set"):
        base = {}
    with pytest.raises(ConfigError) as caught:
        load_config(file, {**base, **env})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_deploy_template_is_a_valid_configuration(tmp_path: Path) -> None:
    template = Path(__file__).resolve().parents[2] / "deploy" / "server" / "server.toml"
    secret = tmp_path / "secret"
    secret.write_text("pw\n")
    config = load_config(
        template,
        {
            "NOISEFLEET_DATABASE_PASSWORD_FILE": str(secret),
            "NOISEFLEET_MQTT_PASSWORD_FILE": str(secret),
            "NOISEFLEET_MQTT_CA_FILE": str(secret),
        },
    )
    assert config.mqtt.client_id == "noisefleet-ingest-1"
    assert broker_address(config.mqtt).tls is True
    assert redacted_url(config.database.url).endswith(":***@127.0.0.1:5432/noisefleet")
