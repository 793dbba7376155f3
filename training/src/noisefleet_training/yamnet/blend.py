"""The ``blend`` head: a linear probe on YAMNet embeddings blended with the zero-shot mapping, and
its clip decision rule, all chosen by cross-validation on the TRAIN split.

Why (cross-validated on the TRAIN split, ``docs/real-sounds.md``): the probe alone rejects few
background clips and knows nothing of classes without training clips (children_playing,
car_horn) or with a single one (jackhammer, drilling: held out, nothing of them is left); the
zero-shot mapping misses game sound effects. Blended they beat both.

Steps of ``blend_head``:
1. TRAIN windows as for ``--head logreg`` (``probe.training_windows``) but without mixed copies
   (mixing over TRAIN beds at 0-20 dB SNR and generator clips lowered the cross-validated score);
2. every TRAIN clip's windows, all of them, with YAMNet's scores mapped zero-shot
   (``mapping.zero_shot_probabilities``);
3. for each C of ``C_GRID``: GroupKFold over recording families (``CV_FOLDS``); the probe of
   each fold (``probe.fit_dense``) scores the clips of the families it left out; generated
   open-set signals always stay in training;
4. ``decision.select_rule`` picks the blend weight, aggregation and ``unknown`` threshold on
   those out-of-fold clips, leaving out clips whose class the fold never saw (jackhammer and
   drilling have one TRAIN family each: held out, the probe cannot know them, while the final
   probe does: counting them would favour the zero-shot part for a reason the final head
   does not have); the C with the best balanced clip accuracy wins (ties: smaller C);
5. the probe refitted on all TRAIN windows with that C becomes ``Head("blend")``; the rule's
   aggregation and threshold go into ``model.json``. The TEST split is never read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import GroupKFold

from noisefleet_training.realclips.audio import clip_signal
from noisefleet_training.realclips.build import load_real_clips
from noisefleet_training.yamnet.convert import Head
from noisefleet_training.yamnet.decision import CvClip, DecisionRule, rule_key, select_rule
from noisefleet_training.yamnet.mapping import (
    AMBIENT_LABEL,
    mapped_scores,
    mapping_indices,
    zero_shot_probabilities,
)
from noisefleet_training.yamnet.probe import (
    YamnetBase,
    dense_probabilities,
    fit_dense,
    training_windows,
)

C_GRID = (0.003, 0.01, 0.1)
CV_FOLDS = 6


def out_of_fold_clips(
    embeddings: npt.NDArray[np.float64],
    labels: list[str],
    families: list[str],
    clips: list[tuple[str, str, npt.NDArray[np.float64], npt.NDArray[np.float64]]],
    all_labels: tuple[str, ...],
    c: float,
    non_event_labels: tuple[str, ...] = (AMBIENT_LABEL,),
) -> list[CvClip]:
    """Step 3 for one C. ``clips``: (label, family, embeddings, zero-shot probabilities) of each
    TRAIN clip; a window family that no clip has (generated signals) is always trained on."""
    clip_families = sorted({family for _, family, _, _ in clips})
    folds = min(CV_FOLDS, len(clip_families))
    fold_of = {
        clip_families[i]: k
        for k, (_, held) in enumerate(
            GroupKFold(n_splits=folds).split(clip_families, groups=clip_families)
        )
        for i in held
    }
    window_fold = np.array([fold_of.get(f, -1) for f in families])
    out: list[CvClip] = []
    for k in range(folds):
        keep = window_fold != k
        fold_labels = [lab for lab, m in zip(labels, keep, strict=True) if m]
        weights, bias = fit_dense(embeddings[keep], fold_labels, all_labels, c)
        trained = set(fold_labels) | set(non_event_labels)
        for label, family, emb, zero_shot in clips:
            if fold_of[family] == k:
                probs = dense_probabilities(emb, weights, bias)
                out.append(CvClip(label, probs, zero_shot, seen=label in trained))
    return out


def blend_head(
    clips_dir: Path,
    base_tflite: Path,
    all_labels: tuple[str, ...],
    class_names: tuple[str, ...],
) -> tuple[Head, DecisionRule, dict[str, Any]]:
    """Steps 1-5 of the module docstring: the head, its decision rule and a report."""
    base = YamnetBase(base_tflite)
    indices = mapping_indices(class_names)
    embeddings, labels, families, summary = training_windows(clips_dir, base, mix=False)
    clips = []
    for clip in (c for c in load_real_clips(clips_dir) if c.split == "train"):
        scores, emb = base.outputs(base.windows(clip_signal(clip.file, base.params.sample_rate_hz)))
        if emb.shape[0]:
            zero_shot = zero_shot_probabilities(mapped_scores(scores, indices))
            clips.append((clip.label, clip.family, emb, zero_shot))
    non_event = (AMBIENT_LABEL,)
    by_c: dict[float, tuple[DecisionRule, dict[str, float]]] = {}
    for c in C_GRID:
        cv_clips = out_of_fold_clips(embeddings, labels, families, clips, all_labels, c)
        by_c[c] = select_rule(cv_clips, all_labels, non_event)

    def key(c: float) -> tuple[float, float]:
        rule, table = by_c[c]
        return (table[rule_key(rule)], -c)

    best_c = max(by_c, key=key)
    rule, table = by_c[best_c]
    weights, bias = fit_dense(embeddings, labels, all_labels, best_c)
    head = Head("blend", tuple(indices.values()), weights=weights, bias=bias, blend=rule.blend)
    report = {
        **summary,
        "C": best_c,
        "decision_rule": {
            "blend": rule.blend,
            "aggregation": rule.aggregation,
            "unknown_threshold": rule.unknown_threshold,
        },
        "cv": f"GroupKFold({CV_FOLDS}) over recording families of the TRAIN clips; "
        "balanced clip accuracy (ambient clips must be unknown)",
        "cv_best_balanced_clip_accuracy_by_C": {
            str(c): by_c[c][1][rule_key(by_c[c][0])] for c in C_GRID
        },
        "cv_balanced_clip_accuracy_by_rule": table,
        "classes_without_training_data": [lab for lab in all_labels if lab not in set(labels)],
    }
    return head, rule, report
