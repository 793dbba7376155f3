"""The data a rule is evaluated on: one sensor's minutes, records, events and health, as arrays.

The server builds these from storage (the core never reads it); tests build them by hand. All
times are float epoch seconds (UTC), every series is sorted by its time, and every array of a
series has one entry per row. ``empty()`` gives a series without rows; ``slice`` the rows whose
time lies in ``[t_from, t_to)``. ``minutes_from_records`` folds 1-s records into minutes the
way the server's minute aggregates are defined (energy and measured seconds add up).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from noisefleet_core.alerts.errors import AlertError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MINUTE_S = 60.0


def _floats(n: int = 0) -> FloatArray:
    return np.zeros(n, dtype=np.float64)


def _ints(n: int = 0) -> IntArray:
    return np.zeros(n, dtype=np.int64)


def _check_rows(series: object, key: str) -> None:
    """Every array and tuple field has as many rows as ``key``; ``key`` ascends."""
    times = getattr(series, key)
    n = len(times)
    for column in fields(series):  # type: ignore[arg-type]
        value = getattr(series, column.name)
        if isinstance(value, np.ndarray | tuple) and len(value) != n:
            name = type(series).__name__
            raise AlertError(f"{name}.{column.name}: {len(value)} rows, {key} has {n}")
    if n > 1 and bool(np.any(np.diff(times) < 0)):
        raise AlertError(f"{type(series).__name__}.{key} must ascend")


def _take(series: Any, key: str, t_from: float, t_to: float) -> Any:
    times = getattr(series, key)
    lo, hi = np.searchsorted(times, [t_from, t_to], side="left")
    changes = {}
    for column in fields(series):
        value = getattr(series, column.name)
        if isinstance(value, np.ndarray | tuple) and len(value) == len(times):
            changes[column.name] = value[lo:hi]
    return replace(series, **changes)


@dataclass(frozen=True)
class MinuteSeries:
    """Minute aggregates of one sensor; minute starts ascending and unique."""

    start: FloatArray
    """Epoch s, multiples of 60."""
    energy: FloatArray
    """Sum of 10^(LAeq/10) x measured seconds over the minute's records (linear)."""
    measured_s: FloatArray
    """Seconds of the minute actually measured (LAeq of the minute = 10 lg(energy/measured))."""
    lafmax_db: FloatArray
    """NaN where none (likewise the other levels)."""
    lcpeak_db: FloatArray
    laf10_db: FloatArray
    laf90_db: FloatArray
    clipped_samples: IntArray
    hist_width_db: float | None = None
    """Bin width of the merged per-minute L_AF histograms (None: no histograms)."""
    hist_first: IntArray | None = None
    """Per minute: the first bin (bin i covers [(first + i) w, (first + i + 1) w))."""
    hist_counts: tuple[IntArray, ...] | None = None
    """Per minute: the counts from the first bin on."""

    def __post_init__(self) -> None:
        _check_rows(self, "start")
        has = (self.hist_width_db is not None, self.hist_first is not None)
        if has != (self.hist_counts is not None,) * 2:
            raise AlertError("MinuteSeries: give hist_width_db, hist_first, hist_counts or none")

    def __len__(self) -> int:
        return int(self.start.size)

    @property
    def has_histograms(self) -> bool:
        return self.hist_counts is not None

    @classmethod
    def empty(cls) -> MinuteSeries:
        f = _floats()
        return cls(f, f, f, f, f, f, f, _ints())

    def slice(self, t_from: float, t_to: float) -> MinuteSeries:
        """Minutes starting in [t_from, t_to)."""
        result: MinuteSeries = _take(self, "start", t_from, t_to)
        return result


@dataclass(frozen=True)
class RecordSeries:
    """Level records (normally 1 s) of one sensor, start ascending."""

    start: FloatArray
    duration_s: FloatArray
    laeq_db: FloatArray
    lafmax_db: FloatArray
    laf90_db: FloatArray
    lcpeak_db: FloatArray
    coverage: FloatArray
    """Fraction of the record's duration measured (0..1)."""

    def __post_init__(self) -> None:
        _check_rows(self, "start")

    def __len__(self) -> int:
        return int(self.start.size)

    @property
    def measured_s(self) -> FloatArray:
        return np.asarray(self.duration_s * self.coverage, dtype=np.float64)

    @property
    def energy(self) -> FloatArray:
        """10^(LAeq/10) x measured seconds (0 where the level is NaN)."""
        energy = np.power(10.0, self.laeq_db / 10.0) * self.measured_s
        return np.asarray(np.where(np.isnan(energy), 0.0, energy), dtype=np.float64)

    @classmethod
    def empty(cls) -> RecordSeries:
        f = _floats()
        return cls(f, f, f, f, f, f, f)

    def slice(self, t_from: float, t_to: float) -> RecordSeries:
        """Records starting in [t_from, t_to)."""
        result: RecordSeries = _take(self, "start", t_from, t_to)
        return result


@dataclass(frozen=True)
class EventSeries:
    """Sound events of one sensor (final or not), start ascending."""

    start: FloatArray
    end: FloatArray
    label: tuple[str, ...]
    confidence: FloatArray
    """NaN = the event has no confidence (qualifies only when min_confidence is 0)."""
    laeq_db: FloatArray
    lafmax_db: FloatArray

    def __post_init__(self) -> None:
        _check_rows(self, "start")

    def __len__(self) -> int:
        return int(self.start.size)

    @classmethod
    def empty(cls) -> EventSeries:
        f = _floats()
        return cls(f, f, (), f, f, f)

    def slice(self, t_from: float, t_to: float) -> EventSeries:
        """Events starting in [t_from, t_to)."""
        result: EventSeries = _take(self, "start", t_from, t_to)
        return result


@dataclass(frozen=True)
class HealthSeries:
    """Heartbeats and status changes of one sensor, each ascending, and its calibration."""

    heartbeat_at: FloatArray
    outbox_depth: IntArray
    clock_synced: BoolArray
    source_error: tuple[str | None, ...]
    status_at: FloatArray
    status: tuple[str, ...]
    """'online' | 'offline' | 'stopped' | 'degraded', from ``status_at`` on."""
    calibration_date: float | None = None
    """Epoch s of the calibration date (midnight UTC); None: unknown."""

    def __post_init__(self) -> None:
        for key, columns in (
            ("heartbeat_at", (self.outbox_depth, self.clock_synced, self.source_error)),
            ("status_at", (self.status,)),
        ):
            times = getattr(self, key)
            if any(len(column) != len(times) for column in columns):
                raise AlertError(f"HealthSeries: every {key} column needs one row per {key}")
            if len(times) > 1 and bool(np.any(np.diff(times) < 0)):
                raise AlertError(f"HealthSeries.{key} must ascend")

    @classmethod
    def empty(cls, calibration_date: float | None = None) -> HealthSeries:
        f = _floats()
        return cls(f, _ints(), np.zeros(0, dtype=np.bool_), (), f, (), calibration_date)


@dataclass(frozen=True)
class SensorData:
    """Everything one sensor offers a rule; any part may be empty."""

    timezone: str = "UTC"
    """IANA time zone of the sensor's site (local time windows, clock alignment)."""
    minutes: MinuteSeries = field(default_factory=MinuteSeries.empty)
    records: RecordSeries = field(default_factory=RecordSeries.empty)
    events: EventSeries = field(default_factory=EventSeries.empty)
    health: HealthSeries = field(default_factory=HealthSeries.empty)
    noise_floor_db: float | None = None
    """The sensor's self-noise LAeq (noise_floor check); None: unknown, the check has no value."""


def minutes_from_records(records: RecordSeries) -> MinuteSeries:
    """Minute aggregates of records (a record belongs to the minute it starts in): energy and
    measured seconds add up, LAFmax/LCpeak are maxima. No histograms, so LAF10/LAF90 are NaN."""
    if len(records) == 0:
        return MinuteSeries.empty()
    minute = np.floor(records.start / MINUTE_S) * MINUTE_S
    starts, first = np.unique(minute, return_index=True)
    energy = np.add.reduceat(records.energy, first)
    measured = np.add.reduceat(np.where(np.isnan(records.laeq_db), 0.0, records.measured_s), first)
    lafmax = np.fmax.reduceat(records.lafmax_db, first)
    lcpeak = np.fmax.reduceat(records.lcpeak_db, first)
    nan = np.full(starts.size, np.nan)
    return MinuteSeries(
        starts, energy, measured, lafmax, lcpeak, nan, nan.copy(), _ints(starts.size)
    )
