"""Parameter ranges of the synthetic urban sound generator, and the TRAIN / HELDOUT presets.

A generator is far less varied than real recordings, so a classifier can learn the generator
instead of the sounds. To measure that, the held-out preset draws every randomised quantity that
we control from *other* ranges than the training preset: held-out accuracy is the score on
settings the model never saw, training-preset accuracy the score on settings it did.

What differs between ``TRAIN_SETTINGS`` and ``HELDOUT_SETTINGS`` (``DISJOINT_SOURCE_FIELDS`` and
``DISJOINT_SCENE_FIELDS`` name the fields, and the tests check that they do not overlap):

- every class's ``pitch_hz``, ``rate_hz`` and ``modulation``: held-out takes the flanks on both
  sides of the training interval (below and above it), so the held-out set tests extrapolation in
  both directions rather than a one-sided shift (see the table in ``_CLASS_TABLE``);
- rooms: training uses open air (a ground reflection only) and diffuse rooms with RT60
  0.2-0.8 s; held-out uses street canyons (flutter echoes between facades) and diffuse rooms,
  with RT60 0.08-0.2 s or 0.8-1.4 s;
- distance: training 3-15 m, held-out 1-3 m or 15-40 m;
- background beds: training traffic, wind and a quiet park; held-out rain and crowd murmur;
- SNR: training 3-20 dB, held-out -2-3 dB or 20-28 dB;
- microphone colouration: spectral tilt (training within +-1 dB/octave, held-out 1-2 dB/octave
  either way) and low cut corner (training 30-90 Hz, held-out 10-30 Hz or 90-150 Hz).

The same in both: the source duration (``event_s``) and event counts (``count``), bounded by
the clip length and by what the class is, and the clip level (``level_dbfs``), which the
per-window standardisation of the log-mel frontend removes anyway. Per-clip random streams also
differ, because the preset name salts every seed (see ``clips.clip_rng``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Literal, get_args

import numpy as np

CLASSES: tuple[str, ...] = (
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
)
"""The UrbanSound8K classes; the index is the official classID."""

RoomKind = Literal["open", "diffuse", "canyon"]
BackgroundKind = Literal["traffic", "wind", "park", "rain", "crowd"]
ROOM_KINDS: tuple[RoomKind, ...] = get_args(RoomKind)
BACKGROUND_KINDS: tuple[BackgroundKind, ...] = get_args(BackgroundKind)


class SettingsError(ValueError):
    """Generator settings are inconsistent; the message says which."""


@dataclass(frozen=True)
class Span:
    """Values drawn uniformly from the union of one or more disjoint closed intervals.

    One type for "inside" (training) and "outside" (held-out flanks) ranges.
    """

    intervals: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not self.intervals:
            raise SettingsError("a span needs at least one interval")
        previous_high = -np.inf
        for low, high in self.intervals:
            if not (np.isfinite(low) and np.isfinite(high)) or low > high:
                raise SettingsError(f"bad interval ({low}, {high})")
            if low < previous_high:
                raise SettingsError("span intervals must be sorted and must not overlap")
            previous_high = high

    @classmethod
    def of(cls, low: float, high: float) -> Span:
        """One interval [low, high]."""
        return cls(((float(low), float(high)),))

    @classmethod
    def flanks(
        cls, outer_low: float, inner_low: float, inner_high: float, outer_high: float
    ) -> Span:
        """[outer_low, inner_low] and [inner_high, outer_high]: the values around an interval."""
        return cls(((float(outer_low), float(inner_low)), (float(inner_high), float(outer_high))))

    @property
    def low(self) -> float:
        return self.intervals[0][0]

    @property
    def high(self) -> float:
        return self.intervals[-1][1]

    def sample(self, rng: np.random.Generator) -> float:
        """A uniform draw over the union (each interval chosen in proportion to its width)."""
        widths = np.array([high - low for low, high in self.intervals])
        total = float(widths.sum())
        if total <= 0.0:
            index = int(rng.integers(len(self.intervals)))
        else:
            index = int(rng.choice(len(self.intervals), p=widths / total))
        low, high = self.intervals[index]
        return float(rng.uniform(low, high))

    def contains(self, value: float) -> bool:
        return any(low <= value <= high for low, high in self.intervals)

    def overlaps(self, other: Span) -> bool:
        """True when the spans share more than a boundary point."""
        return any(
            min(high_a, high_b) > max(low_a, low_b)
            for low_a, high_a in self.intervals
            for low_b, high_b in other.intervals
        )


@dataclass(frozen=True)
class SourceRanges:
    """Randomisation ranges of one class's source; each class documents what the fields mean.

    ``pitch_hz`` is the class's characteristic frequency, ``rate_hz`` its characteristic
    repetition or modulation rate and ``modulation`` a 0-1 depth of its main irregularity;
    ``_CLASS_TABLE`` below says, per class, what each one controls.
    """

    pitch_hz: Span
    rate_hz: Span
    modulation: Span
    event_s: Span
    """Length of the source sound the clip builder asks for (capped at the clip length)."""
    count: tuple[int, int]
    """Inclusive range of a class-specific count: honks, children, barks, bursts, shots..."""

    def __post_init__(self) -> None:
        low, high = self.count
        if not 1 <= low <= high:
            raise SettingsError(f"count range {self.count} must satisfy 1 <= low <= high")
        if self.pitch_hz.low <= 0 or self.rate_hz.low <= 0 or self.event_s.low <= 0:
            raise SettingsError("pitch, rate and event length must be positive")
        if self.modulation.low < 0 or self.modulation.high > 1:
            raise SettingsError("modulation depth must lie within 0-1")

    def draw_count(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.count[0], self.count[1] + 1))


@dataclass(frozen=True)
class GeneratorSettings:
    """Everything a preset randomises: per-class sources, rooms, distance, beds, SNR, microphone."""

    name: str
    """Preset name; it also salts the random streams, so presets never share noise waveforms."""
    sources: Mapping[str, SourceRanges]
    rooms: tuple[RoomKind, ...]
    rt60_s: Span
    """Reverberation time of diffuse rooms and street canyons (open air has none)."""
    distance_m: Span
    """Source distance: sets air absorption and the direct-to-reverberant ratio, not the level."""
    backgrounds: tuple[BackgroundKind, ...]
    snr_db: Span
    """Source power over its audible extent against the bed power over the same samples."""
    mic_tilt_db_per_octave: Span
    mic_lowcut_hz: Span
    level_dbfs: Span
    """RMS level of a whole clip (lowered further if the peak would otherwise exceed 0.98)."""

    def __post_init__(self) -> None:
        missing = [label for label in CLASSES if label not in self.sources]
        if missing:
            raise SettingsError(f"settings {self.name!r} lack source ranges for {missing}")
        if not self.rooms or not set(self.rooms) <= set(ROOM_KINDS):
            raise SettingsError(f"rooms must be a non-empty subset of {ROOM_KINDS}")
        if not self.backgrounds or not set(self.backgrounds) <= set(BACKGROUND_KINDS):
            raise SettingsError(f"backgrounds must be a non-empty subset of {BACKGROUND_KINDS}")
        if self.rt60_s.low <= 0 or self.distance_m.low <= 0 or self.mic_lowcut_hz.low <= 0:
            raise SettingsError("RT60, distance and low-cut frequency must be positive")
        if self.level_dbfs.high > -3:
            raise SettingsError("clip level must stay below -3 dBFS RMS")
        # A plain dict copy (not a proxy): settings must pickle for worker processes.
        object.__setattr__(self, "sources", dict(self.sources))

    def source(self, label: str) -> SourceRanges:
        try:
            return self.sources[label]
        except KeyError:
            raise SettingsError(f"unknown class {label!r}; classes: {', '.join(CLASSES)}") from None


DISJOINT_SOURCE_FIELDS = ("pitch_hz", "rate_hz", "modulation")
DISJOINT_SCENE_FIELDS = (
    "rt60_s",
    "distance_m",
    "snr_db",
    "mic_tilt_db_per_octave",
    "mic_lowcut_hz",
)

# Per class: (pitch_hz, rate_hz, modulation) as (training low, training high, held-out outer low,
# held-out outer high), then event_s and count shared by both presets. Meaning of each field:
# air_conditioner  blade-pass Hz       | slow level fluctuation Hz | fluctuation depth
# car_horn         lowest fundamental  | honks per second          | roughness (buzz) depth
# children_playing child voice f0      | syllables per second      | intonation excursion
# dog_bark         bark peak f0        | barks per second          | noisiness (harshness)
# drilling         motor whine Hz      | chuck / hammer AM Hz      | AM depth and load dips
# engine_idling    firing Hz           | idle hunting Hz           | cycle jitter
# gun_shot         muzzle boom Hz      | shots per second          | echo level
# jackhammer       metallic ring Hz    | impacts per second        | impact irregularity
# siren            sweep lowest Hz     | wail sweeps per second    | vibrato and Doppler amount
# street_music     key root Hz         | beats per second          | humanisation (timing, velocity)
_Quad = tuple[float, float, float, float]
_CLASS_TABLE: dict[str, tuple[_Quad, _Quad, _Quad, tuple[float, float], tuple[int, int]]] = {
    "air_conditioner": (
        (90, 180, 60, 240),
        (0.2, 0.8, 0.05, 1.5),
        (0.05, 0.3, 0.0, 0.45),
        (3.0, 6.0),
        (1, 2),
    ),
    "car_horn": (
        (340, 500, 290, 600),
        (2.0, 3.5, 1.2, 5.0),
        (0.1, 0.5, 0.0, 0.7),
        (0.3, 2.0),
        (1, 3),
    ),
    "children_playing": (
        (260, 360, 210, 440),
        (3.5, 5.5, 2.5, 7.0),
        (0.2, 0.5, 0.1, 0.7),
        (2.0, 4.0),
        (2, 6),
    ),
    "dog_bark": (
        (450, 750, 320, 950),
        (1.8, 3.2, 1.0, 4.5),
        (0.2, 0.5, 0.05, 0.7),
        (0.3, 4.0),
        (1, 6),
    ),
    "drilling": (
        (1300, 2600, 1000, 3500),
        (25, 40, 15, 55),
        (0.1, 0.4, 0.0, 0.6),
        (1.0, 4.0),
        (1, 3),
    ),
    "engine_idling": (
        (25, 42, 18, 55),
        (0.3, 1.0, 0.1, 1.8),
        (0.2, 0.5, 0.05, 0.7),
        (3.0, 6.0),
        (1, 2),
    ),
    "gun_shot": (
        (80, 150, 55, 210),
        (2.0, 5.0, 1.0, 9.0),
        (0.2, 0.5, 0.05, 0.7),
        (0.5, 2.5),
        (1, 3),
    ),
    "jackhammer": (
        (1500, 2800, 1000, 3800),
        (13, 20, 10, 25),
        (0.1, 0.4, 0.0, 0.6),
        (1.0, 4.0),
        (1, 3),
    ),
    "siren": (
        (620, 880, 500, 1000),
        (0.2, 0.35, 0.12, 0.5),
        (0.1, 0.4, 0.0, 0.6),
        (2.0, 4.0),
        (1, 2),
    ),
    "street_music": (
        (110, 185, 82, 247),
        (1.6, 2.2, 1.2, 2.7),
        (0.1, 0.4, 0.0, 0.6),
        (2.0, 4.0),
        (1, 3),
    ),
}


def _preset_sources(heldout: bool) -> dict[str, SourceRanges]:
    ranges = {}
    for label, (pitch, rate, modulation, event_s, count) in _CLASS_TABLE.items():

        def span(quad: _Quad) -> Span:
            inner_low, inner_high, outer_low, outer_high = quad
            if heldout:
                return Span.flanks(outer_low, inner_low, inner_high, outer_high)
            return Span.of(inner_low, inner_high)

        ranges[label] = SourceRanges(
            pitch_hz=span(pitch),
            rate_hz=span(rate),
            modulation=span(modulation),
            event_s=Span.of(*event_s),
            count=count,
        )
    return ranges


TRAIN_SETTINGS = GeneratorSettings(
    name="train",
    sources=_preset_sources(heldout=False),
    rooms=("open", "diffuse"),
    rt60_s=Span.of(0.2, 0.8),
    distance_m=Span.of(3.0, 15.0),
    backgrounds=("traffic", "wind", "park"),
    snr_db=Span.of(3.0, 20.0),
    mic_tilt_db_per_octave=Span.of(-1.0, 1.0),
    mic_lowcut_hz=Span.of(30.0, 90.0),
    level_dbfs=Span.of(-35.0, -15.0),
)

HELDOUT_SETTINGS = GeneratorSettings(
    name="heldout",
    sources=_preset_sources(heldout=True),
    rooms=("canyon", "diffuse"),
    rt60_s=Span.flanks(0.08, 0.2, 0.8, 1.4),
    distance_m=Span.flanks(1.0, 3.0, 15.0, 40.0),
    backgrounds=("rain", "crowd"),
    snr_db=Span.flanks(-2.0, 3.0, 20.0, 28.0),
    mic_tilt_db_per_octave=Span.flanks(-2.0, -1.0, 1.0, 2.0),
    mic_lowcut_hz=Span.flanks(10.0, 30.0, 90.0, 150.0),
    level_dbfs=Span.of(-35.0, -15.0),
)

PRESETS: Mapping[str, GeneratorSettings] = MappingProxyType(
    {"train": TRAIN_SETTINGS, "heldout": HELDOUT_SETTINGS}
)


def preset(name: str) -> GeneratorSettings:
    """A named preset (``train`` or ``heldout``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise SettingsError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None


def span_fields(ranges: SourceRanges | GeneratorSettings) -> dict[str, Span]:
    """The ``Span`` fields of a settings object by name (used by reports and tests)."""
    return {f.name: v for f in fields(ranges) if isinstance(v := getattr(ranges, f.name), Span)}
