"""The zero-shot mapping of AudioSet scores onto the UrbanSound8K labels."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_training.yamnet.mapping import (
    URBAN_LABELS,
    MappingError,
    mapped_scores,
    mapping_indices,
    read_class_map,
    zero_shot_probabilities,
)

CLASS_MAP = 'index,mid,display_name\n0,/m/a,Siren\n1,/m/b,"Police car (siren)"\n2,/m/c,Bark\n'


def test_class_map_and_indices() -> None:
    names = read_class_map(CLASS_MAP)
    assert names == ("Siren", "Police car (siren)", "Bark")
    indices = mapping_indices(names, {"siren": ("Siren", "Police car (siren)"), "dog": ("Bark",)})
    assert indices == {"siren": (0, 1), "dog": (2,)}
    with pytest.raises(MappingError, match="lacks Jackhammer"):
        mapping_indices(names, {"jackhammer": ("Jackhammer",)})


def test_scores_are_the_max_and_ambient_fills_the_rest() -> None:
    indices = {"siren": (0, 1), "dog": (2,)}
    classes = mapped_scores([[0.2, 0.8, 0.1], [0.0, 0.0, 0.0]], indices)
    assert np.allclose(classes, [[0.8, 0.1], [0.0, 0.0]])
    probs = zero_shot_probabilities(classes)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert np.allclose(probs[1], [0.0, 0.0, 1.0])  # nothing scored: all ambient
    assert len(URBAN_LABELS) == 10
