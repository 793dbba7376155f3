"""Audio from microcontrollers (ESP32 + I2S MEMS microphone) over UDP, TCP or a serial port.

``open_bridge_source`` is what the agent calls; ``framing`` documents the wire format (and
docs/mcu-bridge.md describes it for firmware writers); ``emulator`` is a reference sender.
"""

from noisefleet_edge.sources.bridge.framing import (
    CorruptFrameError,
    Frame,
    FrameError,
    SampleFormat,
    StreamDecoder,
    TruncatedFrameError,
    UnsupportedFrameError,
    decode_frame,
    encode_frame,
)
from noisefleet_edge.sources.bridge.source import (
    BridgeConfig,
    BridgeSource,
    BridgeStats,
    open_bridge_source,
)

__all__ = [
    "BridgeConfig",
    "BridgeSource",
    "BridgeStats",
    "CorruptFrameError",
    "Frame",
    "FrameError",
    "SampleFormat",
    "StreamDecoder",
    "TruncatedFrameError",
    "UnsupportedFrameError",
    "decode_frame",
    "encode_frame",
    "open_bridge_source",
]
