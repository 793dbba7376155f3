"""Synthetic urban sound generator: labelled clips and soundscapes for the ten UrbanSound8K classes.

No public sound data set can be downloaded here, so the default classifier trains on procedural
audio. Modules, from the inside out:
- ``settings``: parameter ranges; the TRAIN and HELDOUT presets draw from disjoint ranges, so
  held-out accuracy measures generalisation beyond the training generator;
- ``dsp``: vectorised building blocks; ``sources``, ``voices``, ``music``: one dry source per
  class; ``beds``: background beds; ``scene``: distance, rooms, microphone and SNR mixing;
- ``clips``: labelled clips; ``soundscape``: long recordings with onset/offset ground truth;
- ``events``: ground-truth events; ``files``: the only module that writes files; ``cli``.
Everything but ``files`` and ``cli`` is pure: arrays out, randomness from the ``rng`` passed in.
"""

from .clips import RenderedClip, clip_rng, generate_clip, render_ambient, render_clip
from .events import SoundEvent
from .files import generate_dataset, generate_soundscapes, write_soundscape
from .settings import (
    CLASSES,
    HELDOUT_SETTINGS,
    PRESETS,
    TRAIN_SETTINGS,
    GeneratorSettings,
    SourceRanges,
    Span,
    preset,
)
from .soundscape import Soundscape, generate_soundscape
from .sources import SOURCES, generate_source

__all__ = [
    "CLASSES",
    "HELDOUT_SETTINGS",
    "PRESETS",
    "SOURCES",
    "TRAIN_SETTINGS",
    "GeneratorSettings",
    "RenderedClip",
    "SoundEvent",
    "Soundscape",
    "SourceRanges",
    "Span",
    "clip_rng",
    "generate_clip",
    "generate_dataset",
    "generate_soundscape",
    "generate_soundscapes",
    "generate_source",
    "preset",
    "render_ambient",
    "render_clip",
    "write_soundscape",
]
