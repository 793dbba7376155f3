"""``noisefleet-edge analyze``: level records (and, with ``--events``, event records) per file.

For each path: open and check the recording, build the meter settings from its format and the
calibration, and stream its blocks through the meter alone or through the sensor pipeline
(levels, gate, classifier, event detector). A file that cannot be measured is one error line;
the others are still measured.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from noisefleet_core.acoustics.meter import (
    MeterConfigError,
    MeterSettings,
)
from noisefleet_core.acoustics.weighting import WeightingDesignError
from noisefleet_core.contract.levels import TimestampError, parse_timestamp
from noisefleet_core.events import DetectorSettingsError
from noisefleet_core.models.manifest import ModelError
from noisefleet_edge.audio_files import (
    AudioInputError,
    Recording,
    check_channel,
    open_recording,
    read_blocks,
)
from noisefleet_edge.classifier import SoundClassifier, default_model_dir
from noisefleet_edge.console import CommandError, calibration, print_error, print_warning
from noisefleet_edge.detection import LevelsOnly, Measurement, SensorPipeline
from noisefleet_edge.output import RecordWriter, make_writer


def _start_time(recording: Recording, start_time: datetime | None) -> datetime:
    if start_time is not None:
        return start_time
    modified = datetime.fromtimestamp(recording.path.stat().st_mtime, tz=UTC)
    return modified - timedelta(seconds=recording.duration_s)


def measure_recording(
    recording: Recording,
    channel: int,
    writer: RecordWriter,
    measurement: Measurement,
) -> int:
    """Stream one recording through ``measurement``, write its records and return how many
    samples were valid (levels only, or levels, events and energy shares)."""
    valid = 0

    def emit(records: Iterable[dict[str, Any]]) -> None:
        nonlocal valid
        for record in records:
            writer.write(record)
            if record["kind"] == "levels":
                samples = round(record["duration_s"] * recording.sample_rate_hz)
                valid += samples - record["invalid_samples"]

    try:
        for block in read_blocks(recording, channel):
            emit(measurement.process(block))
    finally:
        emit(measurement.flush())
    return valid


def detector_settings(
    args: argparse.Namespace, classifier: SoundClassifier, calibrated: bool
) -> Any:
    """Detector settings from the options; the model's tuned per-class thresholds apply unless
    a threshold option is given. A bad value raises DetectorSettingsError (one line)."""
    from noisefleet_core.events import DetectorSettings  # noqa: PLC0415

    manifest = classifier.manifest
    # Either threshold option replaces the model's tuned pair for every class.
    tuned = args.onset_threshold is None and args.offset_threshold is None
    return DetectorSettings(
        classifier.labels,
        default_onset_threshold=0.5 if args.onset_threshold is None else args.onset_threshold,
        default_offset_threshold=0.3 if args.offset_threshold is None else args.offset_threshold,
        onset_thresholds=dict(manifest.onset_thresholds) if tuned else {},
        offset_thresholds=dict(manifest.offset_thresholds) if tuned else {},
        min_duration_s=args.min_duration_s,
        merge_gap_s=args.merge_gap_s,
        # Without a calibration levels are dBFS: a dB SPL gate would close for good.
        gate_level_db=args.gate_level_db if calibrated else -1000.0,
        unknown_level_db=args.unknown_level_db if calibrated else None,
    )


def run_analyze(args: argparse.Namespace, out: TextIO) -> int:
    offset, calibrated = calibration(args)
    start_time = None
    if args.start_time is not None:
        try:
            start_time = parse_timestamp(args.start_time)
        except TimestampError as error:
            raise CommandError(f"--start-time: {error}") from error
    writer = make_writer(args.format, out)
    failures = 0
    classifier: SoundClassifier | None = None
    for path in args.paths:
        try:
            recording = open_recording(path)
            check_channel(recording, args.channel)
            settings = MeterSettings(
                sample_rate_hz=recording.sample_rate_hz,
                interval_s=args.interval_s,
                calibration_offset_db=offset,
                calibrated=calibrated,
                clip_level=recording.clip_level,
            )
            if recording.truncated_note:
                print_warning(recording.truncated_note)
            start = _start_time(recording, start_time)
            source = str(recording.path)
            measurement: Measurement
            if args.events:
                classifier = classifier or SoundClassifier(args.model or default_model_dir())
                measurement = SensorPipeline(
                    settings,
                    classifier,
                    detector_settings(args, classifier, calibrated),
                    start,
                    source,
                    args.channel,
                )
            else:
                measurement = LevelsOnly(settings, start, source, args.channel)
            valid = measure_recording(recording, args.channel, writer, measurement)
            if valid == 0:
                raise AudioInputError(
                    f"{path}: nothing could be measured: every sample is NaN or infinite"
                )
        except (MeterConfigError, ModelError, DetectorSettingsError) as error:
            raise CommandError(str(error)) from error
        except (AudioInputError, WeightingDesignError) as error:
            print_error(str(error) if isinstance(error, AudioInputError) else f"{path}: {error}")
            failures += 1
    if not calibrated and args.format != "jsonl":
        print_warning(
            "no calibration given: levels are dBFS (use --calibration-offset-db or "
            "--sensitivity-dbfs for dB SPL)"
        )
    return 1 if failures else 0
