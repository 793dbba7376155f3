"""One sensor in the agent: its source, its pipeline on its own thread, its messages.

Steps, for every block the source delivers:
1. the event loop only moves the block into the sensor's backlog (``max_backlog_s`` of audio;
   when the pipeline falls that far behind, the oldest audio is replaced by a NaN gap of the
   same length and counted, so memory stays bounded and time stays aligned);
2. the sensor's own worker thread measures it (``SensorPipeline``: levels, gate, classifier,
   events), so DSP and inference never block the event loop and a slow sensor never stalls the
   others. Blocks are handed over in batches of ``PROCESS_BATCH_S`` of audio (or whatever has
   waited that long), consecutive blocks joined: one thread hand-over and one pass of the
   pipeline per batch instead of per 0.1 s block, which was most of the agent's CPU;
3. on that same thread the records go to the durable outbox: each level record is staged at
   once (it survives a SIGKILL), staged records become one ``levels`` message per batch
   (``levels_batch_s``, aligned to the clock: one message per minute by default), events
   become an ``events`` message when they end;
4. the MQTT link is woken up to send.
Settings and model changes are applied between two blocks: the running pipeline is flushed
(its partial interval and open events are reported) and a new one continues the same stream
time, so nothing is lost and no restart is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from noisefleet_core.acoustics.meter import MeterSettings
from noisefleet_core.contract.levels import parse_timestamp
from noisefleet_core.contract.messages import EventsMessage, LevelsMessage, encode, make_envelope
from noisefleet_core.contract.topics import topic
from noisefleet_core.models.manifest import ModelError
from noisefleet_edge.agent.backlog import Backlog
from noisefleet_edge.agent.config import (
    BridgeSourceConfig,
    FileSourceConfig,
    MicrophoneSourceConfig,
    SensorConfig,
)
from noisefleet_edge.agent.outbox import Outbox, OutboxError
from noisefleet_edge.agent.sensor_health import SourceActivity
from noisefleet_edge.agent.stream_clock import StreamClock
from noisefleet_edge.agent.tuning import (
    SensorTuning,
    detector_settings,
    event_is_reported,
    model_thresholds,
)
from noisefleet_edge.classifier import ClassifierError, SoundClassifier
from noisefleet_edge.detection import SensorPipeline
from noisefleet_edge.sources.base import AudioSource, FloatArray, SourceError

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PROCESS_BATCH_S = 0.5
"""Audio handed to the worker thread at once (or less, once the oldest block waited this long).
Adds at most this much to a record's latency; cuts the per-block hand-overs five-fold."""
MAX_JOINED_S = 1.0
"""Consecutive blocks are joined into pieces of at most this much audio (bounded memory after
a backlog built up)."""
MAX_CLOCK_DRIFT_S = 1.0
"""A live source's stream time may be this far off the system clock, for good, before it is
corrected (50 ppm of crystal drift takes 5.5 h to get there); see ``stream_clock``."""


def open_source(config: SensorConfig) -> AudioSource:
    """The audio source a sensor's configuration describes (``SourceError`` if it cannot)."""
    source = config.source
    if isinstance(source, FileSourceConfig):
        from noisefleet_edge.sources.file import FileSource  # noqa: PLC0415

        return FileSource(source.path, source.channel, source.speed, source.loop, source.block_s)
    if isinstance(source, MicrophoneSourceConfig):
        from noisefleet_edge.sources.microphone import MicrophoneSource  # noqa: PLC0415

        return MicrophoneSource(
            source.device, source.sample_rate_hz, source.channel, source.block_s, name=config.id
        )
    if isinstance(source, BridgeSourceConfig):
        from noisefleet_edge.sources.bridge import open_bridge_source  # noqa: PLC0415

        return open_bridge_source(
            source.transport,
            source.address,
            source.mcu_id,
            source.sample_rate_hz,
            sample_format=source.sample_format,
            reorder_ms=source.reorder_ms,
            baud=source.baud,
        )
    raise SourceError(f"{config.id}: unsupported source {source!r}")


@dataclass
class SensorStats:
    """What the heartbeat reports about a sensor besides its source's counters."""

    blocks: int = 0
    samples: int = 0
    backlog_dropped_samples: int = 0
    backlog_drops: int = 0
    level_records: int = 0
    events: int = 0
    messages: int = 0
    windows_total: int = 0
    windows_classified: int = 0
    rebuilds: int = 0
    clock_resyncs: int = 0
    unstored: int = 0
    """Level records and messages the outbox could not store (a full disk): lost, counted."""
    clock_gap_samples: int = 0
    """Samples measured as missing because the stream fell behind the clock for good."""
    clock_dropped_samples: int = 0
    """Samples dropped because the stream ran ahead of the clock."""
    last_error: str | None = None
    failed_at: datetime | None = None
    """When ``last_error`` happened."""
    started_at: datetime | None = None
    """When the current run started (its source opened)."""
    last_audio_at: datetime | None = None
    """When the source last delivered a block."""


class SensorRunner:
    """Runs one sensor until its source ends or ``stop`` is set."""

    def __init__(
        self,
        site: str,
        config: SensorConfig,
        outbox: Outbox,
        notify: Callable[[], None],
        clock: Clock,
        max_backlog_s: float = 30.0,
        classifier: SoundClassifier | None = None,
    ) -> None:
        self.site = site
        self.config = config
        self.id = config.id
        self._outbox = outbox
        self._notify = notify
        self._clock = clock
        self._max_backlog_s = max_backlog_s
        self.tuning: SensorTuning = config.tuning
        self.classifier = classifier or SoundClassifier(config.model_dir)
        self.stats = SensorStats()
        self.source: AudioSource | None = None
        self.live = True
        """Whether the source runs on its own clock (realigned to the system clock when they
        drift apart); a file played at any speed is not."""
        self._pipeline: SensorPipeline | None = None
        self._stream_start: datetime | None = None
        self._stream_samples = 0
        self._batch_key: int | None = None
        self._pending: tuple[SensorTuning, SoundClassifier] | None = None
        self._pending_lock = threading.Lock()
        self._stream_clock = StreamClock(MAX_CLOCK_DRIFT_S)
        self._skip_samples = 0
        self._unstored_writes = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"sensor-{config.id}")
        self._levels_topic = topic(site, config.id, "levels")
        self._events_topic = topic(site, config.id, "events")

    # -- changes at run time -------------------------------------------------------------

    def request_change(
        self, tuning: SensorTuning | None = None, classifier: SoundClassifier | None = None
    ) -> None:
        """Apply new settings and/or a new model between two blocks (thread-safe)."""
        with self._pending_lock:
            current_tuning, current_classifier = self._pending or (self.tuning, self.classifier)
            self._pending = (tuning or current_tuning, classifier or current_classifier)

    @property
    def pending_tuning(self) -> SensorTuning:
        """The settings in force, or about to be (a change waits for the next block)."""
        with self._pending_lock:
            return self._pending[0] if self._pending else self.tuning

    @property
    def pending_classifier(self) -> SoundClassifier:
        with self._pending_lock:
            return self._pending[1] if self._pending else self.classifier

    def replace_classifier(self, classifier: SoundClassifier) -> None:
        """After the model failed in use: the next run starts with this one."""
        self.request_change(classifier=classifier)

    # -- the worker thread -----------------------------------------------------------------

    def _new_pipeline(self, sample_rate_hz: int, stream_start: datetime) -> SensorPipeline:
        offset = self.config.calibration_offset_db
        calibrated = offset is not None
        labels = self.classifier.labels
        manifest = self.classifier.manifest
        settings = detector_settings(self.tuning, labels, model_thresholds(manifest))
        if not calibrated:
            # Levels are dBFS: a gate in dB SPL would stay closed, unknown events make no sense.
            settings = replace(settings, gate_level_db=-1000.0, unknown_level_db=None)
        meter = MeterSettings(
            sample_rate_hz=sample_rate_hz,
            interval_s=self.tuning.interval_s,
            calibration_offset_db=offset or 0.0,
            calibrated=calibrated,
        )
        channel = getattr(self.config.source, "channel", None)  # microphones and files
        return SensorPipeline(
            meter, self.classifier, settings, stream_start, source=self.id, channel=channel
        )

    def _apply_pending(self, sample_rate_hz: int) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, None
        if pending is None or self._pipeline is None or self._stream_start is None:
            if pending is not None:
                self.tuning, self.classifier = pending
            return
        self._handle(self._pipeline.flush())
        self._count_gate()
        self.tuning, self.classifier = pending
        start = self._stream_start + timedelta(seconds=self._stream_samples / sample_rate_hz)
        self._pipeline = self._new_pipeline(sample_rate_hz, start)
        self._stream_start, self._stream_samples = start, 0
        self.stats.rebuilds += 1
        log.info("%s: settings/model applied at %s", self.id, start.isoformat())

    def _count_gate(self) -> None:
        if self._pipeline is not None:
            self.stats.windows_total += self._pipeline.gate_stats.windows_total
            self.stats.windows_classified += self._pipeline.gate_stats.windows_classified

    def _correct_clock(
        self, block: FloatArray, sample_rate_hz: int, arrived: datetime
    ) -> FloatArray:
        """Compare a live stream's time with the clock (``stream_clock``) and correct it: lost
        audio measured as a NaN gap, audio ahead of the clock dropped, a clock step restarted
        forward; records never overlap. The block, less what was dropped."""
        assert self._pipeline is not None
        assert self._stream_start is not None
        block = self._drop_pending(block)
        if not block.size:
            return block
        samples = self._stream_samples + block.size
        stream_end = self._stream_start + timedelta(seconds=samples / sample_rate_hz)
        correction = self._stream_clock.observe(arrived.timestamp(), stream_end.timestamp())
        if correction is not None:
            self.stats.clock_resyncs += 1
        if correction is not None and correction.gap_s:
            missing = round(correction.gap_s * sample_rate_hz)
            log.warning(
                "%s: %.2f s of audio never arrived (the source's clock is slow or it lost "
                "audio it did not count); measured as missing",
                self.id,
                correction.gap_s,
            )
            self.stats.clock_gap_samples += missing
            self._measure_gap(missing, sample_rate_hz, arrived)
        elif correction is not None and correction.drop_s:
            log.warning(
                "%s: the audio is %.2f s ahead of the system clock; dropping that much",
                self.id,
                correction.drop_s,
            )
            self._skip_samples += round(correction.drop_s * sample_rate_hz)
            block = self._drop_pending(block)
        elif correction is not None and correction.restart:
            log.warning(
                "%s: the system clock stepped forward; restarting the stream at it", self.id
            )
            self._handle(self._pipeline.flush())
            self._count_gate()
            self._pipeline = None
        return block

    def _drop_pending(self, block: FloatArray) -> FloatArray:
        """``block`` less the audio still to be dropped (the stream was ahead of the clock)."""
        skip = min(self._skip_samples, block.size)
        if not skip:
            return block
        self._skip_samples -= skip
        self.stats.clock_dropped_samples += skip
        return block[skip:]

    def _process(
        self, block: FloatArray, sample_rate_hz: int, arrived: datetime, gap: bool = False
    ) -> None:
        """Measure one block (``gap``: NaN standing for dropped audio, whose arrival time says
        nothing about this piece's position, so the clocks are not compared)."""
        self._apply_pending(sample_rate_hz)
        if self._pipeline is not None and self.live and not gap:
            block = self._correct_clock(block, sample_rate_hz, arrived)
            if not block.size:
                return
        if self._pipeline is None:
            # The block ended when it arrived: it started one block earlier.
            start = arrived - timedelta(seconds=block.size / sample_rate_hz)
            self._stream_start, self._stream_samples = start, 0
            self._pipeline = self._new_pipeline(sample_rate_hz, start)
            self._stream_clock.reset()
        records = self._pipeline.process(block)
        self._stream_samples += block.size
        self._handle(records)
        self._handle_starts(self._pipeline.pop_started())

    def _finish(self) -> None:
        """Flush the pipeline and the staged level records (end of the source or shutdown)."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            try:
                self._handle(pipeline.flush())
            except (ClassifierError, ModelError) as error:  # a model failing in use
                log.error("%s: the last records could not be measured: %s", self.id, error)
            self._pipeline = pipeline
            self._count_gate()
            self._pipeline = None
        self._enqueue_levels()

    def _message_time(self) -> datetime:
        return self._clock()

    def _recover_staged(self) -> None:
        """Records staged by an earlier run that was killed before their batch: one message,
        a replay (``replayed``, and sent when the last of them was staged, not now)."""
        staged_at = self._outbox.staged_at(self.id)
        self._enqueue_levels(replayed_from=staged_at or self._clock())

    def _enqueue_levels(self, replayed_from: datetime | None = None) -> None:
        def build(sequence: int, records: list[dict[str, Any]]) -> bytes:
            sent_at = replayed_from or self._message_time()
            envelope = make_envelope(
                self.site, self.id, sequence, sent_at, uuid.uuid4(), replayed_from is not None
            )
            return encode(LevelsMessage(envelope, tuple(records)))

        try:
            entry = self._outbox.enqueue_staged(self.id, self._levels_topic, build)
        except OutboxError as error:
            # The staged records stay staged: the next batch takes them along.
            self._unstored(error, 0)
            entry = None
        if entry is not None:
            self.stats.messages += 1
            self._notify()
        self._batch_key = None

    def _unstored(self, error: OutboxError, lost: int) -> None:
        """The outbox refused a write (a full disk): measuring goes on; ``lost`` counted."""
        self.stats.unstored += lost
        self._unstored_writes += 1
        if self._unstored_writes == 1 or self._unstored_writes % 100 == 0:
            log.error(
                "%s: the outbox cannot store (%s); %d record(s) or message(s) lost so far",
                self.id,
                error,
                self.stats.unstored,
            )

    def _batch_of(self, record: dict[str, Any]) -> int:
        start = parse_timestamp(record["start"]).timestamp()
        return math.floor(start / self.tuning.levels_batch_s)

    def _handle(self, records: list[dict[str, Any]]) -> None:
        events = [
            r
            for r in records
            if r.get("kind") == "event" and event_is_reported(self.tuning, r["label"])
        ]
        for record in records:
            if record.get("kind") != "levels":
                continue
            key = self._batch_of(record)
            if self._batch_key is not None and key != self._batch_key:
                self._enqueue_levels()
            try:
                self._outbox.stage(self.id, record)
            except OutboxError as error:
                self._unstored(error, 1)
                continue
            self._batch_key = key
            self.stats.level_records += 1
        if events:

            def build(sequence: int) -> bytes:
                envelope = make_envelope(
                    self.site, self.id, sequence, self._message_time(), uuid.uuid4()
                )
                return encode(EventsMessage(envelope, "end", tuple(events)))

            try:
                self._outbox.enqueue(self.id, self._events_topic, build)
            except OutboxError as error:
                self._unstored(error, 1)
                return
            self.stats.events += len(events)
            self.stats.messages += 1
            self._notify()

    def _handle_starts(self, started: list[dict[str, Any]]) -> None:
        """``events_on_start``: an events message with phase ``start`` as soon as the detector
        is sure an event will be reported (same event id as its end report)."""
        events = [e for e in started if event_is_reported(self.tuning, e["label"])]
        if not self.tuning.events_on_start or not events:
            return

        def build(sequence: int) -> bytes:
            envelope = make_envelope(
                self.site, self.id, sequence, self._message_time(), uuid.uuid4()
            )
            return encode(EventsMessage(envelope, "start", tuple(events)))

        try:
            self._outbox.enqueue(self.id, self._events_topic, build)
        except OutboxError as error:
            self._unstored(error, 1)
            return
        self.stats.messages += 1
        self._notify()

    # -- the event loop side -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, source: AudioSource | None = None) -> None:
        """Measure until the source ends or ``stop`` is set; then flush what is measured.

        Shutdown: stop reading the source, measure what is already in the backlog, flush the
        pipeline and the staged level records."""
        loop = asyncio.get_running_loop()
        # Records staged by an earlier run (killed before its batch was sent) go out first.
        await loop.run_in_executor(self._executor, self._recover_staged)
        self.stats.started_at = self._clock()
        self.source = source = source or open_source(self.config)
        fs = source.sample_rate_hz
        backlog = Backlog(max(1, round(self._max_backlog_s * fs)))
        ready = asyncio.Event()
        space = asyncio.Event()
        live = self.live = bool(getattr(source, "live", True))
        ended = False

        async def read() -> None:
            nonlocal ended
            try:
                async for block in source.blocks():
                    self.stats.last_audio_at = self._clock()
                    while not live and backlog.held_samples >= backlog.max_samples:
                        space.clear()
                        await space.wait()  # a file waits for the pipeline
                    if backlog.push(block, self._clock()):
                        self.stats.backlog_drops = backlog.dropped_blocks
                        self.stats.backlog_dropped_samples = backlog.dropped_samples
                        if backlog.dropped_blocks == 1 or backlog.dropped_blocks % 100 == 0:
                            log.warning(
                                "%s: measuring fell %.0f s behind real time; the oldest audio "
                                "is dropped (%d blocks so far)",
                                self.id,
                                self._max_backlog_s,
                                backlog.dropped_blocks,
                            )
                    ready.set()
            finally:
                ended = True
                ready.set()

        reader = asyncio.create_task(read(), name=f"{self.id}-source")
        stopper = asyncio.create_task(stop.wait())
        batch_samples = max(1, round(PROCESS_BATCH_S * fs))
        waiting_since: float | None = None  # loop time when the oldest unbatched block came
        try:
            while True:
                if stop.is_set() and not reader.done():
                    reader.cancel()  # stop intake; what is in the backlog is still measured
                timeout = None
                if len(backlog):
                    now = loop.time()
                    waiting_since = now if waiting_since is None else waiting_since
                    timeout = waiting_since + PROCESS_BATCH_S - now
                    if (
                        backlog.held_samples >= batch_samples
                        or timeout <= 0
                        or ended
                        or stop.is_set()
                    ):
                        items = backlog.pop_all()
                        waiting_since = None
                        space.set()
                        await loop.run_in_executor(self._executor, self._process_items, items, fs)
                        continue
                elif ended or stop.is_set():
                    break
                ready.clear()
                waiter = asyncio.ensure_future(ready.wait())
                try:
                    await asyncio.wait(
                        {stopper, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    waiter.cancel()
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                raise SourceError(f"{self.id}: {reader.exception()}")
        finally:
            reader.cancel()
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError, SourceError):
                await reader
            await asyncio.shield(loop.run_in_executor(self._executor, self._finish))

    def _process_items(self, items: list[tuple[FloatArray | int, datetime]], fs: int) -> None:
        """Measure a batch: runs of consecutive blocks joined (each piece ends when its last
        block arrived, at most ``MAX_JOINED_S`` long), gaps in between as they are."""
        run: list[FloatArray] = []
        run_arrived: datetime | None = None

        def measure_run() -> None:
            if run and run_arrived is not None:
                block = run[0] if len(run) == 1 else np.concatenate(run)
                self._process(block, fs, run_arrived)
                self.stats.blocks += len(run)
                self.stats.samples += block.size
                run.clear()

        limit = max(1, round(MAX_JOINED_S * fs))
        for item, arrived in items:
            if isinstance(item, int):
                measure_run()
                self._process_item(item, fs, arrived)
                continue
            if run and sum(b.size for b in run) + item.size > limit:
                measure_run()
            run.append(item)
            run_arrived = arrived
        measure_run()

    def _process_item(self, item: FloatArray | int, sample_rate_hz: int, arrived: datetime) -> None:
        if not isinstance(item, int):
            self._process(item, sample_rate_hz, arrived)
            self.stats.blocks += 1
            self.stats.samples += item.size
            return
        self._measure_gap(item, sample_rate_hz, arrived)

    def _measure_gap(self, samples: int, sample_rate_hz: int, arrived: datetime) -> None:
        """Lost audio: NaN, a second at a time, so the stream time stays aligned."""
        remaining = samples
        while remaining > 0:
            size = min(remaining, sample_rate_hz)
            self._process(np.full(size, np.nan), sample_rate_hz, arrived, gap=True)
            self.stats.samples += size
            remaining -= size

    def activity(self, finished: bool) -> SourceActivity:
        """What the sensor's health is judged on (``sensor_health.source_problem``)."""
        stats = self.stats
        return SourceActivity(
            started_at=stats.started_at or self._clock(),
            last_audio_at=stats.last_audio_at,
            last_failure=stats.last_error,
            failed_at=stats.failed_at,
            live=self.live,
            finished=finished,
            source_note=self.source.stats.last_error if self.source is not None else None,
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def utc_now() -> datetime:
    return datetime.now(UTC)
