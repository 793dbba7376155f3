"""The streaming sound level meter: calibration arithmetic, IEC 61672-1 tone bursts, percentiles,
block-size invariance, interval accounting and bad-sample handling."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noisefleet_core.acoustics.histogram import exceeded_level
from noisefleet_core.acoustics.meter import (
    LevelRecord,
    MeterConfigError,
    MeterSettings,
    SoundLevelMeter,
)

FS = 48000


def _sine(amplitude: float, freq_hz: float, seconds: float, fs: int = FS) -> np.ndarray:
    n = round(seconds * fs)
    return amplitude * np.sin(2.0 * np.pi * freq_hz * np.arange(n) / fs)


def _measure(x: np.ndarray, settings: MeterSettings, block: int | None = None) -> list[LevelRecord]:
    """All records of ``x``: those returned by ``process`` plus the flushed partial one."""
    meter = SoundLevelMeter(settings)
    records: list[LevelRecord] = []
    if block is None:
        records.extend(meter.process(x))
    else:
        for start in range(0, x.size, block):
            records.extend(meter.process(x[start : start + block]))
    last = meter.flush()
    if last is not None:
        records.append(last)
    return records


def _single_record(x: np.ndarray, fs: int = FS, **kwargs: float) -> LevelRecord:
    records = _measure(x, MeterSettings(fs, interval_s=x.size / fs, **kwargs))
    assert len(records) == 1
    return records[0]


# --- calibration arithmetic -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amplitude", "offset_db", "expected_db"),
    [(1.0, 0.0, 0.0), (1.0, 94.0, 94.0), (0.1, 0.0, -20.0), (0.1, 94.0, 74.0)],
)
def test_sine_levels_follow_aes17_and_the_offset(
    amplitude: float, offset_db: float, expected_db: float
) -> None:
    x = _sine(amplitude, 1000.0, 2.0)
    records = _measure(x, MeterSettings(FS, interval_s=1.0, calibration_offset_db=offset_db))
    assert len(records) == 2
    settled = records[1]
    assert settled.laeq_db == pytest.approx(expected_db, abs=0.01)
    assert settled.lzeq_db == pytest.approx(expected_db, abs=0.01)
    assert settled.lceq_db == pytest.approx(expected_db, abs=0.01)
    # A steady tone: F and S detectors settle at the Leq, the C peak is 3.01 dB above it.
    assert settled.lafmax_db == pytest.approx(expected_db, abs=0.02)
    assert settled.lafmin_db == pytest.approx(expected_db, abs=0.02)
    assert settled.lcpeak_db == pytest.approx(expected_db + 10 * math.log10(2), abs=0.02)
    # 1 s interval: LAE equals LAeq.
    assert settled.lae_db == pytest.approx(settled.laeq_db, abs=1e-9)
    assert settled.calibration_offset_db == offset_db
    assert settled.coverage == 1.0
    # A full-scale 1 kHz sine at 48 kHz hits exactly +-1.0 twice a period: those count as clipped.
    assert settled.clipped_samples == int(np.count_nonzero(np.abs(x[FS:]) >= 1.0))
    assert settled.clipped_samples == (2000 if amplitude == 1.0 else 0)
    assert settled.invalid_samples == 0


def test_calibrated_flag_is_recorded() -> None:
    records = _measure(
        _sine(0.1, 1000.0, 0.5),
        MeterSettings(FS, interval_s=0.5, calibration_offset_db=120.0, calibrated=True),
    )
    assert len(records) == 1
    assert records[0].calibrated is True
    assert records[0].calibration_offset_db == 120.0


def test_lae_adds_ten_lg_of_the_duration() -> None:
    x = _sine(0.1, 1000.0, 4.0)
    record = _single_record(x)
    assert record.duration_s == pytest.approx(4.0)
    assert record.lae_db == pytest.approx(record.laeq_db + 10 * math.log10(4.0), abs=1e-9)


# --- tone bursts (IEC 61672-1 Table 4) ----------------------------------------------------------

TONE_HZ = 4000.0
BURST_AMPLITUDE = 0.1
BURST_OFFSET_DB = 100.0
# Table 4 as rounded in acoustics.md: Tb ms -> (F, S, LAE) relative to the steady level.
TABLE4 = {
    1000: (0.0, -2.0, 0.0),
    500: (-0.1, -4.1, -3.0),
    200: (-1.0, -7.4, -7.0),
    100: (-2.6, -10.2, -10.0),
    50: (-4.8, -13.1, -13.0),
    20: (-8.3, -17.0, -17.0),
    10: (-11.1, -20.0, -20.0),
    5: (-14.1, -23.0, -23.0),
    2: (-18.0, -27.0, -27.0),
    1: (-21.0, -30.0, -30.0),
}


@pytest.fixture(scope="module")
def steady_4khz_level() -> float:
    """LAeq of the continuous 4 kHz tone, from a settled interval."""
    records = _measure(
        _sine(BURST_AMPLITUDE, TONE_HZ, 3.0),
        MeterSettings(FS, interval_s=1.0, calibration_offset_db=BURST_OFFSET_DB),
    )
    level = records[-1].laeq_db
    # A weighting at 4 kHz is about +1 dB: 20 lg 0.1 + 100 + 0.96.
    assert level == pytest.approx(80.96, abs=0.05)
    return level


@pytest.mark.parametrize("tb_ms", sorted(TABLE4, reverse=True))
def test_tone_burst_response(tb_ms: int, steady_4khz_level: float) -> None:
    burst_n = round(tb_ms * FS / 1000)
    # 1 s of silence (detector warm-up), the burst starting at a zero crossing, 0.5 s of silence.
    x = np.zeros(FS + burst_n + FS // 2)
    x[FS : FS + burst_n] = _sine(BURST_AMPLITUDE, TONE_HZ, burst_n / FS)
    record = _single_record(x, calibration_offset_db=BURST_OFFSET_DB)
    tb = tb_ms / 1000.0
    fast = record.lafmax_db - steady_4khz_level
    slow = record.lasmax_db - steady_4khz_level
    exposure = record.lae_db - steady_4khz_level
    assert fast == pytest.approx(10 * math.log10(1 - math.exp(-tb / 0.125)), abs=0.3)
    assert slow == pytest.approx(10 * math.log10(1 - math.exp(-tb / 1.0)), abs=0.3)
    assert exposure == pytest.approx(10 * math.log10(tb), abs=0.3)
    table_f, table_s, table_e = TABLE4[tb_ms]
    assert fast == pytest.approx(table_f, abs=0.3)
    assert slow == pytest.approx(table_s, abs=0.3)
    assert exposure == pytest.approx(table_e, abs=0.3)


# --- percentile levels -------------------------------------------------------------------------


def test_percentile_test_vector_94_then_74_db() -> None:
    offset = 100.0  # 94 dB SPL is -6 dBFS, 74 dB SPL is -26 dBFS
    loud = _sine(10 ** ((94.0 - offset) / 20), 1000.0, 3.0)
    quiet = 10 ** ((74.0 - offset) / 20) * np.sin(
        2.0 * np.pi * 1000.0 * np.arange(loud.size, loud.size + 7 * FS) / FS
    )
    x = np.concatenate([loud, quiet])
    records = _measure(x, MeterSettings(FS, interval_s=10.0, calibration_offset_db=offset))
    assert len(records) == 1
    record = records[0]
    assert record.laf10_db == pytest.approx(94.0, abs=0.1)
    assert record.laf50_db == pytest.approx(74.0, abs=0.1)
    assert record.laf90_db == pytest.approx(74.0, abs=0.1)
    assert record.lafmax_db == pytest.approx(94.0, abs=0.1)
    assert record.lafmin_db == pytest.approx(74.0, abs=0.1)
    expected_leq = 10 * math.log10((3 * 10**9.4 + 7 * 10**7.4) / 10)
    assert record.laeq_db == pytest.approx(expected_leq, abs=0.02)
    # L_AF sampled every 10 ms from the end of the 0.625 s warm-up to 10 s.
    histogram = record.laf_histogram
    assert 930 <= histogram.total <= 940
    for percent, value in (
        (10.0, record.laf10_db),
        (50.0, record.laf50_db),
        (90.0, record.laf90_db),
    ):
        from_histogram = exceeded_level(histogram, percent)
        assert from_histogram is not None
        assert value is not None
        assert from_histogram == pytest.approx(value, abs=0.1)


def test_percentiles_leave_out_the_warm_up() -> None:
    # A steady tone: without excluding the F detector's rise from zero, LAF90 and LAFmin
    # would be far below the steady level.
    record = _single_record(_sine(0.1, 1000.0, 1.0))
    assert record.lafmin_db == pytest.approx(-20.0, abs=0.05)
    assert record.laf90_db == pytest.approx(-20.0, abs=0.05)
    assert record.laf_histogram.total == 38  # 10 ms ticks at 0.63 s ... 1.00 s


def test_interval_inside_warm_up_has_no_percentiles() -> None:
    records = _measure(_sine(0.1, 1000.0, 0.6), MeterSettings(FS, interval_s=0.2))
    assert len(records) == 3
    for record in records:
        assert record.lafmin_db is None
        assert record.laf10_db is None
        assert record.laf50_db is None
        assert record.laf90_db is None
        assert record.laf_histogram.total == 0
        assert math.isfinite(record.lafmax_db)


# --- block-size invariance (property-based) ----------------------------------------------------

INVARIANCE_FS = 16000


def _records_equal(a: LevelRecord, b: LevelRecord) -> None:
    for f in dataclasses.fields(LevelRecord):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, float) and isinstance(vb, float):
            assert va == pytest.approx(vb, abs=1e-9), f.name
        else:
            assert va == vb, f.name


@st.composite
def _partitions(draw: st.DrawFn, total: int) -> list[int]:
    sizes = draw(
        st.lists(st.one_of(st.integers(1, 20), st.integers(1, 20000)), min_size=0, max_size=40)
    )
    blocks = []
    remaining = total
    for size in sizes:
        if remaining == 0:
            break
        take = min(size, remaining)
        blocks.append(take)
        remaining -= take
    if remaining:
        blocks.append(remaining)
    return blocks


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    seconds=st.floats(2.5, 3.2),
    level_db=st.floats(-70.0, -5.0),
    burst=st.booleans(),
    bad_samples=st.booleans(),
    interval_s=st.sampled_from([0.1, 0.25, 1.0]),
    data=st.data(),
)
def test_records_do_not_depend_on_block_size(
    seed: int,
    seconds: float,
    level_db: float,
    burst: bool,
    bad_samples: bool,
    interval_s: float,
    data: st.DataObject,
) -> None:
    rng = np.random.default_rng(seed)
    n = round(seconds * INVARIANCE_FS)
    x = 10 ** (level_db / 20) * rng.standard_normal(n)
    if burst:
        start = int(rng.integers(0, n - 4000))
        x[start : start + 4000] += 0.5 * np.sin(2 * np.pi * 440 * np.arange(4000) / INVARIANCE_FS)
    if bad_samples:
        x[rng.choice(n, size=50, replace=False)] = np.nan
        x[rng.choice(n, size=20, replace=False)] = 1.0
    blocks = data.draw(_partitions(n))
    assert sum(blocks) == n

    settings_ = MeterSettings(INVARIANCE_FS, interval_s=interval_s, calibration_offset_db=90.0)
    whole = _measure(x, settings_)

    meter = SoundLevelMeter(settings_)
    pieces: list[LevelRecord] = []
    position = 0
    for size in blocks:
        pieces.extend(meter.process(x[position : position + size]))
        position += size
    assert meter.position == n
    last = meter.flush()
    if last is not None:
        pieces.append(last)

    assert len(pieces) == len(whole) == math.ceil(n / settings_.interval_samples)
    for a, b in zip(pieces, whole, strict=True):
        _records_equal(a, b)


# --- interval accounting -----------------------------------------------------------------------


def test_intervals_are_counted_in_samples_and_flush_gives_the_partial_one() -> None:
    x = _sine(0.1, 1000.0, 2.5)
    meter = SoundLevelMeter(MeterSettings(FS, interval_s=1.0))
    records = meter.process(x)
    assert len(records) == 2
    assert [(r.start_sample, r.end_sample) for r in records] == [(0, FS), (FS, 2 * FS)]
    partial = meter.flush()
    assert partial is not None
    assert (partial.start_sample, partial.end_sample) == (2 * FS, 2 * FS + FS // 2)
    assert partial.duration_s == pytest.approx(0.5)
    assert partial.start_s == pytest.approx(2.0)
    assert partial.laeq_db == pytest.approx(-20.0, abs=0.01)
    assert meter.flush() is None  # nothing left after a flush
    # Measuring continues after the flush with a new interval at the current position.
    more = meter.process(_sine(0.1, 1000.0, 1.0))
    tail = meter.flush()
    assert more[0].start_sample == 2 * FS + FS // 2
    assert more[0].end_sample == 3 * FS + FS // 2
    assert tail is None


def test_intervals_are_contiguous_across_odd_blocks() -> None:
    x = _sine(0.05, 250.0, 2.5)
    records = _measure(x, MeterSettings(FS, interval_s=0.25), block=7001)
    assert len(records) == 10
    assert records[0].start_sample == 0
    assert records[-1].end_sample == x.size
    for before, after in itertools.pairwise(records):
        assert before.end_sample == after.start_sample
    assert all(r.end_sample - r.start_sample == FS // 4 for r in records)


def test_empty_block_returns_nothing_and_flush_of_fresh_meter_is_none() -> None:
    meter = SoundLevelMeter(MeterSettings(FS))
    assert meter.process(np.empty(0)) == []
    assert meter.flush() is None
    assert meter.position == 0


def test_two_dimensional_block_is_rejected() -> None:
    meter = SoundLevelMeter(MeterSettings(FS))
    with pytest.raises(ValueError, match="1-D"):
        meter.process(np.zeros((2, 100)))


# --- bad samples -------------------------------------------------------------------------------


def test_nan_samples_are_left_out_of_the_averages() -> None:
    x = _sine(0.1, 1000.0, 2.0)
    clean = _measure(x, MeterSettings(FS, interval_s=1.0))[1]
    dirty_signal = x.copy()
    rng = np.random.default_rng(5)
    bad = FS + rng.choice(FS, size=200, replace=False)
    dirty_signal[bad[:150]] = np.nan
    dirty_signal[bad[150:]] = np.inf
    dirty = _measure(dirty_signal, MeterSettings(FS, interval_s=1.0), block=4800)
    assert len(dirty) == 2
    assert dirty[0].invalid_samples == 0
    assert dirty[0].coverage == 1.0
    record = dirty[1]
    assert record.invalid_samples == 200
    assert record.coverage == pytest.approx(1.0 - 200 / FS, abs=1e-12)
    assert record.coverage < 1.0
    for name in ("laeq_db", "lceq_db", "lzeq_db", "lafmax_db", "lasmax_db", "lae_db", "lcpeak_db"):
        assert math.isfinite(getattr(record, name)), name
    assert record.laeq_db == pytest.approx(clean.laeq_db, abs=0.05)
    assert record.lceq_db == pytest.approx(clean.lceq_db, abs=0.05)
    # The unweighted mean square is over the valid samples only: the same steady level.
    assert record.lzeq_db == pytest.approx(clean.lzeq_db, abs=0.02)


def test_clipped_samples_are_counted() -> None:
    x = _sine(0.5, 1000.0, 1.0)
    x[[10, 500, 20000]] = 1.0
    x[[30, 40000]] = -1.0
    x[777] = 1.5
    record = _single_record(x)
    assert record.clipped_samples == 6


def test_clip_level_setting_is_respected() -> None:
    x = _sine(0.6, 1000.0, 1.0)
    expected = int(np.count_nonzero(np.abs(x) >= 0.5))
    assert expected > 0
    records = _measure(x, MeterSettings(FS, interval_s=1.0, clip_level=0.5))
    assert records[0].clipped_samples == expected
    # At the default clip level of 1.0 nothing in a 0.6 sine clips.
    assert _single_record(x).clipped_samples == 0


def test_digital_silence_gives_finite_low_levels() -> None:
    records = _measure(np.zeros(2 * FS), MeterSettings(FS, interval_s=1.0))
    assert len(records) == 2
    for record in records:
        for name in ("laeq_db", "lceq_db", "lzeq_db", "lafmax_db", "lasmax_db", "lcpeak_db"):
            value = getattr(record, name)
            assert math.isfinite(value), name
            assert value < -150.0, name
    assert records[1].lafmin_db is not None
    assert records[1].lafmin_db < -150.0
    assert records[1].laf50_db is not None
    assert records[1].laf50_db < -150.0


# --- settings validation -----------------------------------------------------------------------


@pytest.mark.parametrize("interval_s", [0.05, 0.0, -1.0, 7200.0, 3600.5])
def test_settings_reject_bad_intervals(interval_s: float) -> None:
    with pytest.raises(MeterConfigError, match="interval"):
        MeterSettings(FS, interval_s=interval_s)


@pytest.mark.parametrize("interval_s", [0.1, 3600.0])
def test_settings_accept_interval_limits(interval_s: float) -> None:
    assert MeterSettings(FS, interval_s=interval_s).interval_samples == round(interval_s * FS)


@pytest.mark.parametrize("offset", [math.nan, math.inf, -math.inf])
def test_settings_reject_non_finite_offsets(offset: float) -> None:
    with pytest.raises(MeterConfigError, match="offset"):
        MeterSettings(FS, calibration_offset_db=offset)


@pytest.mark.parametrize("clip_level", [0.0, -1.0, math.nan])
def test_settings_reject_bad_clip_levels(clip_level: float) -> None:
    with pytest.raises(MeterConfigError, match="clipping"):
        MeterSettings(FS, clip_level=clip_level)


@pytest.mark.parametrize("fs", [0, -48000])
def test_settings_reject_non_positive_sample_rates(fs: int) -> None:
    with pytest.raises(MeterConfigError, match="sample rate"):
        MeterSettings(fs)
