"""The tabulated weighting designs are the fit's (regenerate them with
``scripts/weighting_table.py`` when the fit changes).

The fit is a least-squares optimisation: its last digits depend on the machine's floating-point
paths (the same code gives coefficients 1e-4 apart on two CPUs), so a fresh fit is compared by
what matters, its frequency response over IEC 61672-1's range (10 Hz – 20 kHz) and its error
against the standard, not digit by digit. (Above 20 kHz, at 88.2 kHz and more, the fit has slack
and two machines' fits differ by up to 0.1 dB near 0.45·fs, where the standard says nothing.)"""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_core.acoustics.weighting import design_weighting, fit_weighting
from noisefleet_core.acoustics.weighting_table import TABULATED_DESIGNS


def test_the_usual_rates_are_tabulated() -> None:
    assert {8000, 16000, 22050, 32000, 44100, 48000, 96000} <= set(TABULATED_DESIGNS)


def _response_db(sos: np.ndarray, freqs: np.ndarray, fs: int) -> np.ndarray:
    z = np.exp(-2j * np.pi * freqs / fs)
    h = np.ones_like(z)
    for b0, b1, b2, a0, a1, a2 in sos:
        h *= (b0 + b1 * z + b2 * z**2) / (a0 + a1 * z + a2 * z**2)
    return np.asarray(20 * np.log10(np.abs(h)))


@pytest.mark.parametrize("fs", sorted(TABULATED_DESIGNS))
def test_table_matches_a_fresh_fit(fs: int) -> None:
    fitted = fit_weighting(fs)
    tabulated = design_weighting(fs)
    freqs = np.geomspace(10.0, min(20000.0, 0.45 * fs), 400)
    for got, want in (
        (tabulated.c_sos, fitted.c_sos),
        (
            np.vstack([tabulated.c_sos, tabulated.a_from_c_sos]),
            np.vstack([fitted.c_sos, fitted.a_from_c_sos]),
        ),
    ):
        difference = np.abs(_response_db(got, freqs, fs) - _response_db(want, freqs, fs))
        assert difference.max() < 0.001, f"{fs} Hz: {difference.max():.4f} dB apart"
    assert tabulated.max_error_db == pytest.approx(fitted.max_error_db, abs=0.001)
    assert tabulated.max_error_db <= 0.1


def test_other_rates_are_fitted_on_demand() -> None:
    fs = 37800
    assert fs not in TABULATED_DESIGNS
    design = design_weighting(fs)
    assert design.sample_rate_hz == fs
    assert design.max_error_db <= 0.1
