"""A streaming class 1 sound level meter (IEC 61672-1) producing one record per interval.

For every block of samples the meter:

1. flags non-finite samples (they are measured as silence and left out of the energy averages
   and the coverage) and counts samples at or beyond the clipping level;
2. applies C weighting, then A weighting from C (``weighting.CAWeightingFilter``);
3. squares the weighted signals and time-weights p_A^2 with the F and S detectors;
4. splits the block at interval boundaries (intervals are counted in samples from the start of
   the stream, so timing never drifts) and accumulates energy sums, detector extremes, the C peak
   and L_AF samples taken every 10 ms;
5. emits a ``LevelRecord`` for every interval completed; ``flush`` emits the partial last one.

Levels are dB re the calibrated reference: L = 10*lg(mean(x^2)) + 10*lg(2) + offset, where the
10*lg(2) term makes a full-scale sine read 0 dBFS (AES17) and ``calibration_offset_db`` turns
dBFS into dB SPL. Energies are floored at ``ENERGY_FLOOR`` (-200 dBFS), so digital silence gives
a very low finite level rather than minus infinity.

L_AF-based minimum and percentiles leave out the detector's warm-up (5 tau_F from the start of
the stream, where the F detector still rises from zero); maxima keep it, since warm-up can only
lower them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from noisefleet_core.acoustics.frames import FrameAccumulator, FrameLevel
from noisefleet_core.acoustics.histogram import LevelHistogram, sample_exceeded_levels
from noisefleet_core.acoustics.time_weighting import TAU_FAST_S, TAU_SLOW_S, ExponentialAverager
from noisefleet_core.acoustics.units import AES17_DB, ENERGY_FLOOR, mean_square_level_db
from noisefleet_core.acoustics.weighting import CAWeightingFilter, FloatArray, design_weighting

PERCENTILE_SAMPLE_HZ = 100
WARMUP_TIME_CONSTANTS = 5.0
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 3600.0
PERCENTS_EXCEEDED = (10.0, 50.0, 90.0)


class MeterConfigError(ValueError):
    """The meter settings are invalid; the message says which and why."""


@dataclass(frozen=True)
class MeterSettings:
    """How a sound level meter measures one channel."""

    sample_rate_hz: int
    """Sample rate of the audio fed to the meter."""
    interval_s: float = 1.0
    """Length of a reporting interval, 0.1 s to 1 h."""
    calibration_offset_db: float = 0.0
    """dB SPL = dBFS (AES17) + this offset. 0 means the levels are in dBFS (uncalibrated)."""
    calibrated: bool = False
    """Whether the offset comes from a calibration or sensitivity (recorded in each record)."""
    clip_level: float = 1.0
    """Absolute sample value at and above which a sample counts as clipped."""
    frame_s: float | None = None
    """Also cut LAeq/LAFmax frames of this length for event detection (``pop_frames``)."""

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0:
            raise MeterConfigError("the sample rate must be positive")
        if not MIN_INTERVAL_S <= self.interval_s <= MAX_INTERVAL_S:
            raise MeterConfigError(
                f"the interval must be between {MIN_INTERVAL_S} s and {MAX_INTERVAL_S:.0f} s, "
                f"got {self.interval_s} s"
            )
        if not math.isfinite(self.calibration_offset_db):
            raise MeterConfigError("the calibration offset must be a finite number of dB")
        if not self.clip_level > 0:
            raise MeterConfigError("the clipping level must be positive")
        if self.frame_s is not None and not 0.01 <= self.frame_s <= self.interval_s:
            raise MeterConfigError(
                f"frames must last between 0.01 s and the interval, got {self.frame_s} s"
            )

    @property
    def interval_samples(self) -> int:
        return max(1, round(self.interval_s * self.sample_rate_hz))


@dataclass(frozen=True)
class LevelRecord:
    """Levels of one interval. Times are sample offsets from the start of the stream.

    Levels are None when nothing in the interval could be measured (no valid sample; for LAFmin
    and the percentiles also: the interval lies within the detector's warm-up).
    """

    start_sample: int
    end_sample: int
    sample_rate_hz: int
    laeq_db: float | None
    lceq_db: float | None
    lzeq_db: float | None
    lafmax_db: float | None
    lafmin_db: float | None
    lasmax_db: float | None
    lae_db: float | None
    lcpeak_db: float | None
    laf10_db: float | None
    laf50_db: float | None
    laf90_db: float | None
    laf_histogram: LevelHistogram
    coverage: float
    """Fraction of the interval's samples that were valid (finite)."""
    clipped_samples: int
    invalid_samples: int
    calibration_offset_db: float
    calibrated: bool

    @property
    def start_s(self) -> float:
        return self.start_sample / self.sample_rate_hz

    @property
    def duration_s(self) -> float:
        return (self.end_sample - self.start_sample) / self.sample_rate_hz


@dataclass
class _Accumulator:
    """Running sums for the interval being measured."""

    start_sample: int
    samples: int = 0
    valid: int = 0
    energy_a: float = 0.0
    energy_c: float = 0.0
    energy_z: float = 0.0
    fast_max: float = 0.0
    fast_min: float = math.inf
    slow_max: float = 0.0
    peak_c: float = 0.0
    clipped: int = 0
    fast_samples: list[FloatArray] = field(default_factory=list)


class SoundLevelMeter:
    """Feed blocks of one channel with ``process``; collect records; ``flush`` at the end."""

    def __init__(self, settings: MeterSettings) -> None:
        design_weighting(settings.sample_rate_hz)  # fail early on an unsupported rate
        self.settings = settings
        fs = settings.sample_rate_hz
        self._filter = CAWeightingFilter(fs)
        self._fast = ExponentialAverager(fs, TAU_FAST_S)
        self._slow = ExponentialAverager(fs, TAU_SLOW_S)
        self._warmup_samples = round(WARMUP_TIME_CONSTANTS * TAU_FAST_S * fs)
        self._position = 0
        self._acc = _Accumulator(0)
        self._db_offset = AES17_DB + settings.calibration_offset_db
        self._frames: FrameAccumulator | None = None
        self._frame_levels: list[FrameLevel] = []
        if settings.frame_s is not None:
            self._frames = FrameAccumulator(round(settings.frame_s * fs), self._db_offset)

    @property
    def position(self) -> int:
        """Samples consumed so far."""
        return self._position

    def process(self, block: FloatArray) -> list[LevelRecord]:
        """Measure one block (1-D, full-scale units) and return the intervals it completed."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError("the meter measures one channel: pass a 1-D block")
        if x.size == 0:
            return []
        invalid_mask: FloatArray | None = None
        if not np.isfinite(x).all():
            invalid = ~np.isfinite(x)
            x = np.where(invalid, 0.0, x)
            invalid_mask = invalid.astype(np.float64)
        clip = self.settings.clip_level
        clipped_mask = None
        if x.max() >= clip or x.min() <= -clip:
            clipped_mask = np.abs(x) >= clip

        p_c, p_a = self._filter.process(x)
        e_a = p_a * p_a
        fast = self._fast.process(e_a)
        slow = self._slow.process(e_a)
        if self._frames is not None:
            self._frame_levels.extend(self._frames.add(e_a, fast))

        records: list[LevelRecord] = []
        n_interval = self.settings.interval_samples
        offset = 0
        while offset < x.size:
            acc = self._acc
            take = min(x.size - offset, n_interval - acc.samples)
            segment = slice(offset, offset + take)
            self._accumulate(acc, segment, x, p_c, e_a, fast, slow, invalid_mask, clipped_mask)
            offset += take
            self._position += take
            if acc.samples == n_interval:
                records.append(self._finish(acc))
                self._acc = _Accumulator(self._position)
        return records

    def pop_frames(self) -> list[FrameLevel]:
        """Frames completed since the last call (only with ``frame_s`` set)."""
        frames, self._frame_levels = self._frame_levels, []
        return frames

    def flush(self) -> LevelRecord | None:
        """Return the partial last interval, if any samples are left in it.

        The partial last frame, if any, becomes available from ``pop_frames``.
        """
        if self._frames is not None:
            last_frame = self._frames.flush()
            if last_frame is not None:
                self._frame_levels.append(last_frame)
        if self._acc.samples == 0:
            return None
        record = self._finish(self._acc)
        self._acc = _Accumulator(self._position)
        return record

    def _accumulate(
        self,
        acc: _Accumulator,
        seg: slice,
        x: FloatArray,
        p_c: FloatArray,
        e_a: FloatArray,
        fast: FloatArray,
        slow: FloatArray,
        invalid_mask: FloatArray | None,
        clipped_mask: np.ndarray | None,
    ) -> None:
        start = self._position  # global index of seg.start
        count = seg.stop - seg.start
        xs = x[seg]
        if invalid_mask is None:
            valid = count
            acc.energy_a += float(np.sum(e_a[seg]))
            acc.energy_c += float(np.dot(p_c[seg], p_c[seg]))
        else:
            keep = 1.0 - invalid_mask[seg]
            valid = int(keep.sum())
            acc.energy_a += float(np.dot(e_a[seg], keep))
            acc.energy_c += float(np.dot(p_c[seg] * p_c[seg], keep))
        acc.energy_z += float(np.dot(xs, xs))
        acc.valid += valid
        acc.samples += count
        acc.fast_max = max(acc.fast_max, float(fast[seg].max()))
        acc.slow_max = max(acc.slow_max, float(slow[seg].max()))
        pcs = p_c[seg]
        acc.peak_c = max(acc.peak_c, float(pcs.max()), -float(pcs.min()))
        if clipped_mask is not None:
            acc.clipped += int(np.count_nonzero(clipped_mask[seg]))

        settled_from = max(0, self._warmup_samples - start)
        if settled_from < count:
            acc.fast_min = min(acc.fast_min, float(fast[seg.start + settled_from : seg.stop].min()))
        # L_AF sampled at t_k = k * 10 ms, i.e. at sample index ceil(k * fs / 100) - 1.
        fs = self.settings.sample_rate_hz
        first_tick = (PERCENTILE_SAMPLE_HZ * max(start, self._warmup_samples)) // fs + 1
        last_tick = (PERCENTILE_SAMPLE_HZ * (start + count)) // fs
        if last_tick >= first_tick:
            ticks = np.arange(first_tick, last_tick + 1, dtype=np.int64)
            index = -((-ticks * fs) // PERCENTILE_SAMPLE_HZ) - 1
            acc.fast_samples.append(fast[seg.start + (index - start)])

    def _level(self, mean_square: float) -> float:
        return mean_square_level_db(mean_square, self._db_offset)

    def _finish(self, acc: _Accumulator) -> LevelRecord:
        if acc.valid == 0:
            return self._unmeasured(acc)
        fs = self.settings.sample_rate_hz
        valid = acc.valid
        if acc.fast_samples:
            fast_levels = 10.0 * np.log10(
                np.maximum(np.concatenate(acc.fast_samples), ENERGY_FLOOR)
            )
            fast_levels += self._db_offset
        else:
            fast_levels = np.empty(0, dtype=np.float64)
        l10, l50, l90 = sample_exceeded_levels(fast_levels, PERCENTS_EXCEEDED)
        lafmin = None if math.isinf(acc.fast_min) else self._level(acc.fast_min)
        return LevelRecord(
            start_sample=acc.start_sample,
            end_sample=acc.start_sample + acc.samples,
            sample_rate_hz=fs,
            laeq_db=self._level(acc.energy_a / valid),
            lceq_db=self._level(acc.energy_c / valid),
            lzeq_db=self._level(acc.energy_z / valid),
            lafmax_db=self._level(acc.fast_max),
            lafmin_db=lafmin,
            lasmax_db=self._level(acc.slow_max),
            lae_db=self._level(acc.energy_a / fs),
            # A peak level is the level of a steady value equal to the peak: 20*lg(peak) + offset.
            lcpeak_db=20.0 * math.log10(max(acc.peak_c, 1e-10)) + self._db_offset,
            laf10_db=l10,
            laf50_db=l50,
            laf90_db=l90,
            laf_histogram=LevelHistogram.from_levels(fast_levels),
            coverage=acc.valid / acc.samples,
            clipped_samples=acc.clipped,
            invalid_samples=acc.samples - acc.valid,
            calibration_offset_db=self.settings.calibration_offset_db,
            calibrated=self.settings.calibrated,
        )

    def _unmeasured(self, acc: _Accumulator) -> LevelRecord:
        """A record for an interval whose samples were all invalid: no levels, only counts."""
        return LevelRecord(
            start_sample=acc.start_sample,
            end_sample=acc.start_sample + acc.samples,
            sample_rate_hz=self.settings.sample_rate_hz,
            laeq_db=None,
            lceq_db=None,
            lzeq_db=None,
            lafmax_db=None,
            lafmin_db=None,
            lasmax_db=None,
            lae_db=None,
            lcpeak_db=None,
            laf10_db=None,
            laf50_db=None,
            laf90_db=None,
            laf_histogram=LevelHistogram.empty(),
            coverage=0.0,
            clipped_samples=acc.clipped,
            invalid_samples=acc.samples,
            calibration_offset_db=self.settings.calibration_offset_db,
            calibrated=self.settings.calibrated,
        )
