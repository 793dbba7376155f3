"""The ``noisefleet-edge`` command: measure recordings, calibrate, run a live meter, demo.

Subcommands:
- ``analyze PATH...``: level records per interval for each recording (jsonl, csv or table);
- ``calibrate RECORDING``: the calibration offset from a calibrator recording;
- ``levels --live``: a live meter from a microphone;
- ``classify PATH...``: the sound class of each recording (int8 classifier, default model);
- ``demo``: generates a calibrator recording and a street recording, calibrates, analyzes;
- ``run --config edge.toml``: the edge agent (sensors → levels and events → MQTT).

Every failure is one line on stderr starting with ``noisefleet-edge: error:``; exit status 0
when everything was measured, 1 when some input could not be, 2 for a wrong command line.

This module imports nothing heavy: each subcommand loads its own module (numpy, soundfile,
the interpreter) when it runs, so ``--help`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from noisefleet_core.acoustics.units import DEFAULT_MAX_FLUCTUATION_DB
from noisefleet_edge.console import (
    FORMATS,
    PROG,
    CommandError,
    limit_malloc_arenas,
    limit_native_threads,
    print_error,
)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    return value


def _add_calibration_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--calibration-offset-db",
        type=float,
        metavar="O",
        help="dB SPL = dBFS + O (dBFS per AES17: a full-scale sine reads 0 dBFS)",
    )
    group.add_argument(
        "--sensitivity-dbfs",
        type=float,
        metavar="S",
        help="a 94 dB SPL 1 kHz tone reads S dBFS (e.g. -26 for many MEMS mics); O = 94 - S",
    )


def _add_event_options(parser: argparse.ArgumentParser, default: bool) -> None:
    events = parser.add_argument_group(
        "sound events",
        'Event records ("kind": "event") and per-interval energy shares, from the level gate, '
        "the classifier and the event detector. Gate and unknown levels are dB SPL, so they "
        "apply only with a calibration; csv output carries levels only.",
    )
    events.add_argument(
        "--events",
        action=argparse.BooleanOptionalAction,
        default=default,
        help=f"detect sound events with the classifier (default: {'on' if default else 'off'})",
    )
    events.add_argument("--model", type=Path, help="model folder (default: the built-in one)")
    events.add_argument(
        "--gate-level-db",
        type=float,
        default=45.0,
        help="no inference while LAeq stays below this (dB SPL, default 45)",
    )
    events.add_argument(
        "--unknown-level-db",
        type=float,
        default=65.0,
        help="loud sound no class explains becomes an 'unknown' event (dB SPL, default 65)",
    )
    events.add_argument(
        "--onset-threshold",
        type=float,
        help="score that starts an event, every class (default: the model's tuned values, or 0.5)",
    )
    events.add_argument(
        "--offset-threshold",
        type=float,
        help="score below which an event ends (default: the model's tuned values, or 0.3)",
    )
    events.add_argument("--min-duration-s", type=float, default=0.3)
    events.add_argument("--merge-gap-s", type=float, default=0.5)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="noisefleet edge: a calibrated class 1 sound level meter"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    analyze = commands.add_parser(
        "analyze", help="measure recordings: LAeq, LAFmax, percentiles... per interval"
    )
    analyze.add_argument("paths", nargs="+", metavar="PATH", help="WAV, FLAC or OGG recordings")
    analyze.add_argument(
        "--interval-s",
        type=_seconds,
        default=1.0,
        help="reporting interval in seconds, 0.1 to 3600 (default 1)",
    )
    _add_calibration_options(analyze)
    analyze.add_argument(
        "--start-time",
        metavar="RFC3339",
        help="time of the first sample (default: file modification time minus its duration)",
    )
    analyze.add_argument("--channel", type=int, default=0, help="channel to measure (default 0)")
    analyze.add_argument("--format", choices=FORMATS, default="jsonl")
    _add_event_options(analyze, default=True)

    calibrate = commands.add_parser(
        "calibrate", help="derive the calibration offset from a calibrator recording"
    )
    calibrate.add_argument("recording", metavar="RECORDING")
    calibrate.add_argument(
        "--reference-db", type=float, default=94.0, help="calibrator level in dB SPL (94)"
    )
    calibrate.add_argument(
        "--tone-hz", type=float, default=1000.0, help="calibrator frequency (1000)"
    )
    calibrate.add_argument("--channel", type=int, default=0)
    calibrate.add_argument(
        "--max-fluctuation-db",
        type=float,
        default=DEFAULT_MAX_FLUCTUATION_DB,
        help="warn when the tone level varies more than this (default %(default)s dB)",
    )

    levels = commands.add_parser("levels", help="a live meter from a microphone")
    levels.add_argument("--live", action="store_true", help="measure the microphone live")
    levels.add_argument("--list-devices", action="store_true", help="list input devices")
    levels.add_argument("--device", help="input device index or name (default: system default)")
    levels.add_argument("--sample-rate", type=int, default=48000, help="Hz (default 48000)")
    levels.add_argument("--channel", type=int, default=0)
    levels.add_argument("--interval-s", type=_seconds, default=1.0)
    levels.add_argument("--duration-s", type=float, help="stop after this many seconds")
    levels.add_argument("--format", choices=FORMATS, default="table")
    _add_event_options(levels, default=False)
    _add_calibration_options(levels)

    classify = commands.add_parser(
        "classify", help="recognise the sound in recordings with the int8 classifier"
    )
    classify.add_argument("paths", nargs="+", metavar="PATH", help="recordings to classify")
    classify.add_argument("--model", type=Path, help="model folder (default: the built-in one)")
    classify.add_argument(
        "--windows", action="store_true", help="also print each analysis window's scores"
    )
    classify.add_argument(
        "--aggregation", choices=("mean", "max", "majority"), help="override the model's voting"
    )
    classify.add_argument("--channel", type=int, default=0)
    classify.add_argument("--format", choices=("jsonl", "table"), default="table")

    demo = commands.add_parser(
        "demo", help="calibrate and measure generated recordings (no hardware needed)"
    )
    demo.add_argument(
        "--output-dir", default="demo-output", help="where the generated recordings go"
    )
    run = commands.add_parser(
        "run",
        help="the edge agent: measure every configured sensor and publish over MQTT",
        description="Run the edge agent as configured in a TOML file (deploy/edge/edge.toml is "
        "the documented template). SIGTERM or Ctrl-C stops it cleanly.",
    )
    run.add_argument("--config", type=Path, required=True, metavar="TOML")
    run.add_argument(
        "--check",
        action="store_true",
        help="validate the configuration and load the models, then exit (0: valid)",
    )
    run.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return parser


def run_agent(args: argparse.Namespace, out: TextIO) -> int:
    from noisefleet_edge.agent.main import run_agent as agent  # noqa: PLC0415

    return agent(args.config, args.check, args.log_level, out)


def run_calibrate(args: argparse.Namespace, out: TextIO) -> int:
    from noisefleet_edge.calibrate_command import run_calibrate as calibrate  # noqa: PLC0415

    return calibrate(args, out)


def run_levels(args: argparse.Namespace, out: TextIO) -> int:
    from noisefleet_edge.levels_command import run_levels as levels  # noqa: PLC0415

    return levels(args, out)


def run_analyze(args: argparse.Namespace, out: TextIO) -> int:
    from noisefleet_edge.analyze_command import run_analyze as analyze  # noqa: PLC0415

    return analyze(args, out)


def run_classify(args: argparse.Namespace, out: TextIO) -> int:
    from noisefleet_edge.classify_command import classify_paths  # noqa: PLC0415

    return classify_paths(
        args.paths, args.model, args.channel, args.aggregation, args.windows, args.format, out
    )


def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    from noisefleet_edge.demo import run as demo_run  # noqa: PLC0415

    return demo_run(Path(args.output_dir), out)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    limit_native_threads()  # first: no subcommand has loaded numpy yet
    limit_malloc_arenas()
    stream = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)
    handlers = {
        "analyze": run_analyze,
        "calibrate": run_calibrate,
        "levels": run_levels,
        "classify": run_classify,
        "demo": run_demo,
        "run": run_agent,
    }
    try:
        return handlers[args.command](args, stream)
    except CommandError as error:
        print_error(str(error))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into a command that stopped reading (e.g. head): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
