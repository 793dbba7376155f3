"""Streaming sound event detection: level gate, smoothing, hysteresis, segments, attribution.

Frames of level and class scores (``detector.Frame``) go into ``detector.EventDetector``, which
reports ``DetectedEvent``s (with ids, levels, confidences and runner-up classes) and settles each
frame's labels for ``attribution.EnergyAttribution``. ``gate.LevelGate`` decides, before any
inference, whether the classifier runs for a frame.
"""

from noisefleet_core.events.attribution import EnergyAttribution, attribute_energy
from noisefleet_core.events.detector import DecidedFrame, DetectedEvent, EventDetector, Frame
from noisefleet_core.events.gate import LevelGate, gate_open
from noisefleet_core.events.settings import (
    BACKGROUND_LABEL,
    DetectorSettings,
    DetectorSettingsError,
)

__all__ = [
    "BACKGROUND_LABEL",
    "DecidedFrame",
    "DetectedEvent",
    "DetectorSettings",
    "DetectorSettingsError",
    "EnergyAttribution",
    "EventDetector",
    "Frame",
    "LevelGate",
    "attribute_energy",
    "gate_open",
]
