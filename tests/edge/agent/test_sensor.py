"""One sensor in the agent (``SensorRunner``), with a scripted live source and clock: every
sample is measured once, settings change without losing audio, and a drifting audio clock is
realigned to the system clock."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from noisefleet_core.contract.levels import parse_timestamp
from noisefleet_core.contract.messages import LevelsMessage, decode
from noisefleet_edge.agent.config import parse_config
from noisefleet_edge.agent.outbox import Outbox, OutboxError
from noisefleet_edge.agent.sensor import SensorRunner
from noisefleet_edge.classifier import SoundClassifier, default_model_dir
from noisefleet_edge.sources.base import SourceStats

FS = 16000
BLOCK_S = 0.5
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class ScriptedSource:
    """A live source whose blocks arrive on a scripted clock running ``clock_rate`` times as
    fast as the audio (1.02: the system clock gains 20 ms per second of audio)."""

    live = True

    def __init__(self, seconds: float, clock_rate: float = 1.0, on_block: Any = None) -> None:
        self.sample_rate_hz = FS
        self.stats = SourceStats()
        self.now = T0
        self._blocks = round(seconds / BLOCK_S)
        self._rate = clock_rate
        self._on_block = on_block
        self._rng = np.random.default_rng(1)

    def clock(self) -> datetime:
        return self.now

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        for k in range(self._blocks):
            self.now = T0 + timedelta(seconds=(k + 1) * BLOCK_S * self._rate)
            if self._on_block is not None:
                await self._on_block(k)
            self.stats.blocks += 1
            yield 0.01 * self._rng.standard_normal(round(BLOCK_S * FS))
            await asyncio.sleep(0)


@pytest.fixture(scope="module")
def classifier() -> SoundClassifier:
    return SoundClassifier(default_model_dir())


def _runner(
    tmp_path: Path, classifier: SoundClassifier, clock: Any, outbox_class: type[Outbox] = Outbox
) -> tuple[SensorRunner, Outbox]:
    sf.write(tmp_path / "unused.wav", np.zeros(FS), FS)
    config = parse_config(
        {
            "agent": {"site": "lab", "state_dir": str(tmp_path / "state")},
            "sensors": [
                {
                    "id": "s1",
                    "source": {"type": "file", "path": str(tmp_path / "unused.wav")},
                    "settings": {"levels_batch_s": 10},
                }
            ],
        },
        tmp_path / "edge.toml",
    )
    outbox = outbox_class(tmp_path / "outbox.sqlite", 64 << 20)
    # The scripted source does not wait for real time: let its whole recording queue up.
    runner = SensorRunner("lab", config.sensors[0], outbox, lambda: None, clock, 3600, classifier)
    return runner, outbox


def _level_records(outbox: Outbox) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for entry in outbox.pending("s1", 10_000):
        message = decode(entry.topic, entry.payload)
        if isinstance(message, LevelsMessage):
            records.extend(message.records)
    return records


def _run(runner: SensorRunner, source: ScriptedSource) -> None:
    async def go() -> None:
        await runner.run(asyncio.Event(), source)

    try:
        asyncio.run(go())
    finally:
        runner.close()


@pytest.mark.slow
def test_every_sample_is_measured_once_with_the_clock_in_step(
    tmp_path: Path, classifier: SoundClassifier
) -> None:
    source = ScriptedSource(20.0)
    runner, outbox = _runner(tmp_path, classifier, source.clock)
    _run(runner, source)
    records = _level_records(outbox)
    assert sum(r["duration_s"] for r in records) == pytest.approx(20.0)
    assert [r["duration_s"] for r in records] == [1.0] * 20
    assert parse_timestamp(records[0]["start"]) == T0
    assert runner.stats.clock_resyncs == 0
    # batches of 10 s, aligned to the clock: two level messages
    assert len([e for e in outbox.pending("s1", 100) if e.topic.endswith("/levels")]) == 2


@pytest.mark.slow
def test_a_settings_change_applies_between_blocks_without_losing_audio(
    tmp_path: Path, classifier: SoundClassifier
) -> None:
    holder: dict[str, SensorRunner] = {}

    async def on_block(k: int) -> None:
        runner = holder["runner"]
        while runner.stats.blocks < k:  # lockstep: block k is read once k blocks are measured
            await asyncio.sleep(0.001)
        if k == 10:  # after 5 s of audio
            runner.request_change(tuning=dataclasses.replace(runner.tuning, interval_s=2.0))

    source = ScriptedSource(15.0, on_block=on_block)
    runner, outbox = _runner(tmp_path, classifier, source.clock)
    holder["runner"] = runner
    _run(runner, source)
    records = _level_records(outbox)
    durations = [r["duration_s"] for r in records]
    assert sum(durations) == pytest.approx(15.0)
    assert durations[:5] == [1.0] * 5
    assert durations[-5:] == [2.0] * 5
    assert runner.tuning.interval_s == 2.0
    assert runner.stats.rebuilds == 1
    ends = [r["end"] for r in records[:-1]]
    starts = [r["start"] for r in records[1:]]
    assert ends == starts  # contiguous across the change


def assert_contiguous(records: list[dict[str, Any]]) -> None:
    """No overlap, no hole: each record starts where the previous one ended."""
    assert [r["start"] for r in records[1:]] == [r["end"] for r in records[:-1]]


@pytest.mark.slow
def test_a_slow_audio_clock_is_caught_up_with_a_measured_gap(
    tmp_path: Path, classifier: SoundClassifier
) -> None:
    # The system clock runs 4 % ahead of the audio: 1 s of disagreement after 25 s.
    source = ScriptedSource(40.0, clock_rate=1.04)
    runner, outbox = _runner(tmp_path, classifier, source.clock)
    _run(runner, source)
    records = _level_records(outbox)
    assert runner.stats.clock_resyncs == 1
    assert_contiguous(records)
    gap = runner.stats.clock_gap_samples
    assert 1.0 * FS < gap < 1.3 * FS
    # The time the audio did not cover is measured as missing, not left out.
    assert sum(r["duration_s"] for r in records) == pytest.approx(40.0 + gap / FS)
    assert sum(r["invalid_samples"] for r in records) == gap
    # After the correction the stream time follows the system clock again.
    last_end = parse_timestamp(records[-1]["end"])
    assert abs((last_end - source.now).total_seconds()) < 1.0


class StalledSource(ScriptedSource):
    """Blocks on time, then none for ``stall_s`` (the agent stopped, the socket kept the
    audio), then the held blocks at once and on time again; ``lost_s``: audio that never comes
    (lost without the source counting it) after the stall."""

    def __init__(self, seconds: float, stall_at_s: float, stall_s: float, lost_s: float = 0.0):
        super().__init__(seconds)
        self.stall_at, self.stall_s, self.lost_s = stall_at_s, stall_s, lost_s

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        for k in range(self._blocks):
            end_s = (k + 1) * BLOCK_S
            if end_s > self.stall_at:
                end_s = max(end_s + self.lost_s, self.stall_at + self.stall_s)
            self.now = T0 + timedelta(seconds=end_s)
            self.stats.blocks += 1
            yield 0.01 * self._rng.standard_normal(round(BLOCK_S * FS))
            await asyncio.sleep(0)


@pytest.mark.slow
@pytest.mark.parametrize("stall_s", [1.5, 3.0, 12.0])
def test_after_a_stall_the_held_audio_is_measured_once_and_in_place(
    tmp_path: Path, classifier: SoundClassifier, stall_s: float
) -> None:
    source = StalledSource(30.0, stall_at_s=10.0, stall_s=stall_s)
    runner, outbox = _runner(tmp_path, classifier, source.clock)
    _run(runner, source)
    records = _level_records(outbox)
    assert_contiguous(records)
    assert [r["duration_s"] for r in records] == [1.0] * 30, "no hole, no overlap"
    assert sum(r["invalid_samples"] for r in records) == 0
    assert all(r["coverage"] == 1.0 for r in records)
    assert parse_timestamp(records[0]["start"]) == T0
    assert runner.stats.clock_resyncs == 0


@pytest.mark.slow
def test_audio_lost_without_being_counted_shows_as_missing(
    tmp_path: Path, classifier: SoundClassifier
) -> None:
    source = StalledSource(30.0, stall_at_s=10.0, stall_s=0.5, lost_s=2.0)
    runner, outbox = _runner(tmp_path, classifier, source.clock)
    _run(runner, source)
    records = _level_records(outbox)
    assert_contiguous(records)
    gap = runner.stats.clock_gap_samples
    assert 2.0 * FS <= gap <= 2.5 * FS
    assert sum(r["invalid_samples"] for r in records) == gap
    assert min(r["coverage"] for r in records) < 1.0
    assert sum(r["duration_s"] for r in records) == pytest.approx(30.0 + gap / FS)
    last_end = parse_timestamp(records[-1]["end"])
    assert abs((last_end - source.now).total_seconds()) < 1.0


@pytest.mark.slow
def test_records_staged_before_a_kill_go_out_as_a_replay_sent_when_staged(
    tmp_path: Path, classifier: SoundClassifier
) -> None:
    # Real level records, as a first run staged them before it was killed.
    first = ScriptedSource(2.0)
    (tmp_path / "first").mkdir()
    runner, outbox = _runner(tmp_path / "first", classifier, first.clock)
    _run(runner, first)
    staged = _level_records(outbox)
    outbox.close()
    staged_at = T0 + timedelta(seconds=2)
    with Outbox(tmp_path / "outbox.sqlite", 64 << 20, clock=lambda: staged_at) as killed:
        for record in staged:
            killed.stage("s1", record)
    # The restart, an hour later.
    restart = ScriptedSource(2.0)
    runner, outbox = _runner(tmp_path, classifier, lambda: T0 + timedelta(hours=1))
    _run(runner, restart)
    messages = [decode(e.topic, e.payload) for e in outbox.pending("s1", 100)]
    recovered = messages[0]
    assert isinstance(recovered, LevelsMessage)
    assert list(recovered.records) == staged
    assert recovered.envelope.replayed is True
    assert recovered.envelope.sent_at == staged_at
    assert all(not m.envelope.replayed for m in messages[1:]), "this run's are new"


class FillingOutbox(Outbox):
    """An outbox on a disk that is full while ``full`` is set (every write refused)."""

    full = False

    def _refuse(self) -> None:
        if self.full:
            raise OutboxError(f"{self.path}: cannot store a message: database or disk is full")

    def stage(self, sensor: str, record: Any) -> None:
        self._refuse()
        super().stage(sensor, record)

    def enqueue(self, sensor: str, topic: str, build: Any) -> Any:
        self._refuse()
        return super().enqueue(sensor, topic, build)

    def enqueue_staged(self, sensor: str, topic: str, build: Any) -> Any:
        self._refuse()
        return super().enqueue_staged(sensor, topic, build)


@pytest.mark.slow
def test_a_full_disk_loses_what_it_cannot_store_counted_and_measuring_goes_on(
    tmp_path: Path, classifier: SoundClassifier
) -> None:
    holder: dict[str, Any] = {}

    async def on_block(k: int) -> None:
        runner: SensorRunner = holder["runner"]
        while runner.stats.blocks < k:  # lockstep, so the disk fills at a known second
            await asyncio.sleep(0.001)
        holder["outbox"].full = 10 <= k < 20  # full from 5 s to 10 s of audio

    source = ScriptedSource(20.0, on_block=on_block)
    runner, outbox = _runner(tmp_path, classifier, source.clock, FillingOutbox)
    holder.update(runner=runner, outbox=outbox)
    _run(runner, source)  # ends normally: no OutboxError escapes
    stored = _level_records(outbox)
    assert 0 < runner.stats.unstored <= 6, "about 5 s of 1 s records lost, and counted"
    assert len(stored) + runner.stats.unstored >= 20
    assert stored[-1]["end"] == "2026-11-24T09:00:20.000Z", "measured to the end"
