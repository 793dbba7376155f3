"""``noisefleet-edge calibrate``: the calibration offset from a calibrator recording.

Reads one channel of the recording, finds and measures the calibrator tone
(``noisefleet_core.acoustics.calibration``), prints the offset, the sensitivity and the
quality figures, and one warning line per problem found (fluctuating tone, loud background,
clipping).
"""

from __future__ import annotations

import argparse
from typing import TextIO

from noisefleet_core.acoustics.calibration import CalibrationError, analyze_calibrator_recording
from noisefleet_edge.audio_files import AudioInputError, open_recording, read_channel
from noisefleet_edge.console import CommandError, print_warning


def run_calibrate(args: argparse.Namespace, out: TextIO) -> int:
    try:
        recording = open_recording(args.recording)
        samples = read_channel(recording, args.channel)
        result = analyze_calibrator_recording(
            samples,
            recording.sample_rate_hz,
            reference_db=args.reference_db,
            nominal_tone_hz=args.tone_hz,
            max_fluctuation_db=args.max_fluctuation_db,
        )
    except (AudioInputError, CalibrationError) as error:
        raise CommandError(str(error)) from error
    out.write(
        f"calibration offset: {result.offset_db:.2f} dB  (dB SPL = dBFS + {result.offset_db:.2f})\n"
        f"sensitivity:        {result.sensitivity_dbfs:.2f} dBFS at 94 dB SPL\n"
        f"tone:               {result.tone_hz:.1f} Hz at {result.tone_dbfs:.2f} dBFS, "
        f"reference {result.reference_db:g} dB SPL\n"
        f"signal to noise:    {result.snr_db:.1f} dB\n"
        f"fluctuation:        {result.fluctuation_db:.3f} dB over {result.used_s:.1f} s "
        "of steady tone\n"
        f"use:                --calibration-offset-db {result.offset_db:.2f}\n"
    )
    for warning in result.warnings:
        print_warning(warning)
    return 0
