"""``noisefleet-edge classify``: the clip label, confidence and scores of each recording."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from noisefleet_core.models.manifest import ModelError
from noisefleet_edge.audio_files import AudioInputError, open_recording, read_channel
from noisefleet_edge.classifier import SoundClassifier, default_model_dir
from noisefleet_edge.console import print_error

DECIMALS = 4


def classify_paths(
    paths: Sequence[str],
    model_dir: Path | None,
    channel: int,
    aggregation: str | None,
    with_windows: bool,
    output_format: str,
    out: TextIO,
) -> int:
    try:
        classifier = SoundClassifier(model_dir or default_model_dir())
    except ModelError as error:
        print_error(str(error))
        return 1
    failures = 0
    for path in paths:
        try:
            recording = open_recording(path)
            samples = read_channel(recording, channel)
        except AudioInputError as error:
            print_error(str(error))
            failures += 1
            continue
        result = classifier.classify(samples, recording.sample_rate_hz, aggregation)
        if result is None:
            print_error(f"{path}: too short to classify (shorter than one analysis window)")
            failures += 1
            continue
        decision = result.decision
        record: dict[str, Any] = {
            "path": str(path),
            "label": decision.label,
            "confidence": round(decision.confidence, DECIMALS),
            "scores": {k: round(v, DECIMALS) for k, v in decision.scores.items()},
        }
        if with_windows:
            record["windows"] = [
                {
                    "start_s": round(start, 3),
                    "scores": {
                        label: round(float(p), DECIMALS)
                        for label, p in zip(classifier.labels, probs, strict=True)
                    },
                }
                for start, probs in zip(
                    result.window_starts_s, result.window_probabilities, strict=True
                )
            ]
        if output_format == "jsonl":
            out.write(json.dumps(record) + "\n")
        else:
            runner_up = sorted(decision.scores.items(), key=lambda kv: -kv[1])[1:3]
            others = ", ".join(f"{k} {v:.2f}" for k, v in runner_up)
            out.write(f"{path}: {decision.label} ({decision.confidence:.2f}; then {others})\n")
            if with_windows:
                for window in record["windows"]:
                    best = max(window["scores"].items(), key=lambda kv: kv[1])
                    out.write(f"  {window['start_s']:8.2f} s  {best[0]} {best[1]:.2f}\n")
        out.flush()
    return 1 if failures else 0
