"""JSON Schema (draft 2020-12) documents of the message and command kinds, from the field specs.

The documents are committed under ``contract/schema/`` at the repository root so that a contract
change shows up in review; ``contract/regenerate.py`` writes them from ``schema_files`` (this
module does no I/O) and a test fails when the committed files differ from it.
"""

from __future__ import annotations

import json

from noisefleet_core.contract.fields import JsonSchema, Record
from noisefleet_core.contract.topics import (
    COMMAND_KINDS,
    DATA_KINDS,
    SCHEMA_VERSION,
    TOPIC_KINDS,
    TopicKind,
)
from noisefleet_core.contract.wire_specs import command_spec, message_spec

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _spec(kind: TopicKind) -> Record:
    for data_kind in DATA_KINDS:
        if kind == data_kind:
            return message_spec(data_kind)
    for command_kind in COMMAND_KINDS:
        if kind == command_kind:
            return command_spec(command_kind)
    raise ValueError(f"unknown topic kind {kind!r}")


def json_schema(kind: TopicKind) -> JsonSchema:
    """The JSON Schema document of one message or command kind."""
    spec = _spec(kind)
    document: JsonSchema = {
        "$schema": DIALECT,
        "$id": f"urn:noisefleet:contract:v{SCHEMA_VERSION}:{kind}",
        "title": spec.description,
    }
    document.update(spec.schema())
    return document


def schema_filename(kind: TopicKind) -> str:
    return f"{kind}.schema.json"


def schema_text(kind: TopicKind) -> str:
    """The committed form: 2-space indent, sorted keys, trailing newline."""
    return json.dumps(json_schema(kind), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_files() -> dict[str, str]:
    """{file name: text} of every kind's schema, for the writer script and the test."""
    return {schema_filename(kind): schema_text(kind) for kind in TOPIC_KINDS}
