"""The alert lifecycle: hand-worked cases, then properties against a naive per-sample loop."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_core.alerts.conditions import Samples, conditions, segments
from noisefleet_core.alerts.errors import AlertError
from noisefleet_core.alerts.lifecycle import (
    Episode,
    RuleState,
    Transition,
    advance,
    episodes,
)


@dataclass(frozen=True)
class Params:
    min_duration_s: float = 0.0
    release_s: float = 0.0
    cooldown_s: float = 0.0


def _samples(
    values: list[float],
    limits: list[float],
    hysteresis: float = 0.0,
    step: float = 60.0,
    t0: float = 0.0,
) -> Samples:
    times = t0 + step * np.arange(1, len(values) + 1, dtype=np.float64)
    return Samples.from_values(times, np.asarray(values, dtype=np.float64), limits, hysteresis)


def _kinds(transitions: tuple[Transition, ...]) -> list[tuple[str, float, int]]:
    return [(t.kind, t.at, t.tier) for t in transitions]


# --- conditions and segments -------------------------------------------------------------------


def test_conditions_strictly_above_the_limit_and_hysteresis_below_it() -> None:
    values = np.array([69.9, 70.0, 70.1, 68.5, 75.1, math.nan])
    on, hold = conditions(values, [70.0, 75.0], hysteresis=2.0)
    assert on.tolist() == [-1, -1, 0, -1, 1, -1]
    assert hold.tolist() == [0, 0, 0, 0, 1, -1]


def test_segments_start_where_a_code_changes() -> None:
    on = np.array([-1, -1, 0, 0, 0, -1], dtype=np.int64)
    hold = np.array([-1, 0, 0, 0, 0, 0], dtype=np.int64)
    assert segments(on, hold).tolist() == [0, 1, 2, 5]
    assert segments(on[:0], hold[:0]).tolist() == []


# --- hand-worked lifecycles ---------------------------------------------------------------------


def test_min_duration_zero_fires_on_one_sample_and_resolves_on_the_next() -> None:
    state, out = advance(Params(), RuleState(), _samples([60, 71, 60], [70]))
    assert _kinds(out) == [("pending", 120, 0), ("firing", 120, 0), ("resolved", 180, 0)]
    resolved = out[-1]
    assert (resolved.ended_at, resolved.peak, resolved.peak_at) == (180, 71, 120)
    assert state.phase == "idle"
    assert state.cooldown_until == 180


def test_min_duration_needs_the_condition_all_along() -> None:
    # 10-min sustained at 60-s steps: pending at 60, fires at 660 (t - pending_since >= 600).
    values = [71.0] * 12
    state, out = advance(Params(min_duration_s=600), RuleState(), _samples(values, [70]))
    assert _kinds(out) == [("pending", 60, 0), ("firing", 660, 0)]
    assert out[1].pending_since == 60
    assert state.phase == "firing"


def test_a_pending_alert_lapses_at_the_first_sample_below_the_limit() -> None:
    values = [71, 72, 69, 71]
    state, out = advance(Params(min_duration_s=600), RuleState(), _samples(values, [70]))
    assert _kinds(out) == [("pending", 60, 0), ("lapsed", 180, 0), ("pending", 240, 0)]
    assert out[1].peak == 72
    assert episodes(out) == ()
    assert state.pending_since == 240


def test_hysteresis_keeps_the_alert_firing_until_below_limit_minus_hysteresis() -> None:
    values = [71, 69, 68.5, 67.9, 60]
    _, out = advance(Params(), RuleState(), _samples(values, [70], hysteresis=2.0))
    assert _kinds(out) == [("pending", 60, 0), ("firing", 60, 0), ("resolved", 240, 0)]
    assert out[-1].value == pytest.approx(67.9)


def test_the_release_timer_restarts_when_the_condition_comes_back() -> None:
    # release 120 s: false at 120 (timer 0), 180 (60 s), back on at 240, false at 300, 360, 420.
    values = [71, 60, 60, 71, 60, 60, 60]
    _, out = advance(Params(release_s=120), RuleState(), _samples(values, [70]))
    assert _kinds(out) == [("pending", 60, 0), ("firing", 60, 0), ("resolved", 420, 0)]
    assert out[-1].ended_at == 300


def test_escalation_from_warning_to_limit_and_the_tier_is_kept() -> None:
    values = [66, 67, 71, 66, 60]
    state, out = advance(Params(), RuleState(), _samples(values, [65, 70]))
    assert _kinds(out) == [
        ("pending", 60, 0),
        ("firing", 60, 0),
        ("escalated", 180, 1),
        ("resolved", 300, 1),
    ]
    (episode,) = episodes(out)
    assert episode == Episode(60, 60, 300, 300, 1, 71, 180, 0)
    assert state.tier == 1


def test_a_cooldown_suppresses_and_counts_occurrences_then_a_lasting_one_alerts() -> None:
    # Resolved at 120, cool-down 300 s until 420: occurrences at 180 and 300-360 suppressed
    # (counted once each); the one from 420 on goes pending when the cool-down ends.
    values = [71, 60, 71, 60, 71, 71, 71, 71]
    _, out = advance(Params(cooldown_s=300), RuleState(), _samples(values, [70]))
    assert _kinds(out) == [
        ("pending", 60, 0),
        ("firing", 60, 0),
        ("resolved", 120, 0),
        ("suppressed", 180, 0),
        ("suppressed", 300, 0),
        ("pending", 420, 0),
        ("firing", 420, 0),
    ]
    assert [t.suppressed for t in out[3:5]] == [1, 2]
    assert out[4].pending_since == 60  # names the episode whose cool-down it is in
    first, second = episodes(out)
    assert (first.resolved_at, first.suppressed) == (120, 2)
    assert (second.pending_since, second.resolved_at) == (420, None)


def test_samples_must_come_after_the_state() -> None:
    state, _ = advance(Params(), RuleState(), _samples([60, 60], [70]))
    with pytest.raises(AlertError, match="not after"):
        advance(Params(), state, _samples([60], [70], t0=60))
    times = np.array([1.0, 1.0])
    values = np.array([1.0, 1.0])
    with pytest.raises(AlertError, match="ascending"):
        advance(Params(), RuleState(), Samples.from_values(times, values, [0.5]))


def test_no_samples_leave_the_state_alone() -> None:
    state = RuleState(phase="firing", pending_since=1, fired_at=1, tier=0, last_sample=5)
    assert advance(Params(), state, Samples.empty()) == (state, ())


def test_state_json_round_trip_and_rejections() -> None:
    state, _ = advance(Params(min_duration_s=600), RuleState(), _samples([71, 72], [70]))
    assert (state.phase, state.pending_since, state.peak, state.peak_at) == ("pending", 60, 72, 120)
    data = json.loads(json.dumps(state.to_json()))
    assert RuleState.from_json(data) == state
    assert RuleState.from_json(RuleState().to_json()).to_json() == RuleState().to_json()
    with pytest.raises(AlertError, match="unknown keys"):
        RuleState.from_json({"phase": "idle", "colour": 1})
    with pytest.raises(AlertError, match="phase"):
        RuleState.from_json({"phase": "asleep"})
    with pytest.raises(AlertError, match="tier"):
        RuleState.from_json({"tier": "high"})


# --- properties -------------------------------------------------------------------------------


class _Naive:
    """The lifecycle of spec section 4, one sample at a time (the reference)."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.out: list[Transition] = []
        self.phase = "idle"
        self.ps: float | None = None
        self.fired: float | None = None
        self.ended: float | None = None
        self.fs: float | None = None
        self.cd: float | None = None
        self.tier, self.peak, self.peak_at = -1, math.nan, None
        self.suppressed, self.suppressing = 0, False

    def emit(self, kind: str, t: float, v: float, p: float, tier: int | None = None) -> None:
        tr = self.tier if tier is None else tier
        self.out.append(
            Transition(
                kind,
                t,
                tr,
                v,
                p,
                self.peak,
                self.peak_at,
                self.ps,  # type: ignore[arg-type]
                self.fired,
                self.ended,
                self.suppressed,
            )
        )

    def see(self, t: float, p: float) -> None:
        if not math.isnan(p) and (math.isnan(self.peak) or p > self.peak):
            self.peak, self.peak_at = p, t

    def maybe_fire(self, t: float, v: float, p: float) -> None:
        assert self.ps is not None
        if t - self.ps >= self.params.min_duration_s:
            self.phase, self.fired = "firing", t
            self.emit("firing", t, v, p)

    def step(self, t: float, on: int, hold: int, v: float, p: float) -> None:
        if self.phase == "idle":
            if on < 0:
                self.suppressing = False
            elif self.cd is not None and t < self.cd:
                if not self.suppressing:
                    self.suppressed += 1
                    self.suppressing = True
                    self.emit("suppressed", t, v, p, tier=on)
            else:
                self.phase, self.ps, self.fired, self.ended, self.cd = (
                    "pending",
                    t,
                    None,
                    None,
                    None,
                )
                self.tier, self.peak, self.peak_at = on, math.nan, None
                self.suppressed, self.suppressing = 0, False
                self.see(t, p)
                self.emit("pending", t, v, p)
                self.maybe_fire(t, v, p)
        elif self.phase == "pending":
            if on < 0:
                self.emit("lapsed", t, v, p)
                self.phase, self.ps, self.tier, self.peak, self.peak_at = (
                    "idle",
                    None,
                    -1,
                    math.nan,
                    None,
                )
                self.suppressing = False
            else:
                self.tier = max(self.tier, on)
                self.see(t, p)
                self.maybe_fire(t, v, p)
        elif hold >= 0:
            self.fs = None
            self.see(t, p)
            if on > self.tier:
                self.tier = on
                self.emit("escalated", t, v, p)
        else:
            if self.fs is None:
                self.fs = t
            if t - self.fs >= self.params.release_s:
                self.phase, self.ended, self.fs = "idle", self.fs, None
                self.cd = t + self.params.cooldown_s
                self.suppressed, self.suppressing = 0, False
                self.emit("resolved", t, v, p)


def _naive(params: Params, samples: Samples) -> list[Transition]:
    machine = _Naive(params)
    for i, t in enumerate(samples.times.tolist()):
        machine.step(
            t,
            int(samples.on_tier[i]),
            int(samples.hold_tier[i]),
            float(samples.values[i]),
            float(samples.peak[i]),
        )
    return machine.out


def _key(t: Transition) -> tuple[object, ...]:
    return tuple(None if isinstance(x, float) and math.isnan(x) else x for x in vars(t).values())


@st.composite
def _streams(draw: st.DrawFn) -> tuple[Params, Samples]:
    n = draw(st.integers(0, 80))
    steps = draw(st.lists(st.sampled_from([1.0, 1.0, 1.0, 2.0, 7.5]), min_size=n, max_size=n))
    times = np.cumsum(np.asarray(steps, dtype=np.float64)) + 1000.0
    on = np.asarray(draw(st.lists(st.integers(-1, 2), min_size=n, max_size=n)), dtype=np.int64)
    extra = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    hold = np.minimum(on + np.asarray(extra, dtype=np.int64), 2)
    values = np.asarray(draw(st.lists(st.floats(0, 100), min_size=n, max_size=n)))
    peaks = np.asarray(
        draw(st.lists(st.sampled_from([math.nan, 1.0, 2.0, 3.0]), min_size=n, max_size=n))
    )
    durations = st.sampled_from([0.0, 1.0, 2.0, 3.5, 10.0])
    params = Params(draw(durations), draw(durations), draw(durations))
    return params, Samples(times, values.astype(np.float64), on, hold, peaks.astype(np.float64))


@settings(max_examples=250, deadline=None)
@given(_streams())
def test_the_segment_machine_equals_the_naive_per_sample_loop(
    stream: tuple[Params, Samples],
) -> None:
    params, samples = stream
    _, fast = advance(params, RuleState(), samples)
    assert [_key(t) for t in fast] == [_key(t) for t in _naive(params, samples)]


def _part(samples: Samples, start: int, stop: int) -> Samples:
    return Samples(
        samples.times[start:stop],
        samples.values[start:stop],
        samples.on_tier[start:stop],
        samples.hold_tier[start:stop],
        samples.peak[start:stop],
    )


@settings(max_examples=250, deadline=None)
@given(_streams(), st.lists(st.integers(0, 80), max_size=6))
def test_splitting_the_stream_anywhere_gives_the_same_transitions(
    stream: tuple[Params, Samples], cuts: list[int]
) -> None:
    params, samples = stream
    whole_state, whole = advance(params, RuleState(), samples)
    bounds = sorted({0, len(samples), *(c for c in cuts if c <= len(samples))})
    state, pieces = RuleState(), []
    for start, stop in itertools.pairwise(bounds):
        state = RuleState.from_json(json.loads(json.dumps(state.to_json())))
        state, out = advance(params, state, _part(samples, start, stop))
        pieces.extend(out)
    assert [_key(t) for t in pieces] == [_key(t) for t in whole]
    assert state.to_json() == whole_state.to_json()
