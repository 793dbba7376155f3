"""The alert lifecycle: a pure, resumable state machine over a rule's samples.

Steps of ``advance``:
1. check that the samples continue the state (strictly after ``last_sample``, ascending);
2. run-length encode the samples' (on_tier, hold_tier) codes into segments; conditions change
   rarely, so the Python loop runs over segments, never over samples;
3. per segment, move the phase idle -> pending -> firing -> idle, finding the sample of each
   change inside the segment with ``searchsorted`` (min_duration_s, release_s, cooldown_s);
4. emit a ``Transition`` for every change and return the new state with them.

Semantics (spec section 4): a sample counts as "on" when its on_tier >= 0 and keeps a firing alert
alive while its hold_tier >= 0 (hysteresis). An occurrence inside a cool-down is counted once as
suppressed; if it is still on when the cool-down ends it goes pending then (a lasting problem is
delayed by the cool-down, never hidden). After a resolution the idle state keeps the resolved
episode's times so that the suppressed occurrences of its cool-down can name it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from types import SimpleNamespace
from typing import Literal, Protocol

import numpy as np

from noisefleet_core.alerts.conditions import Samples, segments
from noisefleet_core.alerts.errors import AlertError

Phase = Literal["idle", "pending", "firing"]
TransitionKind = Literal["pending", "firing", "escalated", "resolved", "lapsed", "suppressed"]
_PHASES: tuple[str, ...] = ("idle", "pending", "firing")


class LifecycleParams(Protocol):
    """The rule parameters the lifecycle needs (every rule dataclass has them)."""

    @property
    def min_duration_s(self) -> float: ...
    @property
    def release_s(self) -> float: ...
    @property
    def cooldown_s(self) -> float: ...


@dataclass(frozen=True)
class Transition:
    """A change of an alert's lifecycle, at a sample time."""

    kind: TransitionKind
    at: float
    """The sample's time."""
    tier: int
    """Highest tier reached (for suppressed: the occurrence's tier)."""
    value: float
    """The sample's value (NaN when it has none)."""
    level: float
    """The sample's peak-series value: the level behind the value (budget: the current level)."""
    peak: float
    """Episode peak so far (NaN if none)."""
    peak_at: float | None
    pending_since: float | None
    fired_at: float | None
    ended_at: float | None
    """When the condition was last seen false (resolved, and suppressed in its cool-down)."""
    suppressed: int = 0
    """Occurrences suppressed in the cool-down so far (suppressed transitions)."""


@dataclass(frozen=True)
class Episode:
    """One alert that fired: its transitions folded."""

    pending_since: float
    fired_at: float
    ended_at: float | None
    resolved_at: float | None
    tier: int
    peak: float
    peak_at: float | None
    suppressed: int


@dataclass(frozen=True)
class RuleState:
    """Where one rule stands for one sensor; JSON round trip through ``to_json``/``from_json``."""

    phase: Phase = "idle"
    pending_since: float | None = None
    """Current episode's (idle: the last resolved episode's, for its cool-down)."""
    fired_at: float | None = None
    ended_at: float | None = None
    """Idle after a resolution: when the resolved episode's condition ended."""
    tier: int = -1
    """Highest tier reached in the episode."""
    current_tier: int = -1
    """on_tier of the last sample."""
    peak: float = math.nan
    peak_at: float | None = None
    false_since: float | None = None
    """Firing: the first sample of the current run below the hold level."""
    cooldown_until: float | None = None
    suppressed: int = 0
    """Occurrences suppressed since the last resolution."""
    suppressing: bool = False
    """Inside an occurrence already counted as suppressed."""
    last_sample: float | None = None

    def to_json(self) -> dict[str, object]:
        """A JSON-safe dict (NaN as null)."""
        data: dict[str, object] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and math.isnan(value):
                value = None
            data[field.name] = value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RuleState:
        """The state ``to_json`` wrote; AlertError on anything else."""
        names = {field.name for field in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise AlertError(f"rule state: unknown keys {sorted(unknown)}")
        phase = data.get("phase", "idle")
        if phase not in _PHASES:
            raise AlertError(f"rule state: phase must be one of {_PHASES}, got {phase!r}")
        return cls(
            phase=phase,  # type: ignore[arg-type]  # checked just above
            pending_since=_opt_float(data, "pending_since"),
            fired_at=_opt_float(data, "fired_at"),
            ended_at=_opt_float(data, "ended_at"),
            tier=_int(data, "tier", -1),
            current_tier=_int(data, "current_tier", -1),
            peak=_nan_if_none(_opt_float(data, "peak")),
            peak_at=_opt_float(data, "peak_at"),
            false_since=_opt_float(data, "false_since"),
            cooldown_until=_opt_float(data, "cooldown_until"),
            suppressed=_int(data, "suppressed", 0),
            suppressing=bool(data.get("suppressing", False)),
            last_sample=_opt_float(data, "last_sample"),
        )


_STATE_FIELDS = fields(RuleState)


def _opt_float(data: Mapping[str, object], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AlertError(f"rule state: {key} must be a number or null, got {value!r}")
    return float(value)


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value


def _int(data: Mapping[str, object], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AlertError(f"rule state: {key} must be an integer, got {value!r}")
    return value


class _Machine:
    """A mutable working copy of a RuleState while one call of ``advance`` runs (attribute
    assignment: ``dataclasses.replace`` per change costs more than the numpy work)."""

    def __init__(self, state: RuleState, params: LifecycleParams, samples: Samples) -> None:
        self.w = SimpleNamespace(**{f.name: getattr(state, f.name) for f in _STATE_FIELDS})
        self.params = params
        self.times = samples.times
        self.values = samples.values
        self.peaks = samples.peak
        self.out: list[Transition] = []

    def state(self) -> RuleState:
        return RuleState(**vars(self.w))

    def reset(self, **changes: object) -> None:
        """Back to a fresh state (keeping last_sample), then the changes."""
        last = self.w.last_sample
        self.w = SimpleNamespace(**{f.name: f.default for f in _STATE_FIELDS})
        self.w.last_sample = last
        for key, value in changes.items():
            setattr(self.w, key, value)

    def emit(self, kind: TransitionKind, index: int, tier: int | None = None) -> None:
        w = self.w
        self.out.append(
            Transition(
                kind=kind,
                at=float(self.times[index]),
                tier=w.tier if tier is None else tier,
                value=float(self.values[index]),
                level=float(self.peaks[index]),
                peak=w.peak,
                peak_at=w.peak_at,
                pending_since=w.pending_since,
                fired_at=w.fired_at,
                ended_at=w.ended_at,
                suppressed=w.suppressed,
            )
        )

    def track_peak(self, start: int, stop: int) -> None:
        """Fold the peaks of samples [start, stop) in; ties keep the earliest."""
        if stop <= start:
            return
        part = self.peaks[start:stop]
        if stop - start == 1:
            value, best = float(part[0]), 0
            if math.isnan(value):
                return
        else:
            if np.isnan(part).all():
                return
            best = int(np.nanargmax(part))
            value = float(part[best])
        if math.isnan(self.w.peak) or value > self.w.peak:
            self.w.peak, self.w.peak_at = value, float(self.times[start + best])

    def first_reaching(self, start: int, stop: int, origin: float, span: float) -> int:
        """First index in [start, stop) with t - origin >= span (stop if none)."""
        offsets = self.times[start:stop] - origin
        return start + int(np.searchsorted(offsets, span, side="left"))

    def run_segment(self, start: int, stop: int, on: int, hold: int) -> None:
        k = start
        while k < stop:
            w = self.w
            if w.phase == "idle":
                if on < 0:
                    w.suppressing = False
                    return
                if w.cooldown_until is not None and self.times[k] < w.cooldown_until:
                    if not w.suppressing:
                        w.suppressed += 1
                        w.suppressing = True
                        self.emit("suppressed", k, tier=on)
                    k = start + int(
                        np.searchsorted(self.times[start:stop], w.cooldown_until, side="left")
                    )
                    continue
                self.reset(phase="pending", pending_since=float(self.times[k]), tier=on)
                self.track_peak(k, k + 1)
                self.emit("pending", k)
                continue  # the same sample may fire at once (min_duration_s = 0)
            if w.phase == "pending":
                if on < 0:
                    self.emit("lapsed", k)
                    self.reset()
                    continue
                fire = self.first_reaching(k, stop, w.pending_since, self.params.min_duration_s)
                w.tier = max(w.tier, on)
                if fire >= stop:
                    self.track_peak(k, stop)
                    return
                self.track_peak(k, fire + 1)
                w.phase, w.fired_at = "firing", float(self.times[fire])
                self.emit("firing", fire)
                k = fire + 1
                continue
            # firing
            if hold >= 0:
                w.false_since = None
                if on > w.tier:
                    w.tier = on
                    self.track_peak(k, k + 1)
                    self.emit("escalated", k)
                    k += 1
                self.track_peak(k, stop)
                return
            if w.false_since is None:
                w.false_since = float(self.times[k])
            end = self.first_reaching(k, stop, w.false_since, self.params.release_s)
            if end >= stop:
                return
            resolved_at = float(self.times[end])
            w.phase, w.ended_at, w.false_since = "idle", w.false_since, None
            w.cooldown_until = resolved_at + self.params.cooldown_s
            w.suppressed, w.suppressing = 0, False
            self.emit("resolved", end)
            k = end + 1


def advance(
    params: LifecycleParams, state: RuleState, samples: Samples
) -> tuple[RuleState, tuple[Transition, ...]]:
    """Consume samples (strictly after ``state.last_sample``, ascending) and return the new state
    and the transitions they caused, in order. AlertError if the samples go back in time."""
    if len(samples) == 0:
        return state, ()
    times = samples.times
    if state.last_sample is not None and times[0] <= state.last_sample:
        raise AlertError(
            f"samples must follow the state: sample at {float(times[0])} is not after "
            f"the last one consumed ({state.last_sample})"
        )
    if times.size > 1 and not bool(np.all(np.diff(times) > 0)):
        raise AlertError("sample times must be strictly ascending")
    on_tier = samples.on_tier
    if state.phase == "idle" and int(on_tier.max()) < 0:  # the usual case: nothing going on
        return replace(state, current_tier=-1, suppressing=False, last_sample=float(times[-1])), ()
    machine = _Machine(state, params, samples)
    starts = segments(samples.on_tier, samples.hold_tier)
    stops = np.append(starts[1:], times.size)
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        machine.run_segment(start, stop, int(samples.on_tier[start]), int(samples.hold_tier[start]))
    final = replace(
        machine.state(), current_tier=int(samples.on_tier[-1]), last_sample=float(times[-1])
    )
    return final, tuple(machine.out)


def episodes(transitions: Sequence[Transition]) -> tuple[Episode, ...]:
    """Fold transitions into the alerts that fired, oldest first (a lapsed pending is none).
    An episode that fired before the first transition is rebuilt from the times its later
    transitions carry; suppressed occurrences count for the episode whose cool-down they are in."""
    found: dict[float, Episode] = {}
    for t in transitions:
        if t.pending_since is None or t.fired_at is None or t.kind in ("pending", "lapsed"):
            continue
        episode = found.get(t.pending_since)
        if t.kind == "suppressed":
            if episode is not None:
                found[t.pending_since] = replace(episode, suppressed=t.suppressed)
            continue
        episode = Episode(
            pending_since=t.pending_since,
            fired_at=t.fired_at,
            ended_at=t.ended_at if t.kind == "resolved" else None,
            resolved_at=t.at if t.kind == "resolved" else None,
            tier=t.tier,
            peak=t.peak,
            peak_at=t.peak_at,
            suppressed=0,
        )
        found[t.pending_since] = episode
    return tuple(found.values())
