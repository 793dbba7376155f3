"""One sensor's streaming chain: levels, the level gate, the classifier and the event detector.

For every block of audio ``SensorPipeline.process``:
1. measures it (``SoundLevelMeter`` with 0.1 s frames) and resamples it to the classifier's
   rate (``StreamingResampler``: blocks of any size give the same features);
2. decides each frame's gate (``LevelGate``): quiet frames never cost an inference;
3. for every analysis window whose audio is complete, runs the classifier (log-mel or waveform
   input, ``SoundClassifier.windows``) when any frame under it has the gate open, and counts it
   as saved otherwise; levels and the gate always use the calibrated signal, only the model's
   copy of a window is standardised or gain-normalised;
4. gives each frame the mean scores of the classified windows that cover its centre and pushes
   frames, in order, to the ``EventDetector`` once no later window can cover them;
5. turns level records and events into wire records; a level record waits until the energy
   attribution of all its frames is settled and carries ``energy_shares`` (what caused the noise).
No audio leaves this object: only levels and event summaries.
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from noisefleet_core.acoustics.frames import FrameLevel
from noisefleet_core.acoustics.meter import LevelRecord, MeterSettings, SoundLevelMeter
from noisefleet_core.contract.events import event_to_wire
from noisefleet_core.contract.levels import level_record_to_wire
from noisefleet_core.events import (
    DetectedEvent,
    DetectorSettings,
    EnergyAttribution,
    EventDetector,
    Frame,
    LevelGate,
)
from noisefleet_core.features.resample import StreamingResampler
from noisefleet_edge.classifier import SoundClassifier

FloatArray = npt.NDArray[np.float64]
DECIMALS = 4


@dataclass
class GateStats:
    windows_total: int = 0
    windows_classified: int = 0

    @property
    def saved_fraction(self) -> float:
        if self.windows_total == 0:
            return 0.0
        return 1.0 - self.windows_classified / self.windows_total


class Measurement(Protocol):
    """Audio blocks in, wire records out: ``SensorPipeline``, or ``LevelsOnly``."""

    def process(self, block: npt.ArrayLike) -> list[dict[str, Any]]: ...

    def flush(self) -> list[dict[str, Any]]: ...


class LevelsOnly:
    """The level meter alone, behind the pipeline's interface (``--no-events``)."""

    def __init__(
        self,
        settings: MeterSettings,
        stream_start: datetime,
        source: str | None = None,
        channel: int | None = None,
    ) -> None:
        self._meter = SoundLevelMeter(settings)
        self._stream_start = stream_start
        self._source = source
        self._channel = channel

    def _wire(self, record: LevelRecord) -> dict[str, Any]:
        return level_record_to_wire(record, self._stream_start, self._source, self._channel)

    def process(self, block: npt.ArrayLike) -> list[dict[str, Any]]:
        return [self._wire(r) for r in self._meter.process(np.asarray(block, dtype=np.float64))]

    def flush(self) -> list[dict[str, Any]]:
        last = self._meter.flush()
        return [] if last is None else [self._wire(last)]


def _mean_scores(scores: list[FloatArray]) -> FloatArray | None:
    """``np.mean(scores, axis=0)`` (the same sums, bit for bit), without its per-call overhead
    for the usual one or two windows over a frame; None without scores."""
    if not scores:
        return None
    if len(scores) == 1:
        return scores[0]  # Frame keeps its own copy
    if len(scores) == 2:
        return (scores[0] + scores[1]) / 2
    mean: FloatArray = np.mean(scores, axis=0)
    return mean


class SensorPipeline:
    """Levels and events of one channel; feed blocks, collect wire records, flush at the end."""

    def __init__(
        self,
        meter_settings: MeterSettings,
        classifier: SoundClassifier,
        detector_settings: DetectorSettings,
        stream_start: datetime,
        source: str | None = None,
        channel: int | None = None,
        id_factory: Callable[[], str] | None = None,
        on_frame: Callable[[Frame], None] | None = None,
    ) -> None:
        """``on_frame`` sees every frame (levels and scores) the detector gets, e.g. to tune
        thresholds offline without running the classifier again."""
        if detector_settings.labels != classifier.labels:
            raise ValueError("the detector's labels must be the classifier's, in order")
        fs = meter_settings.sample_rate_hz
        frame_samples = max(1, round(detector_settings.frame_s * fs))
        # Frames are whole samples: at 11025 Hz a "0.1 s" frame lasts 1102 samples, and event
        # times must use that real length or they drift (1.8 s an hour). The model's non-event
        # labels (``ambient``) are never events, whoever built the settings.
        non_event = tuple(
            dict.fromkeys(
                [*detector_settings.non_event_labels, *classifier.manifest.non_event_labels]
            )
        )
        detector_settings = replace(
            detector_settings, frame_s=frame_samples / fs, non_event_labels=non_event
        )
        self._frame_samples = frame_samples
        self._meter = SoundLevelMeter(
            MeterSettings(
                sample_rate_hz=fs,
                interval_s=meter_settings.interval_s,
                calibration_offset_db=meter_settings.calibration_offset_db,
                calibrated=meter_settings.calibrated,
                clip_level=meter_settings.clip_level,
                frame_s=frame_samples / fs,
            )
        )
        self._classifier = classifier
        manifest = classifier.manifest
        self._feature_hz = manifest.sample_rate_hz
        self._resampler = StreamingResampler(fs, manifest.sample_rate_hz)
        self._window_s = manifest.window_samples / manifest.sample_rate_hz
        self._hop_s = manifest.window_hop_samples / manifest.sample_rate_hz
        self._frame_s = detector_settings.frame_s
        self._gate = LevelGate(detector_settings)
        self._detector = EventDetector(
            detector_settings, id_factory=id_factory or (lambda: str(uuid.uuid4()))
        )
        self._attribution = EnergyAttribution()
        self.stream_start = stream_start
        self.source = source
        self.channel = channel
        self.gate_stats = GateStats()
        self._on_frame = on_frame

        self._audio: FloatArray = np.empty(0)  # classifier-rate samples not yet dropped
        self._audio_offset = 0  # index of self._audio[0] in the classifier-rate stream
        self._next_window = 0
        # (log-mel columns, index of their first frame) of the last classified window
        self._log_mel_cache: tuple[FloatArray, int] = (np.empty((0, 0)), 0)
        self._frames: deque[tuple[FrameLevel, bool]] = deque()  # (levels, gate open)
        self._frames_seen = 0  # frames received from the meter
        self._window_scores: dict[int, FloatArray | None] = {}
        self._next_frame_to_push = 0
        self._pending_levels: deque[LevelRecord] = deque()

    def _window_frames(self, k: int) -> range:
        """Frames whose centre lies inside window ``k``."""
        start = k * self._hop_s
        first = math.ceil(start / self._frame_s - 0.5)
        last = math.ceil((start + self._window_s) / self._frame_s - 0.5)
        return range(max(0, first), max(0, last))

    def _windows_over(self, frame: int) -> range:
        """Windows whose span covers the centre of ``frame``."""
        centre = (frame + 0.5) * self._frame_s
        first = max(0, math.floor((centre - self._window_s) / self._hop_s) + 1)
        last = math.floor(centre / self._hop_s)
        return range(first, last + 1)

    def _gate_of(self, frame_index: int) -> bool | None:
        position = frame_index - (self._frames_seen - len(self._frames))
        if 0 <= position < len(self._frames):
            return self._frames[position][1]
        return None

    def _classify_ready_windows(self) -> None:
        params = self._classifier.manifest
        available = self._audio_offset + self._audio.size
        while True:
            k = self._next_window
            start = k * params.window_hop_samples
            stop = start + params.window_samples
            frames = self._window_frames(k)
            if stop > available or frames.stop > self._frames_seen:
                return
            gates = [self._gate_of(i) for i in frames]
            self.gate_stats.windows_total += 1
            if any(gates):
                segment = self._audio[start - self._audio_offset : stop - self._audio_offset]
                self._window_scores[k] = self._classifier.segment_probabilities(
                    segment, self._log_mel_of(start, segment)
                )
                self.gate_stats.windows_classified += 1
            else:
                self._window_scores[k] = None
            self._next_window += 1
            drop = (self._next_window * params.window_hop_samples) - self._audio_offset
            if drop > 0:
                self._audio = self._audio[drop:]
                self._audio_offset += drop

    def _log_mel_of(self, start: int, segment: FloatArray) -> FloatArray | None:
        """The log-mel columns of the window starting at classifier-rate sample ``start``,
        reusing the frames it shares with the last classified window (windows start on frame
        boundaries: every frame is computed once, not twice). None for a waveform model."""
        frontend = self._classifier.frontend
        if frontend is None:
            return None
        hop = frontend.params.hop_length
        first = start // hop
        cached, cached_first = self._log_mel_cache
        reuse_from = first - cached_first
        if 0 < reuse_from < cached.shape[0]:
            reused = cached[reuse_from:]
            fresh = frontend.log_mel(segment[reused.shape[0] * hop :])
            columns = np.concatenate((reused, fresh))
        else:
            columns = frontend.log_mel(segment)
        self._log_mel_cache = (columns, first)
        return columns

    def _push_ready_frames(self, final: bool) -> list[DetectedEvent]:
        events: list[DetectedEvent] = []
        while self._frames:
            level, _ = self._frames[0]
            windows = self._windows_over(level.index)
            if not final and windows.stop > self._next_window:
                break
            scores = [s for k in windows if (s := self._window_scores.get(k)) is not None]
            mean = _mean_scores(scores)
            frame = Frame(level.index, level.laeq_db, level.lafmax_db, mean)
            if self._on_frame is not None:
                self._on_frame(frame)
            events.extend(self._detector.push(frame))
            self._frames.popleft()
            for k in [k for k in self._window_scores if k < windows.start]:
                del self._window_scores[k]
        return events

    def _wire(self, events: list[DetectedEvent], last: bool = False) -> list[dict[str, Any]]:
        out = [event_to_wire(e, self.stream_start, self.source, self.channel) for e in events]
        self._attribution.add(self._detector.pop_decided_frames())
        settled = self._attribution.settled_until or 0
        while self._pending_levels:
            record = self._pending_levels[0]
            # The interval's frames: those starting in it (exact when intervals hold whole
            # frames, within half a frame at its edges otherwise).
            first = round(record.start_sample / self._frame_samples)
            end = round(record.end_sample / self._frame_samples)
            if end > settled and not last:
                break
            wire = level_record_to_wire(record, self.stream_start, self.source, self.channel)
            if first < end <= settled:
                shares = self._attribution.shares(first, end)
                wire["energy_shares"] = {k: round(v, DECIMALS) for k, v in shares.items()}
                self._attribution.discard_before(end)
            out.append(wire)
            self._pending_levels.popleft()
        return out

    def pop_started(self) -> list[dict[str, Any]]:
        """Wire records of events that started (``EventDetector.pop_started``) since the last
        call: for "event started" reports; the same events are returned again when they end."""
        return [
            event_to_wire(e, self.stream_start, self.source, self.channel)
            for e in self._detector.pop_started()
        ]

    def process(self, block: npt.ArrayLike) -> list[dict[str, Any]]:
        x = np.asarray(block, dtype=np.float64)
        self._pending_levels.extend(self._meter.process(x))
        self._take_frames()
        resampled = self._resampler.process(np.where(np.isfinite(x), x, 0.0))
        self._audio = np.concatenate([self._audio, resampled])
        self._classify_ready_windows()
        return self._wire(self._push_ready_frames(final=False))

    def _take_frames(self) -> None:
        for level in self._meter.pop_frames():
            self._frames.append((level, self._gate.update(level.laeq_db)))
            self._frames_seen += 1

    def flush(self) -> list[dict[str, Any]]:
        last = self._meter.flush()
        if last is not None:
            self._pending_levels.append(last)
        self._take_frames()
        self._audio = np.concatenate([self._audio, self._resampler.flush()])
        self._classify_ready_windows()
        events = self._push_ready_frames(final=True)
        events.extend(self._detector.flush())
        return self._wire(events, last=True)
