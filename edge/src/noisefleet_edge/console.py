"""What every ``noisefleet-edge`` subcommand shares: one-line errors and warnings, calibration,
output formats. Light on purpose (no numpy): the command line imports it before anything else."""

from __future__ import annotations

import argparse
import ctypes
import os
import sys

from noisefleet_core.acoustics.units import offset_from_sensitivity
from noisefleet_edge.errors import NoisefleetEdgeError

PROG = "noisefleet-edge"
FORMATS = ("jsonl", "csv", "table")


NATIVE_THREAD_LIMITS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
"""numpy's OpenBLAS starts one thread per core at import, and an idle one spins (about 21 % of
a core on a 2-core gateway) although our matrices are far too small to share out. One thread
each, unless the operator's environment says otherwise."""


def limit_native_threads() -> None:
    """Apply ``NATIVE_THREAD_LIMITS`` (only effective before numpy is imported, so entry
    points call it first; the systemd unit sets the same variables)."""
    for name, value in NATIVE_THREAD_LIMITS.items():
        os.environ.setdefault(name, value)


MALLOC_ARENAS = 2
"""glibc gives each thread that allocates its own malloc arena (up to 8 per core); with a worker
thread per sensor that fragmentation alone cost ~40 MB of RSS at 8 sensors."""
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas at ``MALLOC_ARENAS`` unless ``MALLOC_ARENA_MAX`` is set (no-op
    on other C libraries)."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        return  # not glibc (musl): nothing to tune


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
