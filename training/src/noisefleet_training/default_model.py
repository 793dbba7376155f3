"""The edge's default model, regenerated from the synthetic generator with fixed seeds.

Steps of ``build_default_model``:
1. generate the training corpus with the generator's TRAIN settings (UrbanSound8K layout, ten
   folds) and a held-out corpus with its HELDOUT settings (other parameter ranges, backgrounds
   and rooms: see ``synth.settings``);
2. extract features with the edge's frontend; fold 10 is the in-distribution test, fold 9 stops
   training early, folds 1-8 train;
3. train, export int8 and evaluate on both the test fold and the held-out generator corpus.

The held-out figure is the honest one: a model that learned the generator's quirks scores well
on fold 10 and worse there. Real recordings vary more than either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from noisefleet_core.features.logmel import FeatureParams
from noisefleet_training.datasets.urbansound8k import load_urbansound8k
from noisefleet_training.features import dataset_windows
from noisefleet_training.fit import FitSettings
from noisefleet_training.pipeline import train_export_evaluate
from noisefleet_training.synth import generate_dataset
from noisefleet_training.synth.settings import HELDOUT_SETTINGS, TRAIN_SETTINGS

TEST_FOLD = 10
VALIDATION_FOLD = 9
HELDOUT_SEED_OFFSET = 1000
DEFAULT_MODEL_NAME = "noisefleet-default-synth-urban10"

LIMITS = """\
Trained only on procedurally generated sounds: it recognises the generator's idea of the ten
UrbanSound8K classes. Expect much lower accuracy on real recordings (the held-out generator
figure is an upper bound for them, not an estimate). Retrain on your own labelled recordings
(`noisefleet-train train --dataset ...`) before relying on labels; levels never depend on it.
"""


def build_default_model(
    out: Path,
    work: Path,
    settings: FitSettings,
    clips_per_class: int,
    heldout_clips_per_class: int,
    clip_seconds: float,
    progress: bool,
) -> dict[str, Any]:
    params = FeatureParams()
    train_root = work / "synth-train"
    heldout_root = work / "synth-heldout"
    generate_dataset(
        train_root,
        TRAIN_SETTINGS,
        clips_per_class,
        seed=settings.seed,
        fs=params.sample_rate_hz,
        duration_s=clip_seconds,
        workers=2,
    )
    generate_dataset(
        heldout_root,
        HELDOUT_SETTINGS,
        heldout_clips_per_class,
        seed=settings.seed + HELDOUT_SEED_OFFSET,
        fs=params.sample_rate_hz,
        duration_s=clip_seconds,
        workers=2,
    )
    dataset = load_urbansound8k(train_root)
    heldout = load_urbansound8k(heldout_root)
    rest, test_set = dataset.split(TEST_FOLD)
    train_set, validation_set = rest.split(VALIDATION_FOLD)
    train = dataset_windows(train_set, params, progress)
    validation = dataset_windows(validation_set, params, progress)
    test = dataset_windows(test_set, params, progress)
    heldout_windows = dataset_windows(heldout, params, progress)
    description = (
        f"Synthetic urban sounds from `noisefleet_training.synth`: {clips_per_class} clips of "
        f"{clip_seconds:g} s per class with the TRAIN generator settings (seed {settings.seed}), "
        f"folds 1-8 for training, fold {VALIDATION_FOLD} for early stopping, fold {TEST_FOLD} "
        f"as the in-distribution test; {heldout_clips_per_class} clips per class with the "
        f"HELDOUT settings (seed {settings.seed + HELDOUT_SEED_OFFSET}) as the held-out test. "
        "Regenerate with `make default-model`."
    )
    return train_export_evaluate(
        out,
        DEFAULT_MODEL_NAME,
        params,
        train,
        validation,
        {f"test_fold_{TEST_FOLD}": test, "heldout_generator": heldout_windows},
        settings,
        description,
        LIMITS,
        keep_float_model=work / "float_model.keras",
    )
