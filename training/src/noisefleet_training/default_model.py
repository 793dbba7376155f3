"""The edge's default model, regenerated from the synthetic generator with fixed seeds.

Steps of ``build_default_model``:
1. generate, in memory, the training corpus with the generator's TRAIN settings (``scenes``):
   event clips, ambient clips (beds without a source) and soundscapes (events on beds at SNR
   0-20 dB), every window labelled with the event it holds or ``ambient``; and a held-out corpus
   of event and ambient clips with the HELDOUT settings (other parameter ranges, backgrounds
   and rooms: see ``synth.settings``), for evaluation only;
2. items of fold 10 are the in-distribution test, fold 9 stops training early, folds 1-8 train;
3. train, export int8 (``ambient`` declared a non-event label) and evaluate on both the test
   fold and the held-out corpus;
4. run the edge's event detection over TRAIN and HELDOUT evaluation soundscapes
   (``sed.figures``) and add its figures to the report and model card.

The held-out figure is the honest one: a model that learned the generator's quirks scores well
on fold 10 and worse there. Real recordings vary more than either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from noisefleet_core.features.logmel import FeatureParams
from noisefleet_training.fit import FitSettings
from noisefleet_training.pipeline import train_export_evaluate
from noisefleet_training.report import write_report
from noisefleet_training.scenes import AMBIENT_LABEL, SceneCorpus, corpus_items, items_windows
from noisefleet_training.sed.figures import detection_figures
from noisefleet_training.synth.settings import HELDOUT_SETTINGS, TRAIN_SETTINGS

TEST_FOLD = 10
VALIDATION_FOLD = 9
TRAIN_FOLDS = tuple(range(1, VALIDATION_FOLD))
ALL_FOLDS = tuple(range(1, TEST_FOLD + 1))
HELDOUT_SEED_OFFSET = 1000
DEFAULT_MODEL_NAME = "noisefleet-default-synth-urban10-ambient"

LIMITS = """\
Trained only on procedurally generated sounds: it recognises the generator's idea of the ten
UrbanSound8K classes, and `ambient` (background only) from the training beds (traffic, wind,
park). Expect much lower accuracy on real recordings (the held-out generator figure is an upper
bound for them, not an estimate). Retrain on your own labelled recordings
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
    ambient_clips: int = 300,
    soundscapes: int = 30,
    workers: int = 1,
) -> dict[str, Any]:
    del progress  # the corpus is generated in memory, in one pass
    params = FeatureParams()
    train_corpus = SceneCorpus(
        TRAIN_SETTINGS,
        settings.seed,
        clips_per_class,
        ambient_clips,
        clip_seconds,
        soundscapes=soundscapes,
    )
    heldout_corpus = SceneCorpus(
        HELDOUT_SETTINGS,
        settings.seed + HELDOUT_SEED_OFFSET,
        heldout_clips_per_class,
        heldout_clips_per_class,
        clip_seconds,
        generic_ambient=False,
    )
    items = corpus_items(train_corpus, params, workers)
    train = items_windows(items, params, TRAIN_FOLDS)
    validation = items_windows(items, params, (VALIDATION_FOLD,))
    test = items_windows(items, params, (TEST_FOLD,))
    heldout = items_windows(corpus_items(heldout_corpus, params, workers), params, ALL_FOLDS)
    description = (
        f"Synthetic urban sounds from `noisefleet_training.synth` (`noisefleet_training.scenes`),"
        f" TRAIN generator settings, seed {settings.seed}: {clips_per_class} clips of "
        f"{clip_seconds:g} s per class, {ambient_clips} `{AMBIENT_LABEL}` clips (no source: "
        "half TRAIN beds, half generic coloured noise) and "
        f"{soundscapes} soundscapes of 60 s (events on beds at SNR 0-20 dB); every window is "
        f"labelled with the event it holds or `{AMBIENT_LABEL}`, half-covered windows are left "
        f"out. Folds 1-8 train, fold {VALIDATION_FOLD} stops early, fold {TEST_FOLD} is the "
        f"in-distribution test; {heldout_clips_per_class} clips per class and as many "
        f"`{AMBIENT_LABEL}` clips (HELDOUT beds only) with the HELDOUT settings (seed "
        f"{settings.seed + HELDOUT_SEED_OFFSET}) are the held-out test (never trained or tuned "
        "on). Clip accuracy votes among the ten event classes over event clips only. "
        "Regenerate with `make default-model`."
    )
    work.mkdir(parents=True, exist_ok=True)
    report = train_export_evaluate(
        out,
        DEFAULT_MODEL_NAME,
        params,
        train,
        validation,
        {f"test_fold_{TEST_FOLD}": test, "heldout_generator": heldout},
        settings,
        description,
        LIMITS,
        keep_float_model=work / "float_model.keras",
    )
    report["sound_event_detection"] = detection_figures(out, work / "soundscapes")
    write_report(out, report)
    return report
