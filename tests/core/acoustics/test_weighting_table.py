"""The tabulated weighting designs are the fit's own coefficients (regenerate them with
``scripts/weighting_table.py`` when the fit changes)."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_core.acoustics.weighting import design_weighting, fit_weighting
from noisefleet_core.acoustics.weighting_table import TABULATED_DESIGNS


def test_the_usual_rates_are_tabulated() -> None:
    assert {8000, 16000, 22050, 32000, 44100, 48000, 96000} <= set(TABULATED_DESIGNS)


@pytest.mark.parametrize("fs", sorted(TABULATED_DESIGNS))
def test_table_matches_a_fresh_fit(fs: int) -> None:
    fitted = fit_weighting(fs)
    tabulated = design_weighting(fs)
    np.testing.assert_allclose(tabulated.c_sos, fitted.c_sos, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tabulated.a_from_c_sos, fitted.a_from_c_sos, rtol=1e-9, atol=1e-12)
    assert tabulated.max_error_db == pytest.approx(fitted.max_error_db, abs=1e-6)


def test_other_rates_are_fitted_on_demand() -> None:
    fs = 37800
    assert fs not in TABULATED_DESIGNS
    design = design_weighting(fs)
    assert design.sample_rate_hz == fs
    assert design.max_error_db <= 0.1
