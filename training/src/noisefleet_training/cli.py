"""``noisefleet-train``: train, quantise and export sound classifiers.

Subcommands:
- ``train``: a model from a dataset on disk (UrbanSound8K, ESC-50, class folders, Audacity
  labels), tested on one official fold and, with ``--cross-validate``, on every fold;
- ``default-model``: regenerate the edge's default model from the synthetic generator with
  fixed seeds, evaluated in distribution and on held-out generator settings;
- ``evaluate-events``: sound event detection metrics of the edge pipeline on labelled recordings
  (``noisefleet_training.sed``), optionally tuning per-class thresholds first;
- ``yamnet``: Google's YAMNet from a pinned PyPI wheel, converted to a TFLite model folder the
  edge runs (``noisefleet_training.yamnet``), zero-shot or with a head trained on real clips;
- ``real-clips``: recorded clips from Debian packages (``apt-get download`` + ``dpkg -x``) into a
  cache, split into train and test by package or recording family
  (``noisefleet_training.realclips``).

Failures are one line on stderr (``noisefleet-train: error: ...``) with exit status 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from noisefleet_core.features.logmel import FeatureParams
from noisefleet_core.models.manifest import ModelError
from noisefleet_training.augment import AUGMENTATIONS, AugmentationError, parse_augmentations
from noisefleet_training.datasets import DatasetError, load_dataset
from noisefleet_training.datasets.base import Dataset

PROG = "noisefleet-train"
DATASET_KINDS = ("urbansound8k", "esc50", "folders", "audacity")


class CommandError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, type=Path, help="model folder to write")
        p.add_argument("--epochs", type=int, default=40)
        p.add_argument("--batch-size", type=int, default=64)
        p.add_argument("--width", type=int, default=24, help="CNN width (default 24)")
        p.add_argument(
            "--augment",
            default="time_shift,pitch_shift,mixup,specaugment",
            help=f"comma-separated, or 'none'; from {', '.join(AUGMENTATIONS)}",
        )
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--quiet", action="store_true", help="no progress bars")

    train = commands.add_parser("train", help="train on a dataset on disk")
    train.add_argument("--dataset", choices=DATASET_KINDS, required=True)
    train.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    train.add_argument("--test-fold", type=int, help="fold to test on (default: the last)")
    train.add_argument(
        "--validation-fold", type=int, help="fold for early stopping (default: the one before)"
    )
    train.add_argument(
        "--cross-validate", action="store_true", help="also test on every fold in turn"
    )
    train.add_argument("--name", help="model name (default: the dataset kind)")
    common(train)

    default = commands.add_parser(
        "default-model", help="regenerate the default model from the synthetic generator"
    )
    default.add_argument("--clips-per-class", type=int, default=150)
    default.add_argument("--heldout-clips-per-class", type=int, default=40)
    default.add_argument("--clip-seconds", type=float, default=4.0)
    default.add_argument(
        "--ambient-clips",
        type=int,
        default=300,
        help="clips without a source (half TRAIN beds, half generic noise)",
    )
    default.add_argument(
        "--soundscapes", type=int, default=30, help="60 s TRAIN soundscapes (SNR 0-20 dB)"
    )
    default.add_argument("--workers", type=int, default=1, help="processes generating audio")
    default.add_argument("--work-dir", type=Path, help="keep the float Keras model here")
    common(default)
    default.set_defaults(epochs=30)

    from noisefleet_training.sed.command import add_arguments  # noqa: PLC0415

    events = commands.add_parser(
        "evaluate-events", help="event-based and segment-based F1 of the edge's event detector"
    )
    add_arguments(events)

    from noisefleet_training.yamnet.fetch import default_cache_dir  # noqa: PLC0415

    yamnet = commands.add_parser("yamnet", help="YAMNet as an edge model folder (PyPI wheel)")
    yamnet.add_argument("--out", required=True, type=Path, help="model folder to write")
    yamnet.add_argument(
        "--cache",
        type=Path,
        default=default_cache_dir(),
        help="downloads and conversions (default %(default)s; never inside the repository)",
    )
    yamnet.add_argument("--precision", choices=("float32", "float16"), default="float32")
    yamnet.add_argument(
        "--head",
        choices=("zero-shot", "logreg", "blend"),
        default="zero-shot",
        help="AudioSet scores mapped onto our labels, a logistic regression on YAMNet "
        "embeddings trained on the TRAIN split of --clips, or both blended with the weight, "
        "aggregation and unknown threshold chosen by cross-validation on that TRAIN split",
    )
    yamnet.add_argument(
        "--clips",
        type=Path,
        help="real clips for --head logreg/blend (default CACHE/real-clips)",
    )

    clips = commands.add_parser("real-clips", help="recorded clips from Debian packages, split")
    clips.add_argument(
        "--cache",
        type=Path,
        default=default_cache_dir(),
        help="packages and clips (default %(default)s; never inside the repository)",
    )
    clips.add_argument("--out", type=Path, help="clip folder (default CACHE/real-clips)")
    return parser


def _settings(args: argparse.Namespace) -> Any:
    from noisefleet_training.fit import FitSettings  # noqa: PLC0415  (imports TensorFlow)

    augment = () if args.augment.strip() == "none" else parse_augmentations(args.augment)
    if args.epochs < 1 or args.batch_size < 1 or args.width < 1:
        raise CommandError("--epochs, --batch-size and --width must be at least 1")
    return FitSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        width=args.width,
        augmentations=augment,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
    )


def _folds(dataset: Dataset, test_fold: int | None, validation_fold: int | None) -> tuple[int, int]:
    folds = sorted(dataset.folds)
    if len(folds) < 3:
        raise CommandError(f"{dataset.name}: need at least 3 folds, found {len(folds)}")
    test = folds[-1] if test_fold is None else test_fold
    if test not in folds:
        raise CommandError(f"--test-fold {test}: the dataset has folds {folds}")
    others = [f for f in folds if f != test]
    validation = others[-1] if validation_fold is None else validation_fold
    if validation not in others:
        raise CommandError(f"--validation-fold {validation}: choose one of {others}")
    return test, validation


def _split_windows(
    dataset: Dataset, params: FeatureParams, test: int, validation: int, progress: bool
) -> tuple[Any, Any, Any]:
    from noisefleet_training.features import dataset_windows  # noqa: PLC0415

    rest, test_set = dataset.split(test)
    train_set, validation_set = rest.split(validation)
    return (
        dataset_windows(train_set, params, progress),
        dataset_windows(validation_set, params, progress),
        dataset_windows(test_set, params, progress),
    )


def run_train(args: argparse.Namespace) -> int:
    from noisefleet_training.pipeline import train_export_evaluate  # noqa: PLC0415

    settings = _settings(args)
    dataset = load_dataset(args.dataset, args.root)
    params = FeatureParams()
    test, validation = _folds(dataset, args.test_fold, args.validation_fold)
    name = args.name or args.dataset
    description = (
        f"{dataset.name} at {args.root}: {len(dataset.segments)} labelled segments, folds "
        f"{sorted(dataset.folds)}; tested on fold {test}, early stopping on fold {validation}."
    )
    cv_accuracies = []
    if args.cross_validate:
        folds = sorted(dataset.folds)
        for fold in folds:
            fold_validation = folds[folds.index(fold) - 1]
            train_w, val_w, test_w = _split_windows(
                dataset, params, fold, fold_validation, not args.quiet
            )
            with tempfile.TemporaryDirectory() as tmp:
                fold_report = train_export_evaluate(
                    Path(tmp),
                    f"{name}-fold{fold}",
                    params,
                    train_w,
                    val_w,
                    {"test": test_w},
                    settings,
                    description,
                    "cross-validation run",
                )
            accuracy = fold_report["splits"]["test"]["int8"]["clip_accuracy"]
            cv_accuracies.append(accuracy)
            print(f"fold {fold}: int8 clip accuracy {100 * accuracy:.1f} %", file=sys.stderr)
    train_w, val_w, test_w = _split_windows(dataset, params, test, validation, not args.quiet)
    report = train_export_evaluate(
        args.out,
        name,
        params,
        train_w,
        val_w,
        {"test": test_w},
        settings,
        description,
        "Trained on the data described above only; check it on recordings from your sites.",
    )
    if cv_accuracies:
        report["cross_validation"] = {
            "folds": sorted(dataset.folds),
            "int8_clip_accuracy": cv_accuracies,
            "mean": statistics.fmean(cv_accuracies),
            "std": statistics.pstdev(cv_accuracies),
        }
        from noisefleet_training.report import write_report  # noqa: PLC0415

        write_report(args.out, report)
    _print_summary(report, args.out)
    return 0


def _print_summary(report: dict[str, Any], out: Path) -> None:
    print(f"model written to {out} ({report['model']['tflite_bytes'] / 1024:.0f} KB int8)")
    for name, split in report["splits"].items():
        print(
            f"{name}: int8 clip accuracy {100 * split['int8']['clip_accuracy']:.1f} %, "
            f"float {100 * split['float']['clip_accuracy']:.1f} %, int8/float agreement "
            f"{100 * split['int8_float_agreement']:.1f} %, baseline "
            f"{100 * split['baseline_clip_accuracy']:.1f} %"
        )


def run_default_model(args: argparse.Namespace) -> int:
    from noisefleet_training.default_model import build_default_model  # noqa: PLC0415

    settings = _settings(args)
    if args.clips_per_class < 10 or args.heldout_clips_per_class < 1:
        raise CommandError("need at least 10 clips per class (folds) and 1 held-out clip")
    if args.ambient_clips < 0 or args.soundscapes < 0 or args.workers < 1:
        raise CommandError("--ambient-clips and --soundscapes must be >= 0, --workers >= 1")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or Path(tmp)
        report = build_default_model(
            args.out,
            work,
            settings=replace(settings, balance=True, cosine_decay=True, patience=10),
            clips_per_class=args.clips_per_class,
            heldout_clips_per_class=args.heldout_clips_per_class,
            clip_seconds=args.clip_seconds,
            progress=not args.quiet,
            ambient_clips=args.ambient_clips,
            soundscapes=args.soundscapes,
            workers=args.workers,
        )
    _print_summary(report, args.out)
    return 0


def run_evaluate_events(args: argparse.Namespace) -> int:
    from noisefleet_training.sed.command import ERRORS, evaluate_events  # noqa: PLC0415

    try:
        return evaluate_events(args)
    except ERRORS as error:
        raise CommandError(str(error)) from error


def run_yamnet(args: argparse.Namespace) -> int:
    from noisefleet_training.realclips.build import RealClipsError  # noqa: PLC0415
    from noisefleet_training.yamnet.command import (  # noqa: PLC0415
        blend_spec_factory,
        build_yamnet,
        logreg_spec_factory,
    )
    from noisefleet_training.yamnet.convert import ConversionError  # noqa: PLC0415
    from noisefleet_training.yamnet.fetch import FetchError  # noqa: PLC0415
    from noisefleet_training.yamnet.mapping import MappingError  # noqa: PLC0415

    factory = None
    if args.head == "logreg":
        factory = logreg_spec_factory(args.clips or args.cache / "real-clips", args.cache)
    elif args.head == "blend":
        factory = blend_spec_factory(args.clips or args.cache / "real-clips", args.cache)
    try:
        report = build_yamnet(args.out, args.cache, args.precision, factory)
    except (ConversionError, FetchError, MappingError, RealClipsError) as error:
        raise CommandError(str(error)) from error
    worst = max(report["parity"].values())
    print(
        f"model written to {args.out} ({report['tflite_bytes'] / 1e6:.1f} MB {args.precision}, "
        f"{report['latency_ms']:.2f} ms per window, TFLite vs TensorFlow within {worst:.1e})"
    )
    return 0


def run_real_clips(args: argparse.Namespace) -> int:
    from collections import Counter  # noqa: PLC0415

    from noisefleet_training.realclips.build import RealClipsError, build_real_clips  # noqa: PLC0415
    from noisefleet_training.realclips.catalogue import (  # noqa: PLC0415
        CatalogueError,
        default_catalogue,
    )

    out = args.out or args.cache / "real-clips"
    try:
        clips, shared = build_real_clips(default_catalogue(), args.cache, out)
    except (RealClipsError, CatalogueError) as error:
        raise CommandError(str(error)) from error
    counts = Counter((c.split, c.label) for c in clips)
    print(f"{len(clips)} clips written to {out} (listed in clips.tsv)")
    for split in ("train", "test"):
        per_label = ", ".join(
            f"{label} {n}" for (s, label), n in sorted(counts.items()) if s == split
        )
        print(f"{split}: {per_label}")
    if shared:
        print(f"warning: recording families on both sides of the split: {', '.join(shared)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    handlers = {
        "train": run_train,
        "default-model": run_default_model,
        "evaluate-events": run_evaluate_events,
        "yamnet": run_yamnet,
        "real-clips": run_real_clips,
    }
    try:
        return handlers[args.command](args)
    except (CommandError, DatasetError, AugmentationError, ModelError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # TrainingError and the like, never a traceback
        from noisefleet_training.pipeline import TrainingError  # noqa: PLC0415

        if isinstance(error, TrainingError | OSError):
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
        raise
