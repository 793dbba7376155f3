"""AudioSet labels (YAMNet's 521 classes) mapped onto the UrbanSound8K classes, for zero-shot use.

A class's score is the highest score among its AudioSet labels (``mapped_scores``). The lists
come from ``shared/reference/real-audio.md`` (checked on recorded clips there): "Hammer" is left
out of jackhammer (false positives); "Explosion" is not gun_shot; "Music" is broad, so any
music reads as street_music. ``car_horn`` keeps "Car alarm" as the reference does.

``zero_shot_probabilities`` makes a score vector the edge's detector and clip decision can use:
the ten class scores and ``ambient`` = 1 - the best of them, divided by their sum.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

URBAN_TO_AUDIOSET: Mapping[str, tuple[str, ...]] = {
    "air_conditioner": ("Air conditioning", "Mechanical fan", "Hum"),
    "car_horn": ("Vehicle horn, car horn, honking", "Air horn, truck horn", "Toot", "Car alarm"),
    "children_playing": (
        "Children playing",
        "Child speech, kid speaking",
        "Children shouting",
        "Babbling",
    ),
    "dog_bark": ("Bark", "Dog", "Bow-wow", "Yip", "Growling"),
    "drilling": ("Drill", "Power tool", "Dental drill, dentist's drill"),
    "engine_idling": (
        "Idling",
        "Engine",
        "Light engine (high frequency)",
        "Medium engine (mid frequency)",
        "Heavy engine (low frequency)",
        "Engine starting",
        "Motor vehicle (road)",
        "Car",
        "Truck",
        "Bus",
    ),
    "gun_shot": ("Gunshot, gunfire", "Machine gun", "Cap gun", "Fusillade", "Artillery fire"),
    "jackhammer": ("Jackhammer",),
    "siren": (
        "Siren",
        "Civil defense siren",
        "Police car (siren)",
        "Ambulance (siren)",
        "Fire engine, fire truck (siren)",
        "Emergency vehicle",
    ),
    "street_music": (
        "Music",
        "Musical instrument",
        "Drum",
        "Guitar",
        "Drum kit",
        "Percussion",
        "Brass instrument",
        "Accordion",
        "Singing",
    ),
}
URBAN_LABELS = tuple(URBAN_TO_AUDIOSET)
AMBIENT_LABEL = "ambient"


class MappingError(ValueError):
    """The class map does not hold the labels the mapping names."""


def read_class_map(text: str) -> tuple[str, ...]:
    """Display names in score order from YAMNet's ``yamnet_class_map.csv``."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "display_name" not in rows[0] or "index" not in rows[0]:
        raise MappingError("the class map needs index and display_name columns")
    names = [""] * len(rows)
    for row in rows:
        names[int(row["index"])] = row["display_name"]
    return tuple(names)


def mapping_indices(
    class_names: Sequence[str], mapping: Mapping[str, tuple[str, ...]] = URBAN_TO_AUDIOSET
) -> dict[str, tuple[int, ...]]:
    """Score indices of each class's AudioSet labels; every named label must exist."""
    position = {name: i for i, name in enumerate(class_names)}
    missing = sorted({n for names in mapping.values() for n in names} - set(position))
    if missing:
        raise MappingError(f"the class map lacks {', '.join(missing)}")
    return {label: tuple(position[n] for n in names) for label, names in mapping.items()}


def mapped_scores(
    scores: npt.ArrayLike, indices: Mapping[str, tuple[int, ...]]
) -> npt.NDArray[np.float64]:
    """(windows, classes) class scores: the max over each class's AudioSet scores."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    return np.stack([s[:, list(idx)].max(axis=1) for idx in indices.values()], axis=1)


def zero_shot_probabilities(class_scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(windows, classes + 1): the class scores and ``ambient`` (1 - best), summing to 1."""
    s = np.atleast_2d(np.asarray(class_scores, dtype=np.float64))
    ambient = 1.0 - s.max(axis=1, keepdims=True)
    full = np.concatenate([s, np.clip(ambient, 0.0, 1.0)], axis=1)
    return np.asarray(full / np.maximum(full.sum(axis=1, keepdims=True), 1e-12))
