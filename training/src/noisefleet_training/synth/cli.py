"""``python -m noisefleet_training.synth``: write synthetic clips or soundscapes.

Subcommands:
- ``clips OUT_DIR --per-class N --preset train|heldout --seed S``: an UrbanSound8K-layout data set;
- ``soundscapes OUT_DIR --count N --duration-s 60 --preset ... --seed S``: long recordings with
  Audacity label tracks of their events and of their quiet stretches.

Every failure is one line on stderr starting with ``noisefleet-synth: error:``; exit status 2
for a wrong command line, 1 when the output could not be written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from .files import default_workers, generate_dataset, generate_soundscapes
from .settings import PRESETS, preset

PROG = "noisefleet-synth"


class UsageError(Exception):
    """A wrong command line (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other error of this command."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            bound = "0 or more" if minimum == 0 else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_seed = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Synthetic urban sounds for the default classifier.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("out_dir", type=Path, metavar="OUT_DIR")
        sub.add_argument("--preset", choices=sorted(PRESETS), default="train")
        sub.add_argument("--seed", type=_seed, default=0)
        sub.add_argument("--fs", type=_positive_int, default=16000, help="sample rate (Hz)")

    clips = commands.add_parser("clips", help="an UrbanSound8K-layout data set")
    common(clips)
    clips.add_argument("--per-class", type=_positive_int, required=True, dest="per_class")
    clips.add_argument("--folds", type=_positive_int, default=10)
    clips.add_argument("--duration-s", type=_positive_float, default=4.0, dest="duration_s")
    clips.add_argument(
        "--workers", type=_positive_int, default=None, help="processes (default: all CPUs)"
    )

    scapes = commands.add_parser("soundscapes", help="long soundscapes with label tracks")
    common(scapes)
    scapes.add_argument("--count", type=_positive_int, required=True)
    scapes.add_argument("--duration-s", type=_positive_float, default=60.0, dest="duration_s")
    scapes.add_argument(
        "--density", type=_positive_float, default=6.0, help="events per minute (default 6)"
    )
    return parser


def _check_writable(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OSError(f"{out_dir} exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OSError(f"{out_dir} is not writable")


def _run(args: argparse.Namespace, out: TextIO) -> None:
    settings = preset(args.preset)
    if args.command == "clips" and args.per_class < args.folds:
        raise UsageError(
            f"--per-class {args.per_class} is fewer than --folds {args.folds}:"
            " every fold needs every class"
        )
    if args.fs < 8000:
        raise UsageError(f"--fs must be at least 8000 Hz, got {args.fs}")
    _check_writable(args.out_dir)
    began = time.perf_counter()
    if args.command == "clips":
        workers = args.workers or default_workers()
        meta = generate_dataset(
            args.out_dir,
            settings,
            args.per_class,
            args.seed,
            args.fs,
            args.folds,
            args.duration_s,
            workers,
        )
        made, what = args.per_class * 10, "clips"
        where = meta.parent.parent
    else:
        generate_soundscapes(
            args.out_dir, settings, args.count, args.seed, args.duration_s, args.fs, args.density
        )
        made, what, where = args.count, "soundscapes", args.out_dir
    elapsed = time.perf_counter() - began
    print(
        f"wrote {made} {what} ({settings.name} preset, seed {args.seed}) to {where}"
        f" in {elapsed:.1f} s",
        file=out,
    )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout
    try:
        args = build_parser().parse_args(argv)
        _run(args, stream)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        reason = error.strerror or str(error)
        where = f"{error.filename}: " if error.filename else ""
        print(f"{PROG}: error: cannot write output: {where}{reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
