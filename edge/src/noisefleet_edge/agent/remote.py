"""Remote management of one sensor: from a ``set`` or ``model`` payload to what the agent applies
and the state report it publishes. The agent service stays a thin shell around these functions.

``set`` (``handle_set``, bounded: the contract's limits refuse an oversized, deeply nested or
long-numbered payload before parsing, and every check is linear; the agent still runs it in a
thread so the event loop only moves audio and messages):
1. decode the payload (malformed: rejected with the ``ContractError``'s reason, and with the
   request id when the payload carries a readable one, so the server can match the answer);
2. lay the changes over the settings in force (``tuning_from_mapping``: known names, types,
   ranges, labels of the model, what the detector accepts; all or nothing);
3. return the tuning now in force, the names that changed (what the agent must rebuild) and a
   draft report: accepted, or rejected with the one-line reason and the settings unchanged.
   An empty change is accepted and only asks for a fresh report.

``model`` (``handle_model_chunk``, blocking: run it in a thread, one chunk at a time):
1. decode the chunk (malformed: rejected, with the transfer id when readable);
2. ``ModelTransfer.offer``: chunks in any order, duplicates and chunks of ended transfers
   ignored, a stalled or replaced transfer dropped (``dropped``, for the agent's log; the
   server, which replaced or abandoned it, needs no answer), an oversized one refused;
3. when the last chunk is in, ``ModelStore.install``: the archive's SHA-256, safe extraction,
   model.tflite's SHA-256 and the feature hash, then that the settings in force fit the new
   model's labels and tuned thresholds (else the model is refused: change the settings first),
   then ``try_load`` (the agent builds its classifier and runs it once on silence), then the
   atomic swap; any failure keeps the model in force;
4. return the outcome: ``receiving``/``ignored`` (no report), ``installed`` (the loaded object
   and the ``ModelInfo`` to report) or ``rejected`` (with the reason).

At run time (``roll_back``): when the new model fails in use, the agent makes ``previous``
current again, reloads it and reports why (a report of its own: no request id).

A report is built with ``state_report(draft, tuning, model, reported_at)``: the agent owns the
clock and knows the model in force. At start-up it publishes ``state_report(STARTUP, …)``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Generic, Literal, TypeVar

from noisefleet_core.contract.commands import (
    ContractError,
    ModelChunk,
    ModelInfo,
    SetCommand,
    StateReport,
    decode_command,
)
from noisefleet_core.contract.limits import check_command_limits
from noisefleet_core.contract.topics import CommandKind
from noisefleet_core.models.manifest import ModelManifest
from noisefleet_edge.agent.model_store import InstalledModel, ModelStore
from noisefleet_edge.agent.model_transfer import (
    ChunkProgress,
    ModelTransfer,
    ModelUpdateError,
    one_line,
)
from noisefleet_edge.agent.tuning import (
    ModelThresholds,
    SensorTuning,
    TuningError,
    changed_settings,
    check_fits_model,
    model_thresholds,
    tuning_from_mapping,
    tuning_to_mapping,
)

T = TypeVar("T")


@dataclass(frozen=True)
class StateReportDraft:
    """A state report without what only the agent knows (clock, model in force, settings)."""

    request_id: str | None
    """The request answered (set request_id or model transfer_id); None for the agent's own."""
    accepted: bool
    reason: str | None
    """One line; set when rejected, or a note (e.g. a rollback)."""


STARTUP = StateReportDraft(None, True, None)
"""The report the agent publishes (retained) when it starts."""


def state_report(
    draft: StateReportDraft,
    tuning: SensorTuning,
    model: ModelInfo | None,
    reported_at: datetime,
) -> StateReport:
    """The full state report: the draft plus every setting and the model in force."""
    return StateReport(
        request_id=draft.request_id,
        accepted=draft.accepted,
        reason=draft.reason,
        settings=tuning_to_mapping(tuning),
        model=model,
        reported_at=reported_at,
    )


def model_info(manifest: ModelManifest, version: str, installed_at: datetime | None) -> ModelInfo:
    """How a state report describes a model (``installed_at`` None for a shipped model)."""
    return ModelInfo(
        name=manifest.name,
        sha256=manifest.model_sha256,
        feature_params_hash=manifest.feature_params_hash,
        version=version,
        installed_at=installed_at,
    )


def _readable_id(payload: bytes, name: str, kind: CommandKind) -> str | None:
    """The payload's request or transfer id when it has a valid one, even if the rest is bad.

    A payload beyond the contract's limits is not parsed (that is what the limits prevent):
    its id is looked for as text instead, and used when it appears exactly once."""
    try:
        check_command_limits(kind, payload)
    except ContractError:
        found = re.findall(rb'"%s"\s*:\s*"([0-9a-f-]{36})"' % name.encode(), payload)
        value: object = found[0].decode() if len(found) == 1 else None
    else:
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):
            return None
        value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return value if str(uuid.UUID(value)) == value else None
    except ValueError:
        return None


def _rejected(request_id: str | None, reason: object) -> StateReportDraft:
    return StateReportDraft(request_id, False, one_line(reason))


@dataclass(frozen=True)
class SetOutcome:
    """What a ``set`` command did."""

    tuning: SensorTuning
    """The settings in force now (unchanged when rejected)."""
    changed: tuple[str, ...]
    """Names of the settings that changed (empty when rejected or nothing changed)."""
    report: StateReportDraft


def handle_set(
    topic_text: str,
    payload: bytes,
    current: SensorTuning,
    labels: tuple[str, ...],
    thresholds: ModelThresholds | None = None,
) -> SetOutcome:
    """Apply a ``set`` command over the settings in force (``thresholds``: the model's tuned
    per-label thresholds, so the check matches what the detector will run with)."""
    try:
        command = decode_command(topic_text, payload)
    except ContractError as error:
        return SetOutcome(current, (), _rejected(_readable_id(payload, "request_id", "set"), error))
    if not isinstance(command, SetCommand):
        reason = f"expected a set command on {topic_text}, got a {command.KIND} command"
        return SetOutcome(current, (), _rejected(None, reason))
    try:
        tuning = tuning_from_mapping(command.changes, labels, current, thresholds)
    except TuningError as error:
        return SetOutcome(current, (), _rejected(command.request_id, error))
    draft = StateReportDraft(command.request_id, True, None)
    return SetOutcome(tuning, changed_settings(current, tuning), draft)


ModelStatus = Literal["receiving", "ignored", "installed", "rejected"]


@dataclass(frozen=True)
class ModelOutcome(Generic[T]):
    """What one ``model`` chunk did."""

    status: ModelStatus
    """receiving: more chunks to come; ignored: a duplicate or a chunk of an ended transfer;
    installed: the new model is current; rejected: see the report's reason."""
    transfer_id: str | None
    report: StateReportDraft | None = None
    """To publish (installed or rejected); None while receiving or for an ignored chunk."""
    installed: InstalledModel[T] | None = None
    """The new model, with what ``try_load`` returned for it (the agent's classifier)."""
    progress: ChunkProgress | None = None
    dropped: tuple[str, ...] = ()
    """Unfinished transfers this chunk made the agent drop (stalled or replaced)."""

    @property
    def model(self) -> ModelInfo | None:
        """The new model as the state report describes it (installed only)."""
        if self.installed is None:
            return None
        manifest = self.installed.manifest
        return model_info(manifest, self.installed.version, self.installed.installed_at)


def _fits_settings(tuning: SensorTuning) -> Callable[[ModelManifest], None]:
    def accept(manifest: ModelManifest) -> None:
        try:
            check_fits_model(tuning, manifest.labels, model_thresholds(manifest))
        except TuningError as error:
            raise TuningError(
                f"the settings in force do not fit model {manifest.name!r} ({error}); "
                "change them first"
            ) from None

    return accept


def handle_model_chunk(
    topic_text: str,
    payload: bytes,
    transfer: ModelTransfer,
    store: ModelStore,
    try_load: Callable[[Path], T],
    tuning: SensorTuning,
    now_s: float,
    installed_at: datetime,
) -> ModelOutcome[T]:
    """Take one ``model`` chunk; install the model once the transfer is complete.

    ``now_s``: a monotonic clock (for stalled transfers); ``installed_at``: the wall clock
    (names the installed version). Blocking when it completes a transfer: run it in a thread."""
    try:
        chunk = decode_command(topic_text, payload)
    except ContractError as error:
        transfer_id = _readable_id(payload, "transfer_id", "model")
        return ModelOutcome("rejected", transfer_id, _rejected(transfer_id, error))
    if not isinstance(chunk, ModelChunk):
        reason = f"expected a model chunk on {topic_text}, got a {chunk.KIND} command"
        return ModelOutcome("rejected", None, _rejected(None, reason))
    try:
        progress = transfer.offer(chunk, now_s)
    except ModelUpdateError as error:
        return ModelOutcome("rejected", chunk.transfer_id, _rejected(chunk.transfer_id, error))
    if progress.status in ("duplicate", "ended"):
        return ModelOutcome("ignored", chunk.transfer_id, None, None, progress, progress.dropped)
    if progress.archive is None:
        return ModelOutcome("receiving", chunk.transfer_id, None, None, progress, progress.dropped)
    try:
        installed = store.install(
            progress.archive,
            progress.archive_sha256,
            try_load,
            installed_at,
            accept=_fits_settings(tuning),
        )
    except ModelUpdateError as error:
        draft = _rejected(chunk.transfer_id, error)
        return ModelOutcome("rejected", chunk.transfer_id, draft, None, progress, progress.dropped)
    draft = StateReportDraft(chunk.transfer_id, True, None)
    return ModelOutcome(
        "installed", chunk.transfer_id, draft, installed, progress, progress.dropped
    )


def roll_back(store: ModelStore, why: object) -> tuple[Path, StateReportDraft]:
    """Make the previous model current again after the new one failed in use; the folder to
    load and the report to publish. ``ModelUpdateError`` when there is no previous model."""
    failed = store.current_version()
    folder = store.rollback()
    note = f"model {failed} failed in use and was rolled back to {folder.name}: {one_line(why)}"
    return folder, StateReportDraft(None, True, note)
