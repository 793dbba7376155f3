"""From a dataset to feature windows: the edge's own frontend, applied once per clip.

Each segment is read at the feature sample rate (``datasets.load_audio``), cut into
standardised log-mel windows by ``noisefleet_core.features.logmel`` (the code the edge runs), and
its windows keep the segment's index, so predictions can be voted per clip and folds never mix
windows of one clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from noisefleet_core.features.logmel import FeatureParams, LogMelFrontend
from noisefleet_training.datasets.base import Dataset, LabelledSegment, load_audio

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class WindowSet:
    """Feature windows with their class index and the clip each came from."""

    x: FloatArray
    """(windows, frames, mels) float32, standardised per window."""
    y: IntArray
    """The training target of each window (``ambient`` for a window of background only)."""
    clip: IntArray
    labels: tuple[str, ...]
    clip_y: IntArray | None = None
    """The label of each window's clip, when it differs from the window's own (windows of a
    short event's clip that hold background only); None: the same as ``y``."""
    non_event_labels: tuple[str, ...] = ()
    """Labels that are not events (see ``ModelManifest.non_event_labels``)."""

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def clip_targets(self) -> IntArray:
        """Each window's clip label."""
        return self.y if self.clip_y is None else self.clip_y

    def take(self, mask: npt.NDArray[np.bool_]) -> WindowSet:
        return WindowSet(
            self.x[mask],
            self.y[mask],
            self.clip[mask],
            self.labels,
            None if self.clip_y is None else self.clip_y[mask],
            self.non_event_labels,
        )


def clip_windows(x: npt.ArrayLike, frontend: LogMelFrontend) -> FloatArray:
    """Windows of one clip; a clip shorter than a window is zero-padded to one window."""
    samples = np.asarray(x, dtype=np.float64)
    params = frontend.params
    if samples.size < params.window_samples:
        samples = np.pad(samples, (0, params.window_samples - samples.size))
    return frontend.windows(samples).astype(np.float32)


def extract_windows(
    segments: Sequence[LabelledSegment],
    labels: tuple[str, ...],
    params: FeatureParams,
    progress: bool = True,
    clip_offset: int = 0,
) -> WindowSet:
    frontend = LogMelFrontend(params)
    index = {label: i for i, label in enumerate(labels)}
    xs: list[FloatArray] = []
    ys: list[int] = []
    clips: list[int] = []
    for number, segment in enumerate(
        tqdm(segments, desc="features", unit="clip", disable=not progress, leave=False)
    ):
        windows = clip_windows(load_audio(segment, params.sample_rate_hz), frontend)
        xs.append(windows)
        ys.extend([index[segment.label]] * windows.shape[0])
        clips.extend([clip_offset + number] * windows.shape[0])
    empty = np.empty((0, params.window_frames, params.n_mels), dtype=np.float32)
    return WindowSet(
        np.concatenate(xs) if xs else empty,
        np.asarray(ys, dtype=np.int64),
        np.asarray(clips, dtype=np.int64),
        labels,
    )


def dataset_windows(dataset: Dataset, params: FeatureParams, progress: bool = True) -> WindowSet:
    return extract_windows(dataset.segments, dataset.labels, params, progress)
