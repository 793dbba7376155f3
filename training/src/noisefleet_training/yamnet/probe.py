"""A linear probe on YAMNet embeddings, trained on the TRAIN split of the real clips.

Steps of ``logreg_head``:
1. every TRAIN clip (``noisefleet-train real-clips``) is read at 16 kHz, padded to one window
   when shorter, cut into gain-normalised windows (the edge's own ``waveform_windows``), at most
   ``MAX_WINDOWS_PER_CLIP`` evenly spaced windows per clip so long music does not swamp the rest;
   each event clip is used once more mixed over a TRAIN background clip at 3-15 dB SNR;
2. generated open-set signals (tones, a sweep, noise, silence, espeak-ng speech with the TRAIN
   voices and sentences) join the TRAIN ``ambient`` clips;
3. YAMNet embeddings of every window come from the cached TFLite base model (equal to
   TensorFlow's within the parity check);
4. logistic regression (balanced classes) on standardised embeddings; C is chosen by grouped
   cross-validation over recording families of the TRAIN split only; the test split is never
   read here;
5. the standardisation is folded into the weights, which become a dense softmax head on YAMNet
   (``convert.Head("dense")``); classes without training clips get zero weights and a very low
   bias (they can never win) and are listed in the report.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from ai_edge_litert.interpreter import Interpreter
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from noisefleet_core.features.waveform import WaveformParams, waveform_windows
from noisefleet_training.realclips.audio import TRAIN_SPEECH, clip_signal, open_set_signals
from noisefleet_training.realclips.build import load_real_clips
from noisefleet_training.yamnet.convert import Head

MAX_WINDOWS_PER_CLIP = 24
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0)
ABSENT_BIAS = -30.0
MIX_SNR_DB = (3.0, 15.0)
SEED = 0
OPEN_SET_TRAIN_SEED = 11


class YamnetBase:
    """YAMNet's raw outputs (521 scores, 1024-d embeddings) per gain-normalised window."""

    def __init__(self, tflite: Path, params: WaveformParams | None = None) -> None:
        self.params = params or WaveformParams()
        self._interpreter = Interpreter(model_path=str(tflite), num_threads=1)
        self._runner = self._interpreter.get_signature_runner()
        (self._input,) = self._interpreter.get_signature_list()["serving_default"]["inputs"]

    def windows(self, signal: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return waveform_windows(signal, self.params)

    def outputs(
        self, windows: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(scores, embeddings) of (n, window_samples) windows."""
        scores, embeddings = [], []
        for row in np.asarray(windows, dtype=np.float32):
            out = self._runner(**{self._input: row[np.newaxis]})
            scores.append(out["scores"][0])
            embeddings.append(out["embeddings"][0])
        if not scores:
            return np.empty((0, 521)), np.empty((0, 1024))
        return np.asarray(scores, np.float64), np.asarray(embeddings, np.float64)


def _spaced(windows: npt.NDArray[np.float64], limit: int) -> npt.NDArray[np.float64]:
    if windows.shape[0] <= limit:
        return windows
    chosen: npt.NDArray[np.float64] = windows[
        np.linspace(0, windows.shape[0] - 1, limit).round().astype(int)
    ]
    return chosen


def _mix(
    event: npt.NDArray[np.float64], bed: npt.NDArray[np.float64], snr_db: float
) -> npt.NDArray[np.float64]:
    bed = np.resize(bed, event.size)
    p_event = float(np.mean(event**2)) or 1e-12
    p_bed = float(np.mean(bed**2)) or 1e-12
    return np.asarray(event + bed * np.sqrt(p_event / p_bed / 10 ** (snr_db / 10)))


def training_windows(
    clips_dir: Path, base: YamnetBase, mix: bool = True
) -> tuple[npt.NDArray[np.float64], list[str], list[str], dict[str, Any]]:
    """Steps 1-3: embeddings, labels and recording families of the TRAIN windows (without the
    mixed copies when ``mix`` is false)."""
    fs = base.params.sample_rate_hz
    rng = np.random.default_rng(SEED)
    train = [c for c in load_real_clips(clips_dir) if c.split == "train"]
    beds = [clip_signal(c.file, fs) for c in train if c.label == "ambient"]
    signals: list[tuple[npt.NDArray[np.float64], str, str]] = []
    for clip in train:
        x = clip_signal(clip.file, fs)
        signals.append((x, clip.label, clip.family))
        if mix and clip.label != "ambient" and beds:
            bed = beds[int(rng.integers(len(beds)))]
            signals.append((_mix(x, bed, float(rng.uniform(*MIX_SNR_DB))), clip.label, clip.family))
    open_set = open_set_signals(fs, OPEN_SET_TRAIN_SEED, TRAIN_SPEECH)
    for name, x in open_set.items():
        signals.append((x, "ambient", f"generated:{name.split('_')[0]}"))
    embeddings, labels, families = [], [], []
    for x, label, family in signals:
        windows = _spaced(base.windows(x), MAX_WINDOWS_PER_CLIP)
        _, emb = base.outputs(windows)
        embeddings.append(emb)
        labels.extend([label] * emb.shape[0])
        families.extend([family] * emb.shape[0])
    summary = {
        "train_clips": len(train),
        "train_clips_per_label": dict(sorted(Counter(c.label for c in train).items())),
        "open_set_signals": sorted(open_set),
        "windows": len(labels),
        "windows_per_label": dict(sorted(Counter(labels).items())),
    }
    return np.concatenate(embeddings), labels, families, summary


def _fit(x: npt.NDArray[np.float64], y: npt.NDArray[np.int64], c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    return model.fit(x, y)


def fit_dense(
    embeddings: npt.NDArray[np.float64],
    labels: list[str],
    all_labels: tuple[str, ...],
    c: float,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Logistic regression (balanced classes) on standardised embeddings, the standardisation
    folded in: (weights [1024, len(all_labels)], bias) of ``softmax(e @ weights + bias)``;
    labels without windows get zero weights and ``ABSENT_BIAS``."""
    present = sorted(set(labels), key=all_labels.index)
    y = np.array([present.index(label) for label in labels])
    mean = embeddings.mean(axis=0)
    std = embeddings.std(axis=0) + 1e-6
    model = _fit((embeddings - mean) / std, y, c)
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # binary: sklearn keeps one row; softmax needs both
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    weights = np.zeros((embeddings.shape[1], len(all_labels)), dtype=np.float64)
    bias = np.full(len(all_labels), ABSENT_BIAS, dtype=np.float64)
    for row, k in enumerate(model.classes_.astype(int)):
        column = all_labels.index(present[k])
        weights[:, column] = coef[row] / std
        bias[column] = intercept[row] - float(np.sum(coef[row] * mean / std))
    return weights.astype(np.float32), bias.astype(np.float32)


def dense_probabilities(
    embeddings: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32],
) -> npt.NDArray[np.float64]:
    """What a ``Head("dense")`` computes, in numpy: softmax(embeddings @ weights + bias)."""
    logits = np.asarray(embeddings, np.float64) @ weights.astype(np.float64) + bias
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def fit_probe(
    embeddings: npt.NDArray[np.float64],
    labels: list[str],
    families: list[str],
    all_labels: tuple[str, ...],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], dict[str, Any]]:
    """Steps 4-5: (weights [1024, len(all_labels)], bias) of the folded head, and a report."""
    present = sorted(set(labels), key=all_labels.index)
    y = np.array([present.index(label) for label in labels])
    mean = embeddings.mean(axis=0)
    std = embeddings.std(axis=0) + 1e-6
    z = (embeddings - mean) / std
    groups = np.array(families)
    splits = min(5, len(set(families)))
    cv: dict[str, float] = {}
    for c in C_GRID:
        scores = []
        for train_idx, test_idx in GroupKFold(n_splits=splits).split(z, y, groups):
            if len(set(y[train_idx])) < 2:
                continue
            model = _fit(z[train_idx], y[train_idx], c)
            predicted = model.predict(z[test_idx])
            per_class = [np.mean(predicted[y[test_idx] == k] == k) for k in np.unique(y[test_idx])]
            scores.append(float(np.mean(per_class)))
        cv[str(c)] = float(np.mean(scores))
    best_c = float(max(cv, key=lambda k: cv[k]))
    weights, bias = fit_dense(embeddings, labels, all_labels, best_c)
    report = {
        "C": best_c,
        "cv_balanced_window_accuracy_by_C": cv,
        "cv": f"GroupKFold({splits}) over recording families of the TRAIN split",
        "classes_without_training_data": [label for label in all_labels if label not in present],
    }
    return weights, bias, report


def logreg_head(
    clips_dir: Path, base_tflite: Path, all_labels: tuple[str, ...]
) -> tuple[Head, dict[str, Any]]:
    """The folded dense head (see the module docstring) and what the report says about it."""
    base = YamnetBase(base_tflite)
    embeddings, labels, families, summary = training_windows(clips_dir, base)
    weights, bias, report = fit_probe(embeddings, labels, families, all_labels)
    return Head("dense", weights=weights, bias=bias), {**summary, **report}
