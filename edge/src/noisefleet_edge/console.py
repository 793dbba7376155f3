"""What every ``noisefleet-edge`` subcommand shares: one-line errors and warnings, calibration."""

from __future__ import annotations

import argparse
import sys

from noisefleet_core.acoustics.calibration import offset_from_sensitivity
from noisefleet_edge.errors import NoisefleetEdgeError

PROG = "noisefleet-edge"


class CommandError(NoisefleetEdgeError):
    """A failure to report as one line (exit status 1)."""


def print_error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def print_warning(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def calibration(args: argparse.Namespace) -> tuple[float, bool]:
    """(offset dB, calibrated?) from --calibration-offset-db or --sensitivity-dbfs."""
    if args.calibration_offset_db is not None:
        return float(args.calibration_offset_db), True
    if args.sensitivity_dbfs is not None:
        return offset_from_sensitivity(float(args.sensitivity_dbfs)), True
    return 0.0, False
