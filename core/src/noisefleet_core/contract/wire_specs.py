"""The field specs of every message and command kind: the single source the decoders and the
schema use.

The level and event records are carried unchanged from ``level_record_to_wire`` and
``contract.events.event_to_wire``; their specs here list exactly the keys those functions emit
(plus the optional ``source``, ``channel`` and, for levels, ``energy_shares``).
"""

from __future__ import annotations

from collections.abc import Mapping

from noisefleet_core.contract.fields import (
    AnyValue,
    ArrayOf,
    Boolean,
    Const,
    Date,
    Integer,
    MapOf,
    Nullable,
    Number,
    Record,
    Spec,
    String,
    Timestamp,
)
from noisefleet_core.contract.levels import LEVEL_FIELDS, LEVEL_KIND
from noisefleet_core.contract.topics import ID_PATTERN, SCHEMA_VERSION, CommandKind, DataKind

EVENT_RECORD_KIND = "event"
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SHA256_PATTERN = r"[0-9a-f]{64}"

EVENT_PHASES = ("start", "end")
STATUS_STATES = ("online", "degraded", "offline", "stopped")

_OPTIONAL_ORIGIN: dict[str, Spec] = {
    "source": String(description="Where the audio came from (file name or device)."),
    "channel": Integer(minimum=0, description="Audio channel index, from 0."),
}

HISTOGRAM = Record(
    required={
        "bin_width_db": Number(exclusive_minimum=0, description="Width of one bin in dB."),
        "first_bin": Integer(description="Index of counts[0]: its bin starts at this x width."),
        "counts": ArrayOf(Integer(minimum=0), description="LAF samples per bin."),
    },
    description="Histogram of the interval's LAF values (for percentiles over any period).",
)

LEVEL_RECORD = Record(
    required={
        "kind": Const(LEVEL_KIND),
        "start": Timestamp(description="Start of the interval."),
        "end": Timestamp(description="End of the interval (exclusive)."),
        "duration_s": Number(minimum=0),
        **{name: Nullable(Number()) for name in LEVEL_FIELDS},
        "laf_histogram": HISTOGRAM,
        "coverage": Number(minimum=0, maximum=1, description="Share of valid samples."),
        "clipped_samples": Integer(minimum=0),
        "invalid_samples": Integer(minimum=0),
        "calibrated": Boolean(description="Whether the levels are dB SPL (else dBFS)."),
        "calibration_offset_db": Nullable(Number()),
        "sample_rate_hz": Integer(minimum=1),
    },
    optional={
        **_OPTIONAL_ORIGIN,
        "energy_shares": MapOf(
            Number(minimum=0, maximum=1),
            description="Share of the interval's A-weighted energy per label.",
        ),
    },
    description="One level record as level_record_to_wire writes it.",
)

EVENT_RECORD = Record(
    required={
        "kind": Const(EVENT_RECORD_KIND),
        "event_id": String(min_length=1),
        "label": String(min_length=1),
        "start": Timestamp(),
        "end": Timestamp(),
        "duration_s": Number(minimum=0),
        "confidence_peak": Nullable(Number()),
        "confidence_mean": Nullable(Number()),
        "laeq_db": Number(),
        "lafmax_db": Number(),
        "lae_db": Number(),
        "runner_up": ArrayOf(
            Record(required={"label": String(min_length=1), "score": Number()}),
            description="The next most likely labels with their mean scores.",
        ),
        "part": Integer(minimum=1, description="1 for the first part of an event."),
        "final": Boolean(description="False for a part cut while the event goes on."),
    },
    optional=_OPTIONAL_ORIGIN,
    description="One event report as contract.events.event_to_wire writes it (no audio).",
)

ENVELOPE_FIELDS: dict[str, Spec] = {
    "schema_version": Const(SCHEMA_VERSION, description="Contract version of this message."),
    "message_id": String(
        pattern=UUID_PATTERN, description="UUID of this message, lowercase with hyphens."
    ),
    "site": String(pattern=ID_PATTERN, description="Site id, as in the topic."),
    "sensor": String(pattern=ID_PATTERN, description="Sensor id, as in the topic."),
    "sequence": Integer(
        minimum=0, description="Per-sensor sequence number, +1 per message, never reused."
    ),
    "sent_at": Timestamp(description="When the sensor built the message (UTC)."),
    "replayed": Boolean(description="True for messages replayed from the outbox backlog."),
}

BODY_FIELDS: Mapping[DataKind, dict[str, Spec]] = {
    "levels": {
        "records": ArrayOf(LEVEL_RECORD, min_items=1, description="Level records, oldest first."),
    },
    "events": {
        "phase": String(enum=EVENT_PHASES, description="Reported at the event's start or end."),
        "events": ArrayOf(EVENT_RECORD, min_items=1),
    },
    "status": {
        "state": String(
            enum=STATUS_STATES,
            description="online (retained), degraded (connected, but the sensor does not "
            "measure: see reason), offline (the Last Will) or stopped (clean exit).",
        ),
        "reason": Nullable(String(), description="Why the state changed, if known."),
    },
    "heartbeat": {
        "uptime_s": Number(minimum=0),
        "cpu_percent": Number(minimum=0),
        "temperature_c": Nullable(Number(), description="SoC temperature, if available."),
        "disk_free_bytes": Integer(minimum=0),
        "outbox_depth": Integer(minimum=0, description="Messages waiting to be sent."),
        "outbox_dropped": Integer(minimum=0, description="Messages dropped by outbox limits."),
        "dropped_frames": Integer(minimum=0, description="Audio frames lost since start."),
        "model_name": String(min_length=1),
        "model_sha256": String(pattern=SHA256_PATTERN),
        "feature_params_hash": String(min_length=1),
        "clock_synced": Boolean(description="Whether the system clock is NTP/PTP synchronised."),
        "calibration_date": Nullable(Date(), description="Date of the last calibration."),
        "calibration_offset_db": Nullable(Number()),
        "source_error": Nullable(
            String(min_length=1),
            description="Why the sensor is not measuring now (its source failed or sends no "
            "audio); null while it measures.",
        ),
        "source_failures": Integer(minimum=0, description="Times the source failed since start."),
        "last_audio_at": Nullable(
            Timestamp(), description="When the source last delivered audio; null: never."
        ),
    },
}


def message_spec(kind: DataKind) -> Record:
    """The whole message of one kind: envelope fields, ``kind`` and the body."""
    return Record(
        required={
            **ENVELOPE_FIELDS,
            "kind": Const(kind, description="The message kind, as in the topic."),
            **BODY_FIELDS[kind],
        },
        description=f"noisefleet v{SCHEMA_VERSION} {kind} message",
    )


# --- Commands between the server and an edge agent (``contract.commands``) ---

MAX_CHUNK_BYTES = 64 * 1024
"""Most archive bytes one ``model`` chunk carries (about 87 KiB of base64 on the wire)."""
BASE64_PATTERN = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
ONE_LINE_PATTERN = r"[^\r\n]+"

MODEL_INFO = Record(
    required={
        "name": String(min_length=1, description="The model's name from its model.json."),
        "sha256": String(pattern=SHA256_PATTERN, description="SHA-256 of model.tflite."),
        "feature_params_hash": String(min_length=1),
        "version": String(
            min_length=1, description="The agent's name for this installed copy of the model."
        ),
        "installed_at": Nullable(
            Timestamp(), description="When the agent installed it; null for the shipped model."
        ),
    },
    description="The model in force.",
)

COMMAND_FIELDS: Mapping[CommandKind, dict[str, Spec]] = {
    "set": {
        "request_id": String(
            pattern=UUID_PATTERN, description="UUID of this request; the state report echoes it."
        ),
        "issued_at": Timestamp(description="When the server issued the request (UTC)."),
        "changes": MapOf(
            AnyValue(),
            description=(
                "Setting name to new value, applied all or nothing over the settings in force; "
                "the agent validates names and values and reports a rejection with its reason. "
                "Empty: only ask for a fresh state report."
            ),
        ),
    },
    "state": {
        "request_id": Nullable(
            String(pattern=UUID_PATTERN),
            description=(
                "The set command's request_id or the model transfer's transfer_id this report "
                "answers; null for reports the agent makes on its own (start-up, rollback)."
            ),
        ),
        "accepted": Boolean(description="Whether the request was applied."),
        "reason": Nullable(
            String(pattern=ONE_LINE_PATTERN),
            description="One line: why a request was rejected, or a note (e.g. a rollback).",
        ),
        "settings": MapOf(AnyValue(), description="Every tunable setting now in force."),
        "model": Nullable(MODEL_INFO, description="The model in force; null without one."),
        "reported_at": Timestamp(description="When the agent made this report (UTC)."),
    },
    "model": {
        "transfer_id": String(
            pattern=UUID_PATTERN, description="UUID of the transfer; every chunk carries it."
        ),
        "index": Integer(minimum=0, description="Position of this chunk, from 0."),
        "count": Integer(minimum=1, description="Number of chunks in the transfer."),
        "archive_sha256": String(
            pattern=SHA256_PATTERN, description="SHA-256 of the whole archive (tar or tar.gz)."
        ),
        "archive_bytes": Integer(minimum=1, description="Size of the whole archive."),
        "data": String(
            min_length=4,
            pattern=BASE64_PATTERN,
            description=f"Base64 of this chunk's bytes (1 to {MAX_CHUNK_BYTES} bytes).",
        ),
    },
}


def command_spec(kind: CommandKind) -> Record:
    """The whole command of one kind: ``schema_version``, ``kind`` and the body."""
    return Record(
        required={
            "schema_version": Const(SCHEMA_VERSION, description="Contract version."),
            "kind": Const(kind, description="The command kind, as in the topic."),
            **COMMAND_FIELDS[kind],
        },
        description=f"noisefleet v{SCHEMA_VERSION} {kind} command",
    )
