#!/usr/bin/env python3
"""Print ``core/src/noisefleet_core/acoustics/weighting_table.py``: the fitted weighting
designs for the usual audio sample rates, so the meter never needs scipy at run time.

    out=core/src/noisefleet_core/acoustics/weighting_table.py
    .venv/bin/python scripts/weighting_table.py > $out && .venv/bin/ruff format $out

``tests/core/acoustics/test_weighting_table.py`` fails when the table and a fresh fit differ.
"""

from __future__ import annotations

import numpy as np

from noisefleet_core.acoustics.weighting import fit_weighting

RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 192000)

HEADER = '''"""Fitted A and C weighting designs for the usual sample rates (generated, do not edit).

Written by ``scripts/weighting_table.py`` from ``weighting.fit_weighting``; the tests check
that a fresh fit gives the same coefficients. Rows are second-order sections
(b0, b1, b2, a0, a1, a2); per rate: (C sections, A-from-C sections, largest error in dB).
"""

from __future__ import annotations

Sections = tuple[tuple[float, ...], ...]

TABULATED_DESIGNS: dict[int, tuple[Sections, Sections, float]] = {'''


def _rows(sos: np.ndarray) -> str:
    rows = ("(" + ", ".join(repr(float(v)) for v in row) + ")" for row in sos)
    return "(" + ", ".join(rows) + ",)"


def main() -> None:
    print(HEADER)
    for fs in RATES:
        design = fit_weighting(fs)
        print(f"    {fs}: (")
        print(f"        {_rows(design.c_sos)},")
        print(f"        {_rows(design.a_from_c_sos)},")
        print(f"        {design.max_error_db!r},")
        print("    ),")
    print("}")


if __name__ == "__main__":
    main()
