"""DCASE-style metrics of detected sound events, computed by sed_eval, returned as plain data.

Conventions (docs/reference acoustics section 4):
- event-based: same-label events match one-to-one when |onset difference| <= 0.2 s and
  |offset difference| <= max(0.2 s, 20 % of the reference event's duration)
  (``EventBasedMetrics(t_collar=0.2, percentage_of_length=0.2)``; sed_eval's default 0.5 is not
  used);
- segment-based: 1 s segments over each recording's whole length
  (``SegmentBasedMetrics(time_resolution=1.0)``);
- micro (overall) F1, precision, recall and error rate; per-class F1 (0 for a class that was
  missed entirely or only falsely detected, where sed_eval says NaN; None for a class neither in
  the reference nor detected); macro F1 is the mean per-class F1 over the classes present in the
  reference (sed_eval's own class average skips NaN, so it would ignore a class never detected);
- counts: ``reference`` and ``detected`` are events (event-based) or active 1 s segments
  (segment-based);
- label-agnostic: every label mapped to ``event``, so it measures *when* something happened,
  whatever the classifier called it.
A system that reports nothing scores 0 (``empty_system_output_handling="zero_score"``), not NaN.
NaN (undefined) values become None, so the result can be written as JSON.

Steps of ``evaluate_detections``: per recording, build sed_eval's event lists (dcase_util
``MetaDataContainer`` with ``event_onset``, ``event_offset``, ``event_label``, ``filename``),
accumulate the four metric objects over all recordings, then read their results into dicts.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

EVENT_COLLAR_S = 0.2
OFFSET_COLLAR_FRACTION = 0.2
SEGMENT_S = 1.0
AGNOSTIC_LABEL = "event"


class Event(NamedTuple):
    """A labelled stretch of a recording, in seconds from its start."""

    onset_s: float
    offset_s: float
    label: str


def _sed_eval() -> Any:
    # dcase_util (sed_eval's base) warns at import (pkg_resources, invalid escape sequences in
    # its docstrings): not ours to fix, and the test suite turns warnings into errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dcase_util  # type: ignore[import-untyped]  # noqa: PLC0415
        import sed_eval  # type: ignore[import-untyped]  # noqa: PLC0415
    return sed_eval, dcase_util


def _container(dcase_util: Any, filename: str, events: Sequence[Event]) -> Any:
    return dcase_util.containers.MetaDataContainer(
        [
            {
                "event_onset": float(e.onset_s),
                "event_offset": float(e.offset_s),
                "event_label": e.label,
                "filename": filename,
            }
            for e in events
        ]
    )


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _class_scores(values: Mapping[str, Any]) -> dict[str, Any]:
    n_ref = int(values["count"]["Nref"])
    n_sys = int(values["count"]["Nsys"])
    f1 = _number(values["f_measure"]["f_measure"])
    if f1 is None and (n_ref or n_sys):  # missed everything or detected only false alarms
        f1 = 0.0
    return {
        "f1": f1,
        "precision": _number(values["f_measure"]["precision"]) if n_sys else None,
        "recall": _number(values["f_measure"]["recall"]) if n_ref else None,
        "reference": n_ref,
        "detected": n_sys,
    }


def _summary(metric: Any, labels: Sequence[str]) -> dict[str, Any]:
    overall = metric.results_overall_metrics()
    class_wise = metric.results_class_wise_metrics()
    per_class = {label: _class_scores(class_wise[label]) for label in labels}
    present = [scores["f1"] for scores in per_class.values() if scores["reference"]]
    return {
        "f1": _number(overall["f_measure"]["f_measure"]),
        "precision": _number(overall["f_measure"]["precision"]),
        "recall": _number(overall["f_measure"]["recall"]),
        "error_rate": _number(overall["error_rate"]["error_rate"]),
        "macro_f1": sum(present) / len(present) if present else None,
        "per_class": per_class,
    }


def _evaluate(
    reference: Mapping[str, Sequence[Event]],
    estimated: Mapping[str, Sequence[Event]],
    labels: Sequence[str],
    durations_s: Mapping[str, float],
) -> dict[str, Any]:
    sed_eval, dcase_util = _sed_eval()
    event_based = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=list(labels),
        t_collar=EVENT_COLLAR_S,
        percentage_of_length=OFFSET_COLLAR_FRACTION,
        empty_system_output_handling="zero_score",
    )
    segment_based = sed_eval.sound_event.SegmentBasedMetrics(
        event_label_list=list(labels),
        time_resolution=SEGMENT_S,
    )
    for name in sorted(reference):
        ref = _container(dcase_util, name, reference[name])
        est = _container(dcase_util, name, estimated.get(name, ()))
        event_based.evaluate(ref, est)
        length = durations_s.get(name)
        if length is None:  # sed_eval's default: up to the last offset of either list
            length = max([e.offset_s for e in [*reference[name], *estimated.get(name, ())]] or [0])
        segment_based.evaluate(ref, est, evaluated_length_seconds=float(length))
    return {
        "event_based": _summary(event_based, labels),
        "segment_based": _summary(segment_based, labels),
    }


def evaluate_detections(
    reference: Mapping[str, Sequence[Event]],
    estimated: Mapping[str, Sequence[Event]],
    labels: Sequence[str],
    durations_s: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Metrics of ``estimated`` against ``reference`` events, both keyed by recording name.

    ``labels``: the classes to score (the model's); reference labels outside it are added, so a
    class the model cannot detect counts as missed. Estimated events with other labels (e.g.
    ``unknown``) are left out of the class metrics but kept in the label-agnostic ones.
    ``durations_s``: each recording's length, for the segment-based metrics (default: up to the
    last event). Estimated recordings absent from ``reference`` are an error (nothing to score
    them against); reference recordings absent from ``estimated`` have no detections.
    """
    extra = sorted(set(estimated) - set(reference))
    if extra:
        raise ValueError(f"detections for recordings without a reference: {', '.join(extra)}")
    durations = dict(durations_s or {})
    reference_labels = sorted({e.label for events in reference.values() for e in events})
    class_labels = list(dict.fromkeys([*labels, *reference_labels]))
    known = set(class_labels)
    class_estimated = {
        name: [e for e in events if e.label in known] for name, events in estimated.items()
    }
    result = _evaluate(reference, class_estimated, class_labels, durations)

    def agnostic(events: Mapping[str, Sequence[Event]]) -> dict[str, list[Event]]:
        return {
            name: [Event(e.onset_s, e.offset_s, AGNOSTIC_LABEL) for e in evs]
            for name, evs in events.items()
        }

    blind = _evaluate(agnostic(reference), agnostic(estimated), [AGNOSTIC_LABEL], durations)
    for block in blind.values():
        del block["per_class"], block["macro_f1"]
    result["label_agnostic"] = blind
    result["recordings"] = len(reference)
    result["reference_events"] = sum(len(r) for r in reference.values())
    result["detected_events"] = sum(len(e) for e in estimated.values())
    result["detected_other_label_events"] = sum(
        len(e) - len(class_estimated[name]) for name, e in estimated.items()
    )
    result["settings"] = {
        "t_collar_s": EVENT_COLLAR_S,
        "percentage_of_length": OFFSET_COLLAR_FRACTION,
        "segment_s": SEGMENT_S,
    }
    return result
