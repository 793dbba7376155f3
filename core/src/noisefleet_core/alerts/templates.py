"""Regulation templates: limits from laws, standards and guidelines, shipped as data.

Each ``templates/*.toml`` file next to this module is one template: a ``[template]`` table (title,
source citation, what an automatic monitor can and cannot check, how each number was verified),
``[[parameters]]`` (choices such as the area type, or numbers such as a measured ambient level),
optional ``[constants]`` and ``[[rules]]`` in the rule format of ``rules.parse_rules`` with
``{placeholders}``. ``expand_template`` turns a template and parameter values into rule dicts:

1. find the template (``TemplateError`` listing the templates when unknown);
2. check the parameters: unknown names, choices outside the list and numbers outside the range
   are errors naming what is allowed; missing parameters take their default or are errors;
3. build the context: constants, each parameter's value under its name, the chosen choice's
   table, and for numbers the band (``[[parameters.bands]]``) their value falls in, rounded to
   ``round_to`` first when given (BS 5228's "ambient rounded to the nearest 5 dB");
4. resolve placeholders in every rule whose ``when`` matches: a string that is exactly
   ``"{name}"`` becomes the value (number, list or table), a sum such as ``"{day_db} + 30"``
   becomes a number, any other string has its ``{name}``s replaced by text;
5. prefix the rule ids (``<id_prefix or template id>.<rule id>``) and add ``sites``/``sensors``.

Reading the TOML files is the only input: they are package data read once through
``importlib.resources`` and cached. No clock, no other I/O.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from noisefleet_core.alerts.errors import AlertError

ParamValue = str | float

_PLACEHOLDER: Final = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_TERM: Final = r"(?:\{[a-z][a-z0-9_]*\}|\d+(?:\.\d+)?)"
_SUM: Final = re.compile(rf"^\s*{_TERM}(?:\s*[+-]\s*{_TERM})*\s*$")
_SUM_PART: Final = re.compile(rf"([+-]?)\s*({_TERM})")
_EXPANSION_KEYS: Final = ("when",)


class TemplateError(AlertError):
    """A template or its parameters are wrong; the one-line message says what is allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


@dataclass(frozen=True)
class TemplateParameter:
    """One parameter of a template: a choice from a list, or a number in a range."""

    name: str
    description: str
    kind: str
    """``choice`` or ``number``."""
    choices: tuple[str, ...] = ()
    """The allowed values of a choice parameter, in the file's order."""
    choice_labels: tuple[str, ...] = ()
    """A human label per choice (same order as ``choices``)."""
    default: ParamValue | None = None
    """The value used when the parameter is not given; None: it must be given."""
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""

    def allowed(self) -> str:
        """The allowed values in words, for error messages and the CLI."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        unit = f" {self.unit}" if self.unit else ""
        return f"a number from {self.minimum:g} to {self.maximum:g}{unit}"


@dataclass(frozen=True)
class Verification:
    """How one number of a template was checked against its source."""

    item: str
    status: str
    """``primary``, ``secondary`` (with the source in ``where``) or ``unconfirmed``."""
    where: str


@dataclass(frozen=True)
class TemplateInfo:
    """What a template is for and where its numbers come from (the ``[template]`` table)."""

    id: str
    title: str
    jurisdiction: str
    source: str
    """Full citation of the primary text."""
    url: str
    assesses: str
    monitor_checks: str
    """What an automatic monitor can check with this template's rules."""
    monitor_cannot_check: str
    """What it cannot (penalties set by an assessor, holidays, annual averages, …)."""
    notes: tuple[str, ...]
    verified: tuple[Verification, ...]
    parameters: tuple[TemplateParameter, ...]


@dataclass(frozen=True)
class _Template:
    info: TemplateInfo
    constants: Mapping[str, Any]
    choice_tables: Mapping[str, Mapping[str, Mapping[str, Any]]]
    """parameter name → choice → table of values."""
    bands: Mapping[str, tuple[tuple[float | None, Mapping[str, Any]], ...]]
    """number parameter name → ((upto, values), …), the last band's upto is None."""
    round_to: Mapping[str, float]
    rules: tuple[Mapping[str, Any], ...]


def list_templates() -> list[TemplateInfo]:
    """Every template shipped with noisefleet, ordered by id."""
    return [template.info for template in _templates().values()]


def get_template(template_id: str) -> TemplateInfo:
    """The description of one template; ``TemplateError`` when there is none of that id."""
    return _find(template_id).info


def expand_template(
    template_id: str,
    params: Mapping[str, ParamValue],
    *,
    sites: Sequence[str] | None = None,
    sensors: Sequence[str] | None = None,
    id_prefix: str | None = None,
) -> list[dict[str, Any]]:
    """The rules a template yields for these parameters, as dicts ready for ``parse_rules``."""
    template = _find(template_id)
    values = _check_params(template, params)
    context = _context(template, values)
    prefix = template.info.id if id_prefix is None else id_prefix
    rules: list[dict[str, Any]] = []
    for raw in template.rules:
        if not _applies(raw.get("when"), values):
            continue
        body = {key: value for key, value in raw.items() if key not in _EXPANSION_KEYS}
        rule = _resolve(body, context, f"template {template.info.id} rule {raw['id']}")
        assert isinstance(rule, dict)
        rule["id"] = f"{prefix}.{rule['id']}" if prefix else rule["id"]
        if sites is not None:
            rule["sites"] = list(sites)
        if sensors is not None:
            rule["sensors"] = list(sensors)
        rules.append(rule)
    return rules


def _find(template_id: str) -> _Template:
    templates = _templates()
    if template_id not in templates:
        raise TemplateError(f"unknown template {template_id!r}; templates: {', '.join(templates)}")
    return templates[template_id]


def _check_params(template: _Template, params: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
    info = template.info
    known = {parameter.name: parameter for parameter in info.parameters}
    for name in params:
        if name not in known:
            names = ", ".join(known) if known else "none"
            raise TemplateError(
                f"template {info.id}: unknown parameter {name!r}; parameters: {names}"
            )
    values: dict[str, ParamValue] = {}
    for parameter in info.parameters:
        where = f"template {info.id}: parameter {parameter.name}"
        if parameter.name in params:
            given = params[parameter.name]
        elif parameter.default is not None:
            given = parameter.default
        else:
            raise TemplateError(f"{where} is required ({parameter.allowed()})")
        values[parameter.name] = _check_value(parameter, given, where)
    return values


def _check_value(parameter: TemplateParameter, given: object, where: str) -> ParamValue:
    if parameter.kind == "choice":
        if not isinstance(given, str) or given not in parameter.choices:
            raise TemplateError(f"{where}: must be {parameter.allowed()}, got {given!r}")
        return given
    number: float | None = None
    if isinstance(given, int | float) and not isinstance(given, bool):
        number = float(given)
    elif isinstance(given, str):
        try:
            number = float(given)
        except ValueError:
            number = None
    assert parameter.minimum is not None
    assert parameter.maximum is not None
    if number is None or not math.isfinite(number):
        raise TemplateError(f"{where}: must be {parameter.allowed()}, got {given!r}")
    if not parameter.minimum <= number <= parameter.maximum:
        raise TemplateError(f"{where}: must be {parameter.allowed()}, got {number:g}")
    return number


def _context(template: _Template, values: Mapping[str, ParamValue]) -> dict[str, Any]:
    where = f"template {template.info.id}"
    context: dict[str, Any] = dict(template.constants)
    context.update(values)
    for name, value in values.items():
        if name in template.choice_tables:
            table = dict(template.choice_tables[name][str(value)])
            context[f"{name}_label"] = str(table.pop("label", value))
            context.update(_resolve(table, context, where))
        elif name in template.bands:
            assert isinstance(value, float)
            step = template.round_to.get(name)
            rounded = _round_half_up(value, step) if step else value
            context[f"{name}_rounded"] = rounded
            for upto, band in template.bands[name]:
                if upto is None or rounded <= upto:
                    context.update(_resolve(dict(band), context, where))
                    break
    return context


def _round_half_up(value: float, step: float) -> float:
    return math.floor(value / step + 0.5) * step


def _applies(when: object, values: Mapping[str, ParamValue]) -> bool:
    if when is None:
        return True
    assert isinstance(when, dict)
    return all(values.get(name) in allowed for name, allowed in when.items())


def _resolve(value: object, context: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, dict):
        return {key: _resolve(item, context, where) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, context, where) for item in value]
    if not isinstance(value, str) or "{" not in value:
        return copy.deepcopy(value)
    whole = _PLACEHOLDER.fullmatch(value.strip())
    if whole is not None:
        return copy.deepcopy(_lookup(whole.group(1), context, where))
    if _SUM.match(value):
        return _sum(value, context, where)

    def text(match: re.Match[str]) -> str:
        found = _lookup(match.group(1), context, where)
        if isinstance(found, float | int) and not isinstance(found, bool):
            return f"{found:g}"
        if isinstance(found, str):
            return found
        raise TemplateError(f"{where}: {{{match.group(1)}}} is not text or a number")

    return _PLACEHOLDER.sub(text, value)


def _sum(expression: str, context: Mapping[str, Any], where: str) -> float:
    total = 0.0
    for sign, term in _SUM_PART.findall(expression):
        if term.startswith("{"):
            found = _lookup(term[1:-1], context, where)
            if not isinstance(found, int | float) or isinstance(found, bool):
                raise TemplateError(f"{where}: {term} in {expression!r} is not a number")
            number = float(found)
        else:
            number = float(term)
        total = total - number if sign == "-" else total + number
    return total


def _lookup(name: str, context: Mapping[str, Any], where: str) -> Any:
    if name not in context:
        raise TemplateError(f"{where}: unknown placeholder {{{name}}}")
    return context[name]


@functools.cache
def _templates() -> dict[str, _Template]:
    folder = resources.files("noisefleet_core.alerts").joinpath("templates")
    loaded: dict[str, _Template] = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".toml"):
            continue
        try:
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            template = _parse_template(data)
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
            raise TemplateError(f"template file {entry.name}: {error}") from error
        if template.info.id in loaded:
            raise TemplateError(f"template file {entry.name}: duplicate id {template.info.id}")
        loaded[template.info.id] = template
    return dict(sorted(loaded.items()))


def _parse_template(data: Mapping[str, Any]) -> _Template:
    head = data["template"]
    parameters: list[TemplateParameter] = []
    choice_tables: dict[str, Mapping[str, Mapping[str, Any]]] = {}
    bands: dict[str, tuple[tuple[float | None, Mapping[str, Any]], ...]] = {}
    round_to: dict[str, float] = {}
    for raw in data.get("parameters", []):
        name = str(raw["name"])
        if "choices" in raw:
            choices: Mapping[str, Mapping[str, Any]] = raw["choices"]
            choice_tables[name] = choices
            parameters.append(
                TemplateParameter(
                    name=name,
                    description=str(raw["description"]),
                    kind="choice",
                    choices=tuple(choices),
                    choice_labels=tuple(
                        str(table.get("label", key)) for key, table in choices.items()
                    ),
                    default=raw.get("default"),
                )
            )
            continue
        bands[name] = tuple(
            (None if "upto" not in band else float(band["upto"]), band.get("values", {}))
            for band in raw.get("bands", [])
        )
        if "round_to" in raw:
            round_to[name] = float(raw["round_to"])
        default = raw.get("default")
        parameters.append(
            TemplateParameter(
                name=name,
                description=str(raw["description"]),
                kind="number",
                default=None if default is None else float(default),
                minimum=float(raw["min"]),
                maximum=float(raw["max"]),
                unit=str(raw.get("unit", "")),
            )
        )
    info = TemplateInfo(
        id=str(head["id"]),
        title=str(head["title"]),
        jurisdiction=str(head["jurisdiction"]),
        source=str(head["source"]),
        url=str(head["url"]),
        assesses=str(head["assesses"]),
        monitor_checks=str(head["monitor_checks"]),
        monitor_cannot_check=str(head["monitor_cannot_check"]),
        notes=tuple(str(note) for note in head.get("notes", [])),
        verified=tuple(
            Verification(item=str(v["item"]), status=str(v["status"]), where=str(v["where"]))
            for v in head["verified"]
        ),
        parameters=tuple(parameters),
    )
    return _Template(
        info=info,
        constants=data.get("constants", {}),
        choice_tables=choice_tables,
        bands=bands,
        round_to=round_to,
        rules=tuple(data["rules"]),
    )
