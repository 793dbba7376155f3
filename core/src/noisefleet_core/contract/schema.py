"""JSON Schema (draft 2020-12) documents of the message kinds, derived from the field specs.

The documents are committed under ``contract/schema/`` at the repository root so that a contract
change shows up in review; ``contract/regenerate.py`` writes them from ``schema_files`` (this
module does no I/O) and a test fails when the committed files differ from it.
"""

from __future__ import annotations

import json

from noisefleet_core.contract.fields import JsonSchema
from noisefleet_core.contract.topics import DATA_KINDS, SCHEMA_VERSION, DataKind
from noisefleet_core.contract.wire_specs import message_spec

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(kind: DataKind) -> JsonSchema:
    """The JSON Schema document of one message kind."""
    document: JsonSchema = {
        "$schema": DIALECT,
        "$id": f"urn:noisefleet:contract:v{SCHEMA_VERSION}:{kind}",
        "title": f"noisefleet v{SCHEMA_VERSION} {kind} message",
    }
    document.update(message_spec(kind).schema())
    return document


def schema_filename(kind: DataKind) -> str:
    return f"{kind}.schema.json"


def schema_text(kind: DataKind) -> str:
    """The committed form: 2-space indent, sorted keys, trailing newline."""
    return json.dumps(json_schema(kind), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_files() -> dict[str, str]:
    """{file name: text} of every kind's schema, for the writer script and the test."""
    return {schema_filename(kind): schema_text(kind) for kind in DATA_KINDS}
