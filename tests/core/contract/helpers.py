"""Test helpers: the repository's contract folder and a minimal JSON Schema validator.

``jsonschema`` is not a dependency, so ``schema_errors`` implements the subset of draft 2020-12
that the exported documents use (type, const, enum, properties, required,
additionalProperties, items, minItems, minLength, minimum, maximum, exclusiveMinimum, pattern).
It refuses any other keyword so a new keyword in the schema cannot pass unchecked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from noisefleet_core.contract.topics import topic

REPO = Path(__file__).resolve().parents[3]
CONTRACT = REPO / "contract"
EXAMPLES = CONTRACT / "examples"
SCHEMAS = CONTRACT / "schema"
KINDS = ("levels", "events", "status", "heartbeat")

_ANNOTATIONS = {"$schema", "$id", "title", "description", "format"}
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def example_path(kind: str) -> Path:
    return EXAMPLES / f"{kind}.json"


def example_topic(kind: str) -> str:
    data = json.loads(example_path(kind).read_bytes())
    return topic(data["site"], data["sensor"], kind)  # type: ignore[arg-type]


def example_data(kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(example_path(kind).read_bytes())
    return data


def schema_errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every violation of ``schema`` by ``value`` (empty when valid)."""
    unknown = set(schema) - _ANNOTATIONS - {
        "type", "const", "enum", "properties", "required", "additionalProperties", "items",
        "minItems", "minLength", "minimum", "maximum", "exclusiveMinimum", "pattern", "anyOf",
    }  # fmt: skip
    if unknown:
        raise AssertionError(f"the test validator does not know {sorted(unknown)}")
    errors: list[str] = []
    if "anyOf" in schema and all(schema_errors(value, s, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return [*errors, f"{path}: not {types}"]
    if "const" in schema and (type(value), value) != (type(schema["const"]), schema["const"]):
        errors.append(f"{path}: not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: not in {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: too short")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(f"{path}: does not match {schema['pattern']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below minimum")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above maximum")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{path}: not above exclusiveMinimum")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: too few items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [
            f"{path}: missing {name}" for name in schema.get("required", []) if name not in value
        ]
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += schema_errors(item, schema["additionalProperties"], f"{path}.{key}")
    return errors
