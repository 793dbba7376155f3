"""What a gateway knows about its own health, for the heartbeat: CPU, temperature, disk, clock.

Every probe is cheap, never raises, and answers None (or a neutral value) where the platform
does not tell (no thermal zone in a container, no ``adjtimex`` outside Linux).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import time
from pathlib import Path

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
_STA_UNSYNC = 0x0040
_TIME_ERROR = 5


class CpuMeter:
    """The process's CPU use since the previous call, in percent of one core."""

    def __init__(self) -> None:
        self._last_cpu = time.process_time()
        self._last_wall = time.monotonic()

    def percent(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        used, elapsed = cpu - self._last_cpu, wall - self._last_wall
        self._last_cpu, self._last_wall = cpu, wall
        return round(100.0 * used / elapsed, 1) if elapsed > 0 else 0.0


def temperature_c(zone: Path = THERMAL_ZONE) -> float | None:
    """The SoC temperature (Raspberry Pi: thermal_zone0), or None where there is none."""
    try:
        return round(int(zone.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


def disk_free_bytes(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (0 if it cannot be read)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux): only ``status`` is read; the rest is padding.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("padding", ctypes.c_byte * 256),
    ]


def clock_synced() -> bool:
    """Whether the kernel says the clock is synchronised (NTP/chrony/timesyncd): ``adjtimex``
    with no changes returns TIME_ERROR and sets STA_UNSYNC when it is not. False when the
    system cannot tell."""
    if os.name != "posix":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = _Timex()
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return False
    return state not in (-1, _TIME_ERROR) and not timex.status & _STA_UNSYNC
