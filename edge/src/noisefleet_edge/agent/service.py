"""The edge agent service: ``noisefleet-edge run --config edge.toml``.

Start-up:
1. open the durable outbox (``state_dir/outbox.sqlite``);
2. per sensor: the model in force (``configured_model``: the last one installed remotely, or the
   configured one, which is put in the store so a later update can roll back to it; a changed
   configured model replaces it), its runner (source → pipeline thread → outbox), the settings
   a ``set`` changed before the restart (``settings_store``), its remote manager (``set`` and
   ``model`` commands) and its MQTT link (own credentials, own Will);
3. run everything in one ``TaskGroup``: runners, links, heartbeats; publish each sensor's state
   (retained) once its link is up. SIGTERM/SIGINT only set the stop event.
Shutdown, in this order: stop intake (sources) → measure what is buffered and flush the
pipelines and staged level records into the outbox → links send what is queued (bounded by
``mqtt.drain_timeout_s``) → publish retained ``stopped`` → disconnect → close the outbox.
What could not be sent stays in the outbox for the next start.

A sensor whose source fails (a microphone missing at start, a port in use) is retried with
back-off and reported in its heartbeat; the other sensors keep running. When every source has
ended (files played without ``loop``), the agent shuts down by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from noisefleet_core.contract.commands import ModelInfo, encode_command
from noisefleet_core.contract.levels import format_timestamp
from noisefleet_core.contract.messages import HeartbeatMessage, encode, make_envelope
from noisefleet_core.contract.topics import topic
from noisefleet_core.models.manifest import ModelError
from noisefleet_edge.agent import health
from noisefleet_edge.agent.config import AgentConfig, SensorConfig
from noisefleet_edge.agent.configured_model import load_and_run, model_in_force
from noisefleet_edge.agent.model_store import ModelStore, installed_at_of
from noisefleet_edge.agent.model_transfer import ModelTransfer, ModelUpdateError, one_line
from noisefleet_edge.agent.mqtt_link import (
    CommandHandler,
    LinkSettings,
    SensorLink,
    device_username,
)
from noisefleet_edge.agent.outbox import Outbox, OutboxError
from noisefleet_edge.agent.remote import (
    STARTUP,
    StateReportDraft,
    handle_model_chunk,
    handle_set,
    model_info,
    roll_back,
    state_report,
)
from noisefleet_edge.agent.sensor import Clock, SensorRunner, utc_now
from noisefleet_edge.agent.sensor_health import source_problem
from noisefleet_edge.agent.settings_store import (
    SettingsStoreError,
    load_settings,
    save_settings,
    settings_path,
)
from noisefleet_edge.agent.tuning import model_thresholds
from noisefleet_edge.classifier import ClassifierError, SoundClassifier
from noisefleet_edge.errors import NoisefleetEdgeError
from noisefleet_edge.sources.base import SourceError

log = logging.getLogger(__name__)

RETRY_MIN_S = 2.0
RETRY_MAX_S = 60.0


class AgentError(NoisefleetEdgeError):
    """The agent cannot start; one line for the operator."""


def link_settings(config: AgentConfig, sensor: SensorConfig) -> LinkSettings:
    """One sensor's connection: its own client id and credentials, the agent's broker."""
    mqtt = config.mqtt
    tls = mqtt.tls
    return LinkSettings(
        host=mqtt.host,
        client_id=device_username(config.site, sensor.id),
        port=mqtt.port,
        username=sensor.username,
        password=sensor.password,
        tls=tls is not None,
        ca_file=tls.ca_file if tls else None,
        cert_file=sensor.client_cert_file or (tls.cert_file if tls else None),
        key_file=sensor.client_key_file or (tls.key_file if tls else None),
        insecure=tls.insecure if tls else False,
        keepalive_s=mqtt.keepalive_s,
        protocol=mqtt.protocol,
        drain_timeout_s=mqtt.drain_timeout_s,
        hold_unrouted=mqtt.hold_unrouted,
        backoff_max_s=mqtt.backoff_max_s,
        auth_retry_s=mqtt.auth_retry_s,
    )


@dataclass
class SensorSlot:
    """A sensor and everything the agent holds for it."""

    config: SensorConfig
    store: ModelStore
    model: ModelInfo
    runner: SensorRunner | None = None
    link: SensorLink | None = None
    transfer: ModelTransfer = field(default_factory=ModelTransfer)
    finished: bool = False
    failures: int = 0
    problem: str | None = None
    """Why the sensor does not measure, as its last heartbeat said (None: it measures)."""
    startup: StateReportDraft = STARTUP
    """The report published once the link is up (with a note when saved settings were not
    restored)."""

    @property
    def id(self) -> str:
        return self.config.id


class Agent:
    def __init__(self, config: AgentConfig, clock: Clock = utc_now) -> None:
        self.config = config
        self.clock = clock
        self.stop = asyncio.Event()
        self.started = time.monotonic()
        self.slots: list[SensorSlot] = []
        self._outbox: Outbox | None = None
        self._cpu = health.CpuMeter()

    # -- models ----------------------------------------------------------------------------

    def _model_in_force(self, sensor: SensorConfig) -> tuple[ModelStore, SoundClassifier, str]:
        """The store, the loaded model and its version (blocking: runs in a thread)."""
        try:
            return model_in_force(self.config.models_dir, sensor, self.clock())
        except (ModelUpdateError, ModelError, ClassifierError, OSError) as error:
            raise AgentError(f"sensors.{sensor.id}.model: {error}") from None

    def _info(self, classifier: SoundClassifier, version: str) -> ModelInfo:
        return model_info(classifier.manifest, version, installed_at_of(version))

    # -- remote management -----------------------------------------------------------------

    async def _report(self, slot: SensorSlot, draft: StateReportDraft) -> None:
        assert slot.runner is not None
        assert slot.link is not None
        report = state_report(draft, slot.runner.pending_tuning, slot.model, self.clock())
        await slot.link.publish_state(encode_command(report))

    def _command_handler(self, slot: SensorSlot) -> CommandHandler:
        site = self.config.site

        async def on_command(kind: str, payload: bytes) -> None:
            runner = slot.runner
            assert runner is not None
            if kind == "set":
                manifest = runner.pending_classifier.manifest
                # Off the event loop (commands come one at a time, so no change races another).
                outcome = await asyncio.to_thread(
                    handle_set,
                    topic(site, slot.id, "set"),
                    payload,
                    runner.pending_tuning,
                    manifest.labels,
                    model_thresholds(manifest),
                )
                report = outcome.report
                if outcome.changed:
                    runner.request_change(tuning=outcome.tuning)
                    log.info("%s: settings changed: %s", slot.id, ", ".join(outcome.changed))
                    try:
                        await asyncio.to_thread(
                            save_settings,
                            settings_path(self.config.state_dir, slot.id),
                            outcome.tuning,
                            slot.config.tuning,
                        )
                    except SettingsStoreError as error:
                        log.error("%s: %s; a restart will go back to them", slot.id, error)
                        report = replace(report, reason=f"applied, but not kept: {error}")
                elif not report.accepted:
                    log.warning("%s: settings change refused: %s", slot.id, report.reason)
                await self._report(slot, report)
            elif kind == "model":
                result = await asyncio.to_thread(
                    handle_model_chunk,
                    topic(site, slot.id, "model"),
                    payload,
                    slot.transfer,
                    slot.store,
                    load_and_run,
                    runner.pending_tuning,
                    time.monotonic(),
                    self.clock(),
                )
                if result.installed is not None and result.model is not None:
                    runner.request_change(classifier=result.installed.loaded)
                    slot.model = result.model
                    log.info("%s: model %s installed", slot.id, result.installed.version)
                elif result.status == "rejected":
                    log.warning(
                        "%s: model update refused: %s",
                        slot.id,
                        result.report.reason if result.report else "no reason given",
                    )
                if result.report is not None:
                    await self._report(slot, result.report)

        return on_command

    async def _roll_back(self, slot: SensorSlot, error: BaseException) -> bool:
        """After the model failed in use: the previous one, reported. False if none."""
        assert slot.runner is not None
        try:
            folder, draft = await asyncio.to_thread(roll_back, slot.store, error)
            classifier = await asyncio.to_thread(load_and_run, folder)
        except (ModelUpdateError, ModelError, ClassifierError) as failure:
            log.error("%s: cannot roll back the model: %s", slot.id, failure)
            return False
        slot.runner.replace_classifier(classifier)
        slot.model = self._info(classifier, folder.name)
        log.warning("%s", draft.reason)
        await self._report(slot, draft)
        return True

    async def _restore_settings(self, slot: SensorSlot, classifier: SoundClassifier) -> None:
        """The settings a ``set`` changed before the last restart, unless the configuration's
        changed since (``settings_store``)."""
        assert slot.runner is not None
        loaded = await asyncio.to_thread(
            load_settings,
            settings_path(self.config.state_dir, slot.id),
            slot.config.tuning,
            classifier.labels,
            model_thresholds(classifier.manifest),
        )
        if loaded.restored:
            slot.runner.request_change(tuning=loaded.tuning)
            log.info("%s: the settings changed remotely before the restart are in force", slot.id)
        elif loaded.note is not None:
            log.warning("%s: %s", slot.id, loaded.note)
            slot.startup = StateReportDraft(None, True, loaded.note)

    # -- heartbeat ---------------------------------------------------------------------------

    def heartbeat(self, slot: SensorSlot, cpu_percent: float) -> Callable[[int], bytes]:
        """A builder of the sensor's heartbeat message for a given sequence number (blocking:
        reads the outbox and the system; call it in a thread)."""
        assert self._outbox is not None
        assert slot.runner is not None
        runner = slot.runner
        manifest = runner.classifier.manifest
        source_stats = runner.source.stats if runner.source is not None else None
        dropped = runner.stats.backlog_drops + (source_stats.dropped_frames if source_stats else 0)
        calibration_date = slot.config.calibration_date
        outbox = self._outbox
        sensor = slot.id
        # Read before the builder runs: it runs inside the outbox's transaction.
        # What the outbox could not store (a full disk) counts as dropped too.
        depth = outbox.depth(sensor)
        outbox_dropped = outbox.dropped(sensor) + runner.stats.unstored
        temperature = health.temperature_c()
        disk_free = health.disk_free_bytes(self.config.state_dir)
        synced = health.clock_synced()
        problem = source_problem(runner.activity(slot.finished), self.clock())
        if problem != slot.problem:
            if problem is None:
                log.info("%s: measuring again", sensor)
            else:
                log.warning("%s: not measuring: %s", sensor, problem)
            slot.problem = problem
            if slot.link is not None:
                slot.link.set_health(problem)
        last_audio = runner.stats.last_audio_at

        def build(sequence: int) -> bytes:
            envelope = make_envelope(self.config.site, sensor, sequence, self.clock(), uuid.uuid4())
            return encode(
                HeartbeatMessage(
                    envelope,
                    uptime_s=round(time.monotonic() - self.started, 1),
                    cpu_percent=cpu_percent,
                    temperature_c=temperature,
                    disk_free_bytes=disk_free,
                    outbox_depth=depth,
                    outbox_dropped=outbox_dropped,
                    dropped_frames=dropped,
                    model_name=manifest.name,
                    model_sha256=manifest.model_sha256,
                    feature_params_hash=manifest.feature_params_hash,
                    clock_synced=synced,
                    calibration_date=calibration_date.isoformat() if calibration_date else None,
                    calibration_offset_db=slot.config.calibration_offset_db,
                    source_error=problem,
                    source_failures=slot.failures,
                    last_audio_at=None if last_audio is None else format_timestamp(last_audio),
                )
            )

        return build

    async def _heartbeats(self) -> None:
        outbox = self._outbox
        assert outbox is not None
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.config.heartbeat_s)
                return
            cpu = self._cpu.percent()
            for slot in self.slots:
                build = await asyncio.to_thread(self.heartbeat, slot, cpu)
                beat_topic = topic(self.config.site, slot.id, "heartbeat")
                try:
                    await asyncio.to_thread(outbox.enqueue, slot.id, beat_topic, build)
                except OutboxError as error:  # e.g. a full disk: measuring goes on
                    log.error("%s: the heartbeat could not be stored: %s", slot.id, error)
                    continue
                if slot.link is not None:
                    slot.link.notify()

    # -- sensors -----------------------------------------------------------------------------

    async def _supervise(self, slot: SensorSlot) -> None:
        """Run a sensor; retry its source with back-off when it fails; roll a failing model
        back."""
        assert slot.runner is not None
        delay = RETRY_MIN_S
        while not self.stop.is_set():
            try:
                await slot.runner.run(self.stop)
                break
            except SourceError as error:
                slot.failures += 1
                slot.runner.stats.last_error = str(error)
                slot.runner.stats.failed_at = self.clock()
                log.error("%s; retrying in %.0f s", error, delay)
            except (ModelError, ClassifierError) as error:
                # The model failed in use: only this rolls it back.
                slot.failures += 1
                slot.runner.stats.last_error = str(error)
                slot.runner.stats.failed_at = self.clock()
                log.error("%s: the model failed: %s", slot.id, error)
                if slot.store.previous_dir() is not None and not await self._roll_back(slot, error):
                    break
            except Exception as error:  # a bug: the other sensors keep running, this one retries
                slot.failures += 1
                slot.runner.stats.last_error = f"measuring failed: {one_line(error)}"
                slot.runner.stats.failed_at = self.clock()
                log.exception("%s: measuring failed; retrying in %.0f s", slot.id, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), delay)
            delay = min(delay * 2, RETRY_MAX_S)
        slot.finished = True
        if all(s.finished for s in self.slots):
            if not self.stop.is_set():
                log.info("every sensor's source has ended; stopping")
            self.stop.set()

    # -- the whole service -------------------------------------------------------------------

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stop.set)

    async def _open(self) -> Outbox:
        try:
            self.config.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AgentError(
                f"agent.state_dir: cannot create {self.config.state_dir} ({error.strerror})"
            ) from None
        try:
            outbox = await asyncio.to_thread(
                Outbox, self.config.outbox_path, self.config.outbox_max_bytes
            )
        except OutboxError as error:
            raise AgentError(str(error)) from None
        self._outbox = outbox
        return outbox

    async def run(self) -> None:
        self._install_signals()
        outbox = await self._open()
        try:
            for sensor in self.config.sensors:
                store, classifier, version = await asyncio.to_thread(self._model_in_force, sensor)
                slot = SensorSlot(sensor, store, self._info(classifier, version))
                slot.link = SensorLink(
                    link_settings(self.config, sensor),
                    self.config.site,
                    sensor.id,
                    outbox,
                    on_command=self._command_handler(slot),
                    clock=self.clock,
                )
                slot.runner = SensorRunner(
                    self.config.site,
                    sensor,
                    outbox,
                    slot.link.notify,
                    self.clock,
                    self.config.max_backlog_s,
                    classifier,
                )
                await self._restore_settings(slot, classifier)
                self.slots.append(slot)
            log.info(
                "agent started: site %s, %d sensor(s), broker %s:%d",
                self.config.site,
                len(self.slots),
                self.config.mqtt.host,
                self.config.mqtt.port,
            )
            links_stop = asyncio.Event()
            async with asyncio.TaskGroup() as group:
                links = [
                    group.create_task(slot.link.run(links_stop))
                    for slot in self.slots
                    if slot.link is not None
                ]
                for slot in self.slots:
                    await self._report(slot, slot.startup)
                sensors = [group.create_task(self._supervise(slot)) for slot in self.slots]
                beats = group.create_task(self._heartbeats())
                await self.stop.wait()
                await asyncio.gather(*sensors)
                beats.cancel()
                links_stop.set()
                await asyncio.gather(*links)
            log.info("agent stopped")
        finally:
            for slot in self.slots:
                if slot.runner is not None:
                    slot.runner.close()
            outbox.close()
