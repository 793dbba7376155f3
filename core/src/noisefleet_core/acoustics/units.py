"""Level arithmetic shared by the meter, its frames and calibration (no numpy: the command line
reads these constants before it loads anything heavy).

L = 10*lg(mean square) + 10*lg(2) + offset: the 10*lg(2) term makes a full-scale sine read
0 dBFS (AES17), the calibration offset turns dBFS into dB SPL. Mean squares are floored at
``ENERGY_FLOOR`` (-200 dBFS), so digital silence gives a very low finite level.
"""

from __future__ import annotations

import math

AES17_DB = 10.0 * math.log10(2.0)
ENERGY_FLOOR = 1e-20
SENSITIVITY_REFERENCE_DB = 94.0
"""A microphone's sensitivity is what a 94 dB SPL 1 kHz tone reads, in dBFS."""
DEFAULT_MAX_FLUCTUATION_DB = 0.2
"""A calibrator tone that varies more than this over the recording gets a warning."""


def offset_from_sensitivity(sensitivity_dbfs: float) -> float:
    """Calibration offset for a microphone whose 94 dB SPL tone reads ``sensitivity_dbfs``."""
    return SENSITIVITY_REFERENCE_DB - sensitivity_dbfs


def mean_square_level_db(mean_square: float, db_offset: float) -> float:
    """10*lg(mean square) + ``db_offset`` (``AES17_DB`` plus the calibration offset)."""
    return 10.0 * math.log10(max(mean_square, ENERGY_FLOOR)) + db_offset
