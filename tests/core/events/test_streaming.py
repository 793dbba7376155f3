"""Streaming parity: the detector's reports equal a whole-sequence reference implementation.

The reference below works on complete arrays (median filter over the whole sequence, hysteresis,
runs, gap merging, minimum duration, cutting into parts) and shares no segmentation code with the
detector. Reports made while frames still arrive are never retracted, so equality on any prefix
(flushed at an arbitrary end) shows that streaming gives the events of whole-file processing.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_core.events import DetectorSettings, EventDetector, Frame
from noisefleet_core.events.boundaries import snap_boundaries
from noisefleet_core.events.smoothing import median_filter

from .helpers import make_frames

LABELS = ("siren", "drill", "dog")


@dataclass(frozen=True)
class Expected:
    label: str
    event: int
    start: int
    end: int
    part: int
    final: bool
    laeq_db: float
    confidence_mean: float | None


def _runs(active: np.ndarray) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i, on in enumerate(active.tolist()):
        if on and runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        elif on:
            runs.append((i, i + 1))
    return runs


def _snapped(
    levels: np.ndarray, cuts: list[int], search: int, span: int, s: DetectorSettings
) -> tuple[int, int]:
    """The event's first onset and last offset snapped over the whole sequence's levels: the
    first part's onset over its own frames' neighbourhood, the final part's offset over its."""
    first_start, first_end = cuts[0], cuts[1]
    last_start, last_end = cuts[-2], cuts[-1]
    lo = max(0, first_start - search - span)
    hi = min(len(levels), first_end + search + 1)
    start, _ = snap_boundaries(
        levels[lo:hi].tolist(),
        first_start - lo,
        first_end - lo,
        search,
        span,
        s.boundary_min_step_db,
        snap_start=True,
        snap_end=len(cuts) == 2,
    )
    lo2 = max(0, last_start - search - span)
    hi2 = min(len(levels), last_end + search + 1)
    _, end = snap_boundaries(
        levels[lo2:hi2].tolist(),
        last_start - lo2,
        last_end - lo2,
        search,
        span,
        s.boundary_min_step_db,
        snap_start=len(cuts) == 2,
        snap_end=True,
    )
    if len(cuts) == 2:
        return start + lo, end + lo2
    return start + lo, end + lo2


def _faint(
    levels: np.ndarray,
    class_active: np.ndarray,
    cuts: list[int],
    start: int,
    end: int,
    s: DetectorSettings,
) -> bool:
    """A one-part event, open no longer than the background window, whose LAeq is less than
    ``min_prominence_db`` above the median level of the last window's worth of frames without
    class activity before its (snapped) onset."""
    window = s.frames(s.background_window_s)
    if s.min_prominence_db is None or len(cuts) != 2:
        return False
    if end + max(1, s.frames(s.merge_gap_s)) - start > s.frames(s.prominence_max_s):
        return False
    before = levels[: cuts[0]][~class_active[: cuts[0]]][-window:]
    if before.size < 10:
        return False
    laeq = 10 * math.log10(float(np.mean(10 ** (levels[cuts[0] : cuts[1]] / 10))))
    return laeq - float(np.median(before)) < s.min_prominence_db


def reference(frames: list[Frame], s: DetectorSettings) -> tuple[list[Expected], list[set[str]]]:
    """Events (sorted by label, start) and per-frame labels of whole-sequence processing."""
    n, n_labels = len(frames), len(s.labels)
    raw = np.array([f.scores if f.scores is not None else np.zeros(n_labels) for f in frames])
    smoothed = median_filter(raw.reshape(n, n_labels), s.median_filter_frames)
    onset = np.array([s.onset_threshold(label) for label in s.labels])
    offset = np.array([s.offset_threshold(label) for label in s.labels])
    active = np.zeros((n, n_labels + 1), dtype=bool)
    state = np.zeros(n_labels, dtype=bool)
    for i, frame in enumerate(frames):
        may_start = frame.scores is not None
        state = np.where(state, smoothed[i] >= offset, may_start & (smoothed[i] >= onset))
        active[i, :n_labels] = state
        loud = s.unknown_level_db is not None and frame.laeq_db >= s.unknown_level_db
        active[i, n_labels] = loud and not state.any()
    levels = np.array([f.laeq_db for f in frames])
    expected: list[Expected] = []
    labels_of: list[set[str]] = [set() for _ in frames]
    merge, top = s.frames(s.merge_gap_s), s.frames(s.max_duration_s)
    search = s.frames(s.boundary_search_s)
    track_labels = [*s.labels, *(["unknown"] if s.unknown_level_db is not None else [])]
    for k, label in enumerate(track_labels):
        merged: list[tuple[int, int]] = []
        for start, end in _runs(active[:, k]):
            if merged and start - merged[-1][1] < merge:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        for number, (start, end) in enumerate(merged):
            if end - start < s.frames(s.min_duration(label)):
                continue
            cuts = [*range(start, end, top), end]
            if search > 0 and label != "unknown":
                cuts[0], cuts[-1] = _snapped(levels, cuts, search, s.boundary_step_frames, s)
            class_active = active[:, :n_labels].any(axis=1)
            if label != "unknown" and _faint(levels, class_active, cuts, start, end, s):
                continue
            for i in range(start, end):
                labels_of[i].add(label)
            for part, (lo, hi) in enumerate(itertools.pairwise(cuts), start=1):
                laeq = 10 * math.log10(float(np.mean(10 ** (levels[lo:hi] / 10))))
                mean = float(smoothed[lo:hi, k].mean()) if k < n_labels else None
                expected.append(Expected(label, number, lo, hi, part, hi == cuts[-1], laeq, mean))
    return sorted(expected, key=lambda e: (e.label, e.start)), labels_of


def _settings(data: st.DataObject) -> DetectorSettings:
    return DetectorSettings(
        LABELS,
        median_filter_frames=data.draw(st.sampled_from([1, 3, 5])),
        min_duration_s=data.draw(st.sampled_from([0.0, 0.2, 0.5])),
        merge_gap_s=data.draw(st.sampled_from([0.0, 0.3, 0.5])),
        max_duration_s=data.draw(st.sampled_from([0.8, 2.0, 600.0])),
        unknown_level_db=data.draw(st.sampled_from([None, 65.0])),
        boundary_search_s=data.draw(st.sampled_from([0.0, 0.3, 0.9])),
        boundary_step_frames=data.draw(st.sampled_from([1, 2])),
        min_prominence_db=data.draw(st.sampled_from([None, 2.0, 10.0])),
        background_window_s=data.draw(st.sampled_from([1.0, 3.0, 30.0])),
        prominence_max_s=data.draw(st.sampled_from([0.5, 10.0])),
        offset_thresholds={"drill": 0.5},
        onset_thresholds={"dog": 0.7},
    )


def _frames(data: st.DataObject) -> list[Frame]:
    score = st.sampled_from([0.0, 0.2, 0.35, 0.5, 0.7, 1.0])
    vector = st.one_of(st.none(), st.lists(score, min_size=3, max_size=3))
    # Sticky sequences: repeat each drawn row a few times so events form and gaps occur.
    rows = data.draw(st.lists(st.tuples(vector, st.integers(1, 12)), max_size=25))
    scores = [row for row, repeat in rows for _ in range(repeat)]
    levels = data.draw(
        st.lists(
            st.sampled_from([40.0, 60.0, 66.0, 80.0]), min_size=len(scores), max_size=len(scores)
        )
    )
    return make_frames(scores, levels_db=levels)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_streaming_equals_whole_sequence_reference(data: st.DataObject) -> None:
    s = _settings(data)
    frames = _frames(data)
    detector = EventDetector(s)
    events = []
    decided = []
    for frame in frames:
        events.extend(detector.push(frame))
        if data.draw(st.booleans(), label="pop decided frames now"):
            decided.extend(detector.pop_decided_frames())
    events.extend(detector.flush())
    decided.extend(detector.pop_decided_frames())

    expected, labels_of = reference(frames, s)
    ids: dict[tuple[str, int], str] = {}
    got = sorted(events, key=lambda e: (e.label, e.start_frame))
    assert [(e.label, e.start_frame, e.end_frame, e.part, e.final) for e in got] == [
        (e.label, e.start, e.end, e.part, e.final) for e in expected
    ]
    for event, want in zip(got, expected, strict=True):
        assert math.isclose(event.laeq_db, want.laeq_db, abs_tol=1e-9)
        if want.confidence_mean is None:
            assert event.confidence_mean is None
        else:
            assert event.confidence_mean is not None
            assert math.isclose(event.confidence_mean, want.confidence_mean, abs_tol=1e-12)
        assert ids.setdefault((want.label, want.event), event.event_id) == event.event_id
    assert len(set(ids.values())) == len(ids)  # one id per event, shared by its parts
    assert [frame.index for frame in decided] == list(range(len(frames)))
    assert [set(frame.labels) for frame in decided] == labels_of


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_reports_do_not_depend_on_the_future(data: st.DataObject) -> None:
    s = _settings(data)
    frames = _frames(data)
    cut = data.draw(st.integers(0, len(frames)))
    whole, prefix = EventDetector(s), EventDetector(s)
    during_whole = [e for frame in frames[:cut] for e in whole.push(frame)]
    during_prefix = [e for frame in frames[:cut] for e in prefix.push(frame)]
    assert during_prefix == during_whole
    # What was reported mid-stream is part of the complete run, unchanged and in order.
    complete = during_whole + whole.push_many(frames[cut:]) + whole.flush()
    assert complete[: len(during_whole)] == during_whole
    # Flushing the prefix at this arbitrary end gives the reference events of the prefix.
    ended = during_prefix + prefix.flush()
    expected, _ = reference(frames[:cut], s)
    assert sorted((e.label, e.start_frame, e.end_frame) for e in ended) == sorted(
        (e.label, e.start, e.end) for e in expected
    )
