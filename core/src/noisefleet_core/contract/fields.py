"""Field specs: one definition per wire field, from which both checks and JSON Schema derive.

Each spec can

1. ``check`` a decoded JSON value, raising ``ContractError`` with the value's path and a one-line
   reason (the decoder and the encoder both use this), and
2. describe itself as a JSON Schema (draft 2020-12) fragment (``schema``), which
   ``noisefleet_core.contract.schema`` assembles into the exported documents.

Keeping both in one class is what stops the published schema and the decoder from drifting.
The checks are stricter than JSON Schema in one place: an ``Integer`` refuses ``1.0`` (JSON
Schema's ``integer`` accepts it), so the producer's types round-trip exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from noisefleet_core.contract.levels import TimestampError, parse_timestamp

JsonSchema = dict[str, Any]


class ContractError(ValueError):
    """A message or record does not follow the wire contract; the text says where and why."""


def describe(value: object) -> str:
    """The JSON type name of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _fail(path: str, reason: str) -> ContractError:
    return ContractError(f"{path}: {reason}")


def _with_description(schema: JsonSchema, description: str) -> JsonSchema:
    if description:
        schema["description"] = description
    return schema


class Spec:
    """One field's type and constraints."""

    description: str = ""

    def check(self, value: object, path: str) -> None:
        raise NotImplementedError

    def all_valid(self, values: list[Any]) -> bool:
        """Whether every value passes ``check``: a fast path for long arrays (no error paths
        are built; a failure is then located item by item with ``check``)."""
        try:
            for value in values:
                self.check(value, "")
        except ContractError:
            return False
        return True

    def schema(self) -> JsonSchema:
        raise NotImplementedError


@dataclass(frozen=True)
class String(Spec):
    description: str = ""
    min_length: int = 0
    pattern: str | None = None
    """A regular expression the whole string must match (anchored with ^...$ in the schema)."""
    enum: tuple[str, ...] | None = None

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, str):
            raise _fail(path, f"expected a string, got {describe(value)}")
        if len(value) < self.min_length:
            raise _fail(path, f"must have at least {self.min_length} character(s)")
        if self.enum is not None and value not in self.enum:
            raise _fail(path, f"{value!r} is not one of {', '.join(self.enum)}")
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            raise _fail(path, f"{value!r} does not match {self.pattern}")

    def schema(self) -> JsonSchema:
        out: JsonSchema = {"type": "string"}
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.min_length:
            out["minLength"] = self.min_length
        if self.pattern is not None:
            out["pattern"] = f"^{self.pattern}$"
        return _with_description(out, self.description)


@dataclass(frozen=True)
class Const(Spec):
    """Exactly this string or integer (``1`` is not ``true`` nor ``1.0``)."""

    value: str | int
    description: str = ""

    def check(self, value: object, path: str) -> None:
        if type(value) is not type(self.value) or value != self.value:
            raise _fail(path, f"expected {self.value!r}, got {value!r}")

    def all_valid(self, values: list[Any]) -> bool:
        return set(map(type, values)) <= {type(self.value)} and all(v == self.value for v in values)

    def schema(self) -> JsonSchema:
        return _with_description({"const": self.value}, self.description)


@dataclass(frozen=True)
class Integer(Spec):
    description: str = ""
    minimum: int | None = None

    def check(self, value: object, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, f"expected an integer, got {describe(value)}")
        if self.minimum is not None and value < self.minimum:
            raise _fail(path, f"{value} is below the minimum {self.minimum}")

    def all_valid(self, values: list[Any]) -> bool:
        if not set(map(type, values)) <= {int}:
            return False
        return self.minimum is None or not values or min(values) >= self.minimum

    def schema(self) -> JsonSchema:
        out: JsonSchema = {"type": "integer"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        return _with_description(out, self.description)


@dataclass(frozen=True)
class Number(Spec):
    """A finite JSON number (integers allowed)."""

    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None

    def check(self, value: object, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(path, f"expected a number, got {describe(value)}")
        if not math.isfinite(value):
            raise _fail(path, f"{value} is not a finite number")
        if self.minimum is not None and value < self.minimum:
            raise _fail(path, f"{value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise _fail(path, f"{value} is above the maximum {self.maximum}")
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            raise _fail(path, f"{value} must be greater than {self.exclusive_minimum}")

    def all_valid(self, values: list[Any]) -> bool:
        if not values:
            return True
        if not set(map(type, values)) <= {int, float} or not all(map(math.isfinite, values)):
            return False
        low, high = min(values), max(values)
        return (
            (self.minimum is None or low >= self.minimum)
            and (self.maximum is None or high <= self.maximum)
            and (self.exclusive_minimum is None or low > self.exclusive_minimum)
        )

    def schema(self) -> JsonSchema:
        out: JsonSchema = {"type": "number"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.exclusive_minimum is not None:
            out["exclusiveMinimum"] = self.exclusive_minimum
        return _with_description(out, self.description)


@dataclass(frozen=True)
class Boolean(Spec):
    description: str = ""

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, bool):
            raise _fail(path, f"expected true or false, got {describe(value)}")

    def all_valid(self, values: list[Any]) -> bool:
        return set(map(type, values)) <= {bool}

    def schema(self) -> JsonSchema:
        return _with_description({"type": "boolean"}, self.description)


# RFC 3339 in UTC as ``format_timestamp`` writes it; fractional seconds optional on input.
UTC_TIMESTAMP_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z"
_UTC_TIMESTAMP = re.compile(UTC_TIMESTAMP_PATTERN)
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"


@dataclass(frozen=True)
class Timestamp(Spec):
    """An aware UTC date-time string ending in ``Z`` (what ``format_timestamp`` writes)."""

    description: str = ""

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, str):
            raise _fail(path, f"expected an RFC 3339 UTC timestamp string, got {describe(value)}")
        if re.fullmatch(UTC_TIMESTAMP_PATTERN, value) is None:
            raise _fail(
                path,
                f"{value!r} is not an RFC 3339 UTC timestamp such as 2026-11-24T09:14:03.250Z "
                "(a time zone is required and must be Z)",
            )
        try:
            parse_timestamp(value)
        except TimestampError as error:
            raise _fail(path, str(error)) from error

    def all_valid(self, values: list[Any]) -> bool:
        if not set(map(type, values)) <= {str}:
            return False
        if not all(map(_UTC_TIMESTAMP.fullmatch, values)):
            return False
        try:
            for value in values:
                datetime.fromisoformat(value)
        except ValueError:
            return False
        return True

    def schema(self) -> JsonSchema:
        out: JsonSchema = {
            "type": "string",
            "format": "date-time",
            "pattern": f"^{UTC_TIMESTAMP_PATTERN}$",
        }
        return _with_description(out, self.description)


@dataclass(frozen=True)
class Date(Spec):
    """An RFC 3339 full-date, e.g. ``2026-10-02``."""

    description: str = ""

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, str):
            raise _fail(path, f"expected an RFC 3339 date string, got {describe(value)}")
        try:
            valid = re.fullmatch(DATE_PATTERN, value) is not None and bool(
                date.fromisoformat(value)
            )
        except ValueError:
            valid = False
        if not valid:
            raise _fail(path, f"{value!r} is not an RFC 3339 date such as 2026-10-02")

    def schema(self) -> JsonSchema:
        out: JsonSchema = {"type": "string", "format": "date", "pattern": f"^{DATE_PATTERN}$"}
        return _with_description(out, self.description)


@dataclass(frozen=True)
class AnyValue(Spec):
    """Any JSON value: for open objects whose entries a consumer validates itself (e.g. the
    edge's tunable settings, which depend on its build and model). Encoding still refuses what
    JSON cannot hold (NaN, non-JSON types)."""

    description: str = ""

    def check(self, value: object, path: str) -> None:
        return None

    def schema(self) -> JsonSchema:
        return _with_description({}, self.description)


@dataclass(frozen=True)
class Nullable(Spec):
    inner: Spec
    description: str = ""

    def check(self, value: object, path: str) -> None:
        if value is not None:
            self.inner.check(value, path)

    def all_valid(self, values: list[Any]) -> bool:
        return self.inner.all_valid([v for v in values if v is not None])

    def schema(self) -> JsonSchema:
        inner = self.inner.schema()
        if "type" in inner and "enum" not in inner:
            inner["type"] = [inner["type"], "null"]
        else:
            inner = {"anyOf": [inner, {"type": "null"}]}
        return _with_description(inner, self.description or self.inner.description)


@dataclass(frozen=True)
class ArrayOf(Spec):
    items: Spec
    description: str = ""
    min_items: int = 0

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, list):
            raise _fail(path, f"expected an array, got {describe(value)}")
        if len(value) < self.min_items:
            raise _fail(path, f"must hold at least {self.min_items} item(s), got {len(value)}")
        # The whole array is checked at once (column by column for records, at C speed for
        # numbers); paths are built only to report a failure, since formatting one per item
        # dominated decoding.
        if self.items.all_valid(value):
            return
        for index, item in enumerate(value):
            try:
                self.items.check(item, path)
            except ContractError:
                self.items.check(item, f"{path}[{index}]")
                raise

    def all_valid(self, values: list[Any]) -> bool:
        if not set(map(type, values)) <= {list}:
            return False
        if any(len(v) < self.min_items for v in values):
            return False
        flat = [item for v in values for item in v]
        return self.items.all_valid(flat)

    def schema(self) -> JsonSchema:
        out: JsonSchema = {"type": "array", "items": self.items.schema()}
        if self.min_items:
            out["minItems"] = self.min_items
        return _with_description(out, self.description)


@dataclass(frozen=True)
class MapOf(Spec):
    """An object with free string keys (e.g. labels) and values of one type."""

    values: Spec
    description: str = ""

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise _fail(path, f"expected an object, got {describe(value)}")
        for key, item in value.items():
            self.values.check(item, f"{path}.{key}")

    def all_valid(self, values: list[Any]) -> bool:
        if not set(map(type, values)) <= {dict}:
            return False
        return self.values.all_valid([item for v in values for item in v.values()])

    def schema(self) -> JsonSchema:
        out: JsonSchema = {"type": "object", "additionalProperties": self.values.schema()}
        return _with_description(out, self.description)


@dataclass(frozen=True)
class Record(Spec):
    """A closed JSON object: required and optional fields, nothing else."""

    required: Mapping[str, Spec]
    optional: Mapping[str, Spec] = field(default_factory=dict)
    description: str = ""
    _known: frozenset[str] = field(init=False, repr=False, compare=False)
    _fields: tuple[tuple[str, Spec], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_known", frozenset((*self.required, *self.optional)))
        object.__setattr__(self, "_fields", (*self.required.items(), *self.optional.items()))

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise _fail(path, f"expected an object, got {describe(value)}")
        missing = [name for name in self.required if name not in value]
        if missing:
            raise _fail(path, f"missing field(s) {', '.join(missing)}")
        if value.keys() - self._known:
            unknown = sorted(k for k in value if k not in self._known)
            raise _fail(path, f"unknown field(s) {', '.join(map(str, unknown))}")
        for name, spec in self._fields:
            if name in value:
                # The field's path is formatted only when it fails (the check is repeated
                # with it): building one string per field dominated decoding.
                try:
                    spec.check(value[name], path)
                except ContractError:
                    spec.check(value[name], f"{path}.{name}")
                    raise

    def all_valid(self, values: list[Any]) -> bool:
        """Column by column: each field's values across all records in one call."""
        if not set(map(type, values)) <= {dict}:
            return False
        required = self.required.keys()
        for value in values:
            if value.keys() - self._known or not required <= value.keys():
                return False
        for name, spec in self._fields:
            column = [v[name] for v in values if name in v]
            if column and not spec.all_valid(column):
                return False
        return True

    def schema(self) -> JsonSchema:
        properties = {name: spec.schema() for name, spec in self.required.items()}
        properties.update({name: spec.schema() for name, spec in self.optional.items()})
        out: JsonSchema = {
            "type": "object",
            "properties": properties,
            "required": list(self.required),
            "additionalProperties": False,
        }
        return _with_description(out, self.description)
