"""``noisefleet-edge levels``: a live meter from a microphone (``--live``), or the input devices
(``--list-devices``).

Opens the microphone (``noisefleet_edge.live``), feeds its blocks to the meter alone or, with
``--events``, to the sensor pipeline, writes each record as it completes, and at the end the
pipeline's last records and a warning if the input overflowed.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TextIO

from noisefleet_core.acoustics.meter import MeterConfigError, MeterSettings
from noisefleet_core.acoustics.weighting import WeightingDesignError
from noisefleet_core.events import DetectorSettingsError
from noisefleet_core.models.manifest import ModelError
from noisefleet_edge import live
from noisefleet_edge.classifier import SoundClassifier, default_model_dir
from noisefleet_edge.console import CommandError, calibration, print_warning
from noisefleet_edge.detection import LevelsOnly, Measurement, SensorPipeline
from noisefleet_edge.output import make_writer


def run_levels(args: argparse.Namespace, out: TextIO) -> int:
    try:
        if args.list_devices:
            devices = live.list_input_devices()
            out.write("\n".join(devices) + "\n" if devices else "no input devices found\n")
            return 0
        if not args.live:
            raise CommandError("say --live to measure the microphone, or --list-devices")
        offset, calibrated = calibration(args)
        settings = MeterSettings(
            sample_rate_hz=args.sample_rate,
            interval_s=args.interval_s,
            calibration_offset_db=offset,
            calibrated=calibrated,
        )
        device: str | int | None = args.device
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        writer = make_writer(args.format, out)
        stats = live.CaptureStats()
        started = datetime.now(tz=UTC)
        limit = None if args.duration_s is None else round(args.duration_s * args.sample_rate)
        block_s = min(0.1, args.interval_s)
        measure = _live_measurement(args, settings, calibrated, started)
        taken = 0
        with live.microphone_blocks(
            device, args.sample_rate, block_s, args.channel, stats
        ) as blocks:
            for captured in blocks:
                block = captured if limit is None else captured[: max(0, limit - taken)]
                taken += block.size
                for record in measure.process(block):
                    writer.write(record)
                if limit is not None and taken >= limit:
                    break
        if args.events:  # the pipeline holds the last events and levels until the end
            for record in measure.flush():
                writer.write(record)
        if stats.overflows:
            print_warning(f"the input overflowed {stats.overflows} time(s): audio was lost")
    except (
        live.LiveInputError,
        MeterConfigError,
        WeightingDesignError,
        ModelError,
        DetectorSettingsError,
    ) as error:
        raise CommandError(str(error)) from error
    return 0


def _live_measurement(
    args: argparse.Namespace, settings: MeterSettings, calibrated: bool, started: datetime
) -> Measurement:
    """The meter alone, or with ``--events`` the sensor pipeline (gate, classifier, events)."""
    if not args.events:
        return LevelsOnly(settings, started, "live", args.channel)
    from noisefleet_edge.analyze_command import detector_settings  # noqa: PLC0415

    classifier = SoundClassifier(args.model or default_model_dir())
    return SensorPipeline(
        settings,
        classifier,
        detector_settings(args, classifier, calibrated),
        started,
        "live",
        args.channel,
    )
