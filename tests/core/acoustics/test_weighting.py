"""A, C and Z weighting filters against IEC 61672-1:2013 Table 3 and the Annex E formulas."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from noisefleet_core.acoustics.meter import MeterSettings, SoundLevelMeter
from noisefleet_core.acoustics.weighting import (
    Weighting,
    WeightingDesignError,
    analog_response_db,
    design_weighting,
    digital_response_db,
)

# IEC 61672-1:2013 Table 3 (from /work/shared/reference/acoustics.md), class 1 limits of the 2013
# edition. Rows are the nominal one-third-octave frequencies, band index n = 10..43 in order.
TABLE3_CSV = """\
freq_hz,a_weight_db,c_weight_db,class1_minus,class1_plus
10,-70.4,-14.3,-inf,3.0
12.5,-63.4,-11.2,-inf,2.5
16,-56.7,-8.5,-4.0,2.0
20,-50.5,-6.2,-2.0,2.0
25,-44.7,-4.4,-1.5,2.0
31.5,-39.4,-3.0,-1.5,1.5
40,-34.6,-2.0,-1.0,1.0
50,-30.2,-1.3,-1.0,1.0
63,-26.2,-0.8,-1.0,1.0
80,-22.5,-0.5,-1.0,1.0
100,-19.1,-0.3,-1.0,1.0
125,-16.1,-0.2,-1.0,1.0
160,-13.4,-0.1,-1.0,1.0
200,-10.9,0.0,-1.0,1.0
250,-8.6,0.0,-1.0,1.0
315,-6.6,0.0,-1.0,1.0
400,-4.8,0.0,-1.0,1.0
500,-3.2,0.0,-1.0,1.0
630,-1.9,0.0,-1.0,1.0
800,-0.8,0.0,-1.0,1.0
1000,0.0,0.0,-0.7,0.7
1250,0.6,0.0,-1.0,1.0
1600,1.0,-0.1,-1.0,1.0
2000,1.2,-0.2,-1.0,1.0
2500,1.3,-0.3,-1.0,1.0
3150,1.2,-0.5,-1.0,1.0
4000,1.0,-0.8,-1.0,1.0
5000,0.5,-1.3,-1.5,1.5
6300,-0.1,-2.0,-2.0,1.5
8000,-1.1,-3.0,-2.5,1.5
10000,-2.5,-4.4,-3.0,2.0
12500,-4.3,-6.2,-5.0,2.0
16000,-6.6,-8.5,-16.0,2.5
20000,-9.3,-11.2,-inf,3.0
"""

_ROWS = list(csv.DictReader(io.StringIO(TABLE3_CSV)))
NOMINAL_HZ = np.array([float(r["freq_hz"]) for r in _ROWS])
TABLE_A_DB = np.array([float(r["a_weight_db"]) for r in _ROWS])
TABLE_C_DB = np.array([float(r["c_weight_db"]) for r in _ROWS])
CLASS1_MINUS_DB = np.array([float(r["class1_minus"]) for r in _ROWS])
CLASS1_PLUS_DB = np.array([float(r["class1_plus"]) for r in _ROWS])
BAND_INDEX = np.arange(10, 44)
# The table is defined at the exact base-10 band frequencies, not at the nominal labels.
EXACT_HZ = 1000.0 * 10.0 ** ((BAND_INDEX - 30) / 10.0)

SAMPLE_RATES = (16000, 22050, 32000, 44100, 48000)
TABLE_BY_WEIGHTING = {Weighting.A: TABLE_A_DB, Weighting.C: TABLE_C_DB}


def test_table_is_complete_and_labels_match_exact_frequencies() -> None:
    assert len(_ROWS) == 34
    # Each nominal label is within 3 % of its exact base-10 frequency (12.5 Hz is 12.589 Hz).
    np.testing.assert_allclose(NOMINAL_HZ, EXACT_HZ, rtol=0.03)
    assert EXACT_HZ[2] == pytest.approx(15.8489, abs=1e-4)
    assert EXACT_HZ[20] == pytest.approx(1000.0, abs=1e-9)


@pytest.mark.parametrize("weighting", [Weighting.A, Weighting.C])
def test_analog_response_matches_table_3(weighting: Weighting) -> None:
    response = analog_response_db(EXACT_HZ, weighting)
    deviation = response - TABLE_BY_WEIGHTING[weighting]
    worst = int(np.argmax(np.abs(deviation)))
    assert np.all(np.abs(deviation) <= 0.05), (
        f"{weighting} at {NOMINAL_HZ[worst]} Hz deviates by {deviation[worst]:+.4f} dB"
    )


def test_analog_response_at_nominal_labels_would_miss_the_table() -> None:
    # Guards the exact-frequency convention: at the nominal 12.5 Hz label the A response is
    # about 0.18 dB off the table value, at the exact 12.589 Hz it is within 0.05 dB.
    at_label = float(analog_response_db(12.5, Weighting.A))
    at_exact = float(analog_response_db(EXACT_HZ[1], Weighting.A))
    assert abs(at_label - TABLE_A_DB[1]) > 0.15
    assert abs(at_exact - TABLE_A_DB[1]) <= 0.05


@pytest.mark.parametrize("weighting", [Weighting.A, Weighting.C])
def test_analog_response_is_zero_db_at_1khz(weighting: Weighting) -> None:
    assert float(analog_response_db(1000.0, weighting)) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("fs", SAMPLE_RATES)
@pytest.mark.parametrize("weighting", [Weighting.A, Weighting.C])
def test_digital_response_within_class_1_limits(fs: int, weighting: Weighting) -> None:
    in_band = 0.4 * fs >= EXACT_HZ
    assert np.count_nonzero(in_band) >= 28  # 10 Hz up to at least 6.3 kHz
    freqs = EXACT_HZ[in_band]
    response = digital_response_db(freqs, weighting, fs)
    deviation = response - TABLE_BY_WEIGHTING[weighting][in_band]
    low = CLASS1_MINUS_DB[in_band]
    high = CLASS1_PLUS_DB[in_band]
    assert np.all(np.isfinite(response))
    outside = (deviation < low) | (deviation > high)
    assert not np.any(outside), (
        f"{weighting} at fs={fs}: out of class 1 at {NOMINAL_HZ[in_band][outside]} Hz, "
        f"deviation {deviation[outside]} dB"
    )


@pytest.mark.parametrize("fs", SAMPLE_RATES)
@pytest.mark.parametrize("weighting", [Weighting.A, Weighting.C])
def test_digital_response_tracks_analog_within_0_1_db(fs: int, weighting: Weighting) -> None:
    freqs = EXACT_HZ[0.4 * fs >= EXACT_HZ]
    difference = digital_response_db(freqs, weighting, fs) - analog_response_db(freqs, weighting)
    assert np.max(np.abs(difference)) <= 0.1


@pytest.mark.parametrize("fs", SAMPLE_RATES)
def test_design_reports_small_error_and_stable_sections(fs: int) -> None:
    design = design_weighting(fs)
    assert design.sample_rate_hz == fs
    assert 0.0 <= design.max_error_db <= 0.1
    for sos in (design.c_sos, design.a_from_c_sos):
        assert sos.shape[1] == 6
        for section in sos:
            poles = np.roots(section[3:])
            assert np.all(np.abs(poles) < 1.0)


@pytest.mark.parametrize("fs", SAMPLE_RATES)
@pytest.mark.parametrize("weighting", [Weighting.A, Weighting.C, Weighting.Z])
def test_digital_response_is_zero_db_at_1khz(fs: int, weighting: Weighting) -> None:
    value = float(digital_response_db(1000.0, weighting, fs)[0])
    assert abs(value) < 0.001


@pytest.mark.parametrize("fs", SAMPLE_RATES)
def test_z_weighting_is_flat(fs: int) -> None:
    np.testing.assert_array_equal(digital_response_db(EXACT_HZ, Weighting.Z, fs), 0.0)
    np.testing.assert_array_equal(analog_response_db(EXACT_HZ, Weighting.Z), 0.0)


def _band_frequencies_for_time_domain(fs: int) -> list[float]:
    nominal = [31.5, 125.0, 1000.0, 4000.0]
    chosen = [float(EXACT_HZ[np.argmin(np.abs(NOMINAL_HZ - f))]) for f in nominal]
    highest = float(EXACT_HZ[0.4 * fs >= EXACT_HZ].max())
    return [*chosen, highest]


@pytest.mark.parametrize("fs", [16000, 48000])
def test_sine_through_meter_reads_the_a_and_c_response(fs: int) -> None:
    duration_s = 2
    t = np.arange(duration_s * fs) / fs
    for freq in _band_frequencies_for_time_domain(fs):
        meter = SoundLevelMeter(MeterSettings(fs, interval_s=1.0))
        records = meter.process(0.5 * np.sin(2.0 * np.pi * freq * t))
        assert len(records) == duration_s
        settled = records[-1]  # the second second: the filters' transients are long gone
        expected_a = float(analog_response_db(freq, Weighting.A))
        expected_c = float(analog_response_db(freq, Weighting.C))
        assert settled.lzeq_db == pytest.approx(20.0 * math.log10(0.5), abs=0.02)
        assert settled.laeq_db - settled.lzeq_db == pytest.approx(expected_a, abs=0.05), freq
        assert settled.lceq_db - settled.lzeq_db == pytest.approx(expected_c, abs=0.05), freq


@pytest.mark.parametrize("fs", [4000, 7999, 0])
def test_unsupported_sample_rate_raises(fs: int) -> None:
    with pytest.raises(WeightingDesignError):
        design_weighting(fs)
    with pytest.raises(WeightingDesignError):
        digital_response_db(1000.0, Weighting.A, fs)


def test_meter_refuses_unsupported_sample_rate() -> None:
    with pytest.raises(WeightingDesignError):
        SoundLevelMeter(MeterSettings(4000))
