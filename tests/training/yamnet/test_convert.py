"""The YAMNet conversion path on a tiny YAMNet-shaped SavedModel built here (no download).

The stand-in mimics what matters: a function of a 1-D waveform returning (scores [frames, K],
embeddings [frames, D], log-mel), reached through a wrapper (the real one hides inside a Keras
wrapper), saved and loaded as a SavedModel. It is converted with each head, checked for parity,
written as a model folder and run by the edge's classifier, streaming pipeline included.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from noisefleet_core.acoustics.meter import MeterSettings  # noqa: E402
from noisefleet_core.events import DetectorSettings  # noqa: E402
from noisefleet_core.features.waveform import WaveformParams  # noqa: E402
from noisefleet_edge.classifier import SoundClassifier  # noqa: E402
from noisefleet_edge.detection import SensorPipeline  # noqa: E402
from noisefleet_training.yamnet.convert import (  # noqa: E402
    ConversionError,
    Head,
    check_parity,
    convert,
    find_waveform_model,
    load_saved_model,
    parity_signals,
    tflite_outputs,
)
from noisefleet_training.yamnet.folder import write_yamnet_folder  # noqa: E402

FS = 16000
WINDOW = 1600  # 0.1 s: a tiny stand-in for YAMNet's 15 600 samples
N_SCORES = 6
N_EMBED = 4


class _TinyYamnet(tf.Module):  # type: ignore[misc]
    """Frames of WINDOW samples; band energies -> embeddings -> sigmoid scores."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(0)
        self.bands = tf.Variable(rng.normal(size=(WINDOW, N_EMBED)).astype(np.float32))
        self.out = tf.Variable(rng.normal(size=(N_EMBED, N_SCORES)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])  # type: ignore[misc]
    def __call__(self, waveform: Any) -> Any:
        frames = tf.signal.frame(waveform, WINDOW, WINDOW // 2)
        embeddings = tf.nn.relu(tf.math.log(1e-3 + tf.abs(frames @ self.bands)))
        scores = tf.sigmoid(embeddings @ self.out)
        return scores, embeddings, tf.math.log(1e-3 + tf.abs(frames))


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny_yamnet")
    inner = _TinyYamnet()
    tf.saved_model.save(inner, str(root / "inner"), signatures={"serving_default": inner.__call__})
    wrapper = tf.Module()
    wrapper.layer = tf.saved_model.load(str(root / "inner"))  # a loaded module inside a wrapper
    tf.saved_model.save(wrapper, str(root / "outer"))
    return root / "outer"


def test_the_waveform_function_is_found_inside_the_wrapper(saved_model: Path) -> None:
    loaded = load_saved_model(saved_model)
    model = find_waveform_model(loaded)
    scores, embeddings, _ = model(tf.zeros([WINDOW]))
    assert scores.shape == (1, N_SCORES)
    assert embeddings.shape == (1, N_EMBED)
    with pytest.raises(ConversionError, match="waveform"):
        find_waveform_model(tf.Module())


def test_a_blend_is_the_weighted_mean_of_the_dense_and_the_mapping_heads(
    saved_model: Path,
) -> None:
    loaded = load_saved_model(saved_model)
    rng = np.random.default_rng(2)
    weights = rng.normal(size=(N_EMBED, 3)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    indices = ((0, 1), (2,))
    windows = _windows()
    outputs = {
        head.kind: tflite_outputs(convert(loaded, WINDOW, head), windows)["probabilities"]
        for head in (
            Head("dense", weights=weights, bias=bias),
            Head("mapping", indices),
            Head("blend", indices, weights=weights, bias=bias, blend=0.25),
        )
    }
    expected = 0.25 * outputs["dense"] + 0.75 * outputs["mapping"]
    assert np.allclose(outputs["blend"], expected, atol=1e-5)
    with pytest.raises(ConversionError, match=r"within 0\.\.1"):
        Head("blend", indices, weights=weights, bias=bias, blend=1.5)


def _windows() -> np.ndarray:
    return np.stack(list(parity_signals(FS, WINDOW).values()))


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_base_and_heads_convert_with_parity(saved_model: Path, precision: str) -> None:
    loaded = load_saved_model(saved_model)
    rng = np.random.default_rng(1)
    heads = [
        Head("base"),
        Head("mapping", ((0, 1), (2,), (3, 4, 5))),
        Head(
            "dense",
            weights=rng.normal(size=(N_EMBED, 3)).astype(np.float32),
            bias=np.zeros(3, np.float32),
        ),
        Head(
            "blend",
            ((0, 1), (2,)),
            weights=rng.normal(size=(N_EMBED, 3)).astype(np.float32),
            bias=np.zeros(3, np.float32),
            blend=0.7,
        ),
    ]
    tolerance = 1e-3 if precision == "float32" else 5e-2
    for head in heads:
        tflite = convert(loaded, WINDOW, head, precision)
        diffs = check_parity(loaded, tflite, list(_windows()), head, tolerance)
        assert max(diffs.values()) <= tolerance
        outputs = tflite_outputs(tflite, _windows())
        if head.kind == "base":
            assert outputs["scores"].shape == (7, N_SCORES)
            assert outputs["embeddings"].shape == (7, N_EMBED)
        else:
            probs = outputs["probabilities"]
            assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)


def test_dynamic_range_int8_is_not_offered(saved_model: Path) -> None:
    with pytest.raises(ConversionError, match="precision"):
        convert(load_saved_model(saved_model), WINDOW, Head("base"), "int8")


def test_the_folder_runs_on_the_edge_with_gain_normalisation(
    saved_model: Path, tmp_path: Path
) -> None:
    loaded = load_saved_model(saved_model)
    head = Head("mapping", ((0, 1), (2, 3)))
    tflite = convert(loaded, WINDOW, head)
    class_map = tmp_path / "class_map.csv"
    class_map.write_text(
        "index,mid,display_name\n" + "".join(f"{i},/m/{i},s{i}\n" for i in range(6))
    )
    params = WaveformParams(sample_rate_hz=FS, window_samples=WINDOW, window_hop_samples=800)
    folder = tmp_path / "model"
    write_yamnet_folder(
        folder,
        tflite,
        "tiny",
        ("a", "b", "ambient"),
        ("ambient",),
        params,
        class_map,
        {"wheel": "tiny.whl", "sha256": "0" * 64, "precision": "float32"},
        {"name": "tiny"},
        "# Model card: tiny\n",
    )
    assert {p.name for p in folder.iterdir()} >= {"model.json", "LICENSE-YAMNET", "NOTICE"}
    classifier = SoundClassifier(folder)
    assert classifier.manifest.input_kind == "waveform"
    rng = np.random.default_rng(2)
    x = 0.3 * rng.standard_normal(FS)
    loud = classifier.classify(x, FS)
    quiet = classifier.classify(x * 1e-3, FS)  # -60 dB: the gain normalisation undoes it
    assert loud is not None
    assert quiet is not None
    assert np.allclose(loud.window_probabilities, quiet.window_probabilities, atol=1e-4)
    # The streaming pipeline runs the waveform model too, on the calibrated signal's gate.
    pipeline = SensorPipeline(
        MeterSettings(FS, 1.0, calibration_offset_db=120.0, calibrated=True),
        classifier,
        DetectorSettings(classifier.labels, non_event_labels=("ambient",)),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    records = pipeline.process(np.tile(x, 3)) + pipeline.flush()
    assert [r["kind"] for r in records].count("levels") == 3
    assert pipeline.gate_stats.windows_classified > 0


@pytest.mark.slow
def test_the_real_yamnet_when_its_wheel_is_cached(tmp_path: Path) -> None:
    """Only where the pinned wheel already sits in the cache: unit tests never download."""
    from noisefleet_training.yamnet.command import build_yamnet
    from noisefleet_training.yamnet.fetch import WHEEL_FILE, default_cache_dir

    cache = default_cache_dir()
    if not (cache / "wheels" / WHEEL_FILE).is_file() or os.environ.get("NOISEFLEET_NO_YAMNET"):
        pytest.skip("the YAMNet wheel is not cached (run noisefleet-train yamnet once)")
    report = build_yamnet(tmp_path / "yamnet", cache)
    assert max(report["parity"].values()) < 1e-3
    classifier = SoundClassifier(tmp_path / "yamnet")
    t = np.arange(3 * 16000) / 16000
    tone = classifier.classify(0.003 * np.sin(2 * np.pi * 1000 * t), 16000)
    assert tone is not None
    assert tone.decision.label != "siren"
