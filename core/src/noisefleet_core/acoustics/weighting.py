"""Frequency weightings A, C and Z per IEC 61672-1:2013, as causal streaming filters.

How a digital weighting filter is made for a sample rate ``fs``:

1. The analogue C weighting has double poles at f1 and f4 and two zeros at DC. They are mapped to
   the z-plane by the matched-z transform (poles ``exp(-2*pi*f/fs)``, DC zeros at ``z = 1``), which
   keeps the low-frequency shape exact but is too loud near Nyquist.
2. A correction biquad (two zeros, two poles) is fitted by least squares so the digital C
   magnitude follows the analogue one from 10 Hz to 0.45 fs (20 kHz at most). The fit reaches a few
   thousandths of a dB at every rate from 8 to 96 kHz; a plain bilinear filter is off by -5.8 dB at
   6.3 kHz when fs = 16 kHz and fails class 1.
3. A weighting = C weighting x (two DC zeros, poles at f2 and f3), the last factor matched-z as
   well. So p_A is computed from p_C with one more biquad, and A and C cost four biquads together.
4. Each design is renormalised to exactly 0 dB at 1 kHz and checked against the analogue formula;
   a design off by more than ``MAX_DESIGN_ERROR_DB`` raises instead of measuring wrongly.

Designs are cached per sample rate. The fit needs scipy (``optimize``, ``signal``), whose import
costs about 2 s and 85 MB, so the designs for the usual audio rates are tabulated in
``weighting_table`` (the fit's own coefficients, regenerated with ``scripts/weighting_table.py``
and checked against a fresh fit by the tests); other rates are fitted on first use. Filtering
and responses use numpy only (``iir.SosCascade``). The filters carry their state across blocks,
so audio cut into blocks of any size gives the same output as the whole signal at once.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from noisefleet_core.acoustics.iir import SosCascade
from noisefleet_core.acoustics.weighting_table import TABULATED_DESIGNS

FloatArray = npt.NDArray[np.float64]

# Pole frequencies (Hz) of IEC 61672-1:2013 Annex E, from fr = 1000, fL = 10^1.5, fH = 10^3.9,
# fA = 10^2.45 and D^2 = 1/2.
F1_HZ = 20.598997
F2_HZ = 107.65265
F3_HZ = 737.86223
F4_HZ = 12194.217
# Normalisation constants: the unnormalised responses at 1 kHz.
A1000_DB = -1.999656
C1000_DB = -0.061902

FIT_LOW_HZ = 10.0
FIT_HIGH_FRACTION = 0.45
FIT_HIGH_MAX_HZ = 20000.0
MAX_DESIGN_ERROR_DB = 0.1
MIN_SAMPLE_RATE_HZ = 8000


class Weighting(enum.StrEnum):
    """A frequency weighting of IEC 61672-1."""

    A = "A"
    C = "C"
    Z = "Z"


class WeightingDesignError(ValueError):
    """No accurate digital weighting filter could be made for the requested sample rate."""


def analog_response_db(frequency_hz: npt.ArrayLike, weighting: Weighting) -> FloatArray:
    """The weighting's exact response in dB at the given frequencies (IEC 61672-1 Annex E)."""
    f = np.asarray(frequency_hz, dtype=np.float64)
    f_sq = f * f
    if weighting is Weighting.Z:
        return np.zeros_like(f)
    if weighting is Weighting.C:
        num = F4_HZ**2 * f_sq
        den = (f_sq + F1_HZ**2) * (f_sq + F4_HZ**2)
        with np.errstate(divide="ignore"):
            return np.asarray(20.0 * np.log10(num / den) - C1000_DB, dtype=np.float64)
    num = F4_HZ**2 * f_sq * f_sq
    den = (
        (f_sq + F1_HZ**2) * np.sqrt(f_sq + F2_HZ**2) * np.sqrt(f_sq + F3_HZ**2) * (f_sq + F4_HZ**2)
    )
    with np.errstate(divide="ignore"):
        return np.asarray(20.0 * np.log10(num / den) - A1000_DB, dtype=np.float64)


@dataclass(frozen=True)
class WeightingDesign:
    """Second-order sections for one sample rate.

    ``c_sos`` turns the unweighted signal into p_C; ``a_from_c_sos`` turns p_C into p_A.
    ``max_error_db`` is the largest deviation from the analogue response on the fit grid.
    """

    sample_rate_hz: int
    c_sos: FloatArray
    a_from_c_sos: FloatArray
    max_error_db: float


def _matched_poles(frequencies_hz: list[float], fs: float) -> FloatArray:
    return np.exp(-2.0 * np.pi * np.asarray(frequencies_hz) / fs)


def _fit_grid(fs: float) -> FloatArray:
    high = min(FIT_HIGH_FRACTION * fs, FIT_HIGH_MAX_HZ)
    return np.geomspace(FIT_LOW_HZ, high, 240)


def _polynomial_response(
    coefficients: npt.NDArray[np.floating], freqs: FloatArray, fs: float
) -> npt.NDArray[np.complex128]:
    """sum_k c[k] z^-k at z = exp(j 2 pi f / fs) (``scipy.signal.freqz``'s convention)."""
    z_inv = np.exp(-2j * np.pi * np.asarray(freqs, dtype=np.float64) / fs)
    return np.asarray(np.polyval(np.asarray(coefficients)[::-1], z_inv), dtype=np.complex128)


def _sos_response(sos: FloatArray, freqs: FloatArray, fs: float) -> npt.NDArray[np.complex128]:
    h = np.ones(np.shape(freqs), dtype=np.complex128)
    for section in sos:
        h *= _polynomial_response(section[:3], freqs, fs) / _polynomial_response(
            section[3:], freqs, fs
        )
    return h


def _response_db(b: FloatArray, a: FloatArray, freqs: FloatArray, fs: float) -> FloatArray:
    """Digital magnitude response in dB at ``freqs``, normalised to 0 dB at 1 kHz."""
    at = np.append(freqs, 1000.0)
    h = _polynomial_response(b, at, fs) / _polynomial_response(a, at, fs)
    mag_db = 20.0 * np.log10(np.abs(h))
    return np.asarray(mag_db[:-1] - mag_db[-1], dtype=np.float64)


def _gain_at_1khz(sos: FloatArray, fs: float) -> float:
    return float(np.abs(_sos_response(sos, np.array([1000.0]), fs)[0]))


def _to_sos(b: npt.NDArray[np.floating], a: npt.NDArray[np.floating]) -> FloatArray:
    from scipy import signal  # noqa: PLC0415  (only when fitting, see the module docstring)

    sos = signal.tf2sos(b, a, pairing="nearest")
    return np.asarray(sos, dtype=np.float64)


def _check_rate(sample_rate_hz: int) -> None:
    if sample_rate_hz < MIN_SAMPLE_RATE_HZ:
        raise WeightingDesignError(
            f"sample rate {sample_rate_hz} Hz is below the supported minimum of "
            f"{MIN_SAMPLE_RATE_HZ} Hz"
        )


@functools.lru_cache(maxsize=32)
def design_weighting(sample_rate_hz: int) -> WeightingDesign:
    """The C and A weighting sections for ``sample_rate_hz``: tabulated, or fitted (cached)."""
    _check_rate(sample_rate_hz)
    tabulated = TABULATED_DESIGNS.get(sample_rate_hz)
    if tabulated is None:
        return fit_weighting(sample_rate_hz)
    c_rows, a_rows, max_error = tabulated
    c_sos = np.array(c_rows, dtype=np.float64)
    a_sos = np.array(a_rows, dtype=np.float64)
    c_sos.setflags(write=False)
    a_sos.setflags(write=False)
    return WeightingDesign(sample_rate_hz, c_sos, a_sos, max_error)


def fit_weighting(sample_rate_hz: int) -> WeightingDesign:
    """Fit and check the C and A weighting sections for ``sample_rate_hz`` (needs scipy)."""
    from scipy import optimize  # noqa: PLC0415  (only when fitting, see the module docstring)

    _check_rate(sample_rate_hz)
    fs = float(sample_rate_hz)
    freqs = _fit_grid(fs)
    c_target = analog_response_db(freqs, Weighting.C)
    c_zeros = np.poly([1.0, 1.0])
    c_poles = np.poly(_matched_poles([F1_HZ, F1_HZ, F4_HZ, F4_HZ], fs))

    def c_coefficients(params: FloatArray) -> tuple[FloatArray, FloatArray]:
        b = np.convolve(c_zeros, np.concatenate([[1.0], params[:2]]))
        a = np.convolve(c_poles, np.concatenate([[1.0], params[2:]]))
        return b, a

    def c_error(params: FloatArray) -> FloatArray:
        b, a = c_coefficients(params)
        return _response_db(b, a, freqs, fs) - c_target

    # The starting point suits every rate from 8 to 96 kHz; the check below catches a bad fit.
    fit = optimize.least_squares(
        c_error, np.array([0.7, 0.1, 0.5, 0.02]), diff_step=[1e-7] * 4, xtol=1e-12, ftol=1e-12
    )
    c_b, c_a = c_coefficients(np.asarray(fit.x, dtype=np.float64))
    if np.any(np.abs(np.roots(c_a)) >= 1.0):
        raise WeightingDesignError(f"the C weighting fit at {sample_rate_hz} Hz is unstable")
    c_sos = _to_sos(c_b, c_a)
    c_sos[0, :3] /= _gain_at_1khz(c_sos, fs)

    a_b = np.poly([1.0, 1.0])
    a_a = np.poly(_matched_poles([F2_HZ, F3_HZ], fs))
    a_sos = _to_sos(a_b, a_a)
    a_sos[0, :3] /= _gain_at_1khz(a_sos, fs)

    c_err = _sos_response_db(c_sos, freqs, fs) - c_target
    a_err = _sos_response_db(np.vstack([c_sos, a_sos]), freqs, fs) - analog_response_db(
        freqs, Weighting.A
    )
    max_error = float(max(np.max(np.abs(c_err)), np.max(np.abs(a_err))))
    if not np.isfinite(max_error) or max_error > MAX_DESIGN_ERROR_DB:
        raise WeightingDesignError(
            f"the weighting filters for {sample_rate_hz} Hz deviate by {max_error:.3f} dB "
            f"from IEC 61672-1; use a standard sample rate such as 48000 Hz"
        )
    c_sos.setflags(write=False)
    a_sos.setflags(write=False)
    return WeightingDesign(sample_rate_hz, c_sos, a_sos, max_error)


def _sos_response_db(sos: FloatArray, freqs: FloatArray, fs: float) -> FloatArray:
    h = _sos_response(sos, freqs, fs)
    with np.errstate(divide="ignore"):
        return np.asarray(20.0 * np.log10(np.abs(h)), dtype=np.float64)


def digital_response_db(
    frequency_hz: npt.ArrayLike, weighting: Weighting, sample_rate_hz: int
) -> FloatArray:
    """The digital filter's magnitude response in dB at the given frequencies."""
    freqs = np.atleast_1d(np.asarray(frequency_hz, dtype=np.float64))
    if weighting is Weighting.Z:
        return np.zeros_like(freqs)
    design = design_weighting(sample_rate_hz)
    sos = (
        design.c_sos if weighting is Weighting.C else np.vstack([design.c_sos, design.a_from_c_sos])
    )
    return _sos_response_db(sos, freqs, float(sample_rate_hz))


class CAWeightingFilter:
    """Streaming C and A weighting of one channel; state carries across blocks."""

    def __init__(self, sample_rate_hz: int) -> None:
        design = design_weighting(sample_rate_hz)
        c_sections = design.c_sos.shape[0]
        # One cascade C then A-from-C, tapped after the last C section and at the end.
        self._cascade = SosCascade(
            np.vstack([design.c_sos, design.a_from_c_sos]), (c_sections - 1, c_sections)
        )

    def process(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return (p_C, p_A) for the block ``x`` (unweighted pressure or full-scale units)."""
        outputs = self._cascade.process(np.asarray(x, dtype=np.float64))
        return outputs[0], outputs[1]
