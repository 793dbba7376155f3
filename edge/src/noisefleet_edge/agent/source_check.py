"""``run --check``: open every sensor's source as far as it can be opened without measuring.

Per source type:
- file: the recording is opened and read as audio (missing, empty, a directory, not audio, a
  channel it does not have: refused), and its sample rate is reported;
- microphone: PortAudio is asked whether the device exists and takes the sample rate and the
  channel;
- udp / tcp: the listen address is bound and released at once (a port in use, an address the
  gateway does not have: refused);
- serial: the device must exist.
Each problem is one line naming the sensor; ``check_source`` raises ``SourceError`` with it.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from noisefleet_edge.agent.config import (
    BridgeSourceConfig,
    FileSourceConfig,
    MicrophoneSourceConfig,
    SensorConfig,
)
from noisefleet_edge.sources.base import SourceError


def _check_file(source: FileSourceConfig) -> str:
    from noisefleet_edge.audio_files import (  # noqa: PLC0415
        AudioInputError,
        check_channel,
        open_recording,
        read_blocks,
    )

    try:
        recording = open_recording(source.path)
        check_channel(recording, source.channel)
        next(iter(read_blocks(recording, source.channel)), None)  # the audio itself decodes
    except AudioInputError as error:
        raise SourceError(str(error)) from None
    return f"{recording.sample_rate_hz} Hz, {recording.duration_s:.1f} s"


def _check_microphone(source: MicrophoneSourceConfig) -> str:
    from noisefleet_edge.live import LiveInputError, _sounddevice  # noqa: PLC0415

    try:
        sd = _sounddevice()
        sd.check_input_settings(
            device=source.device, channels=source.channel + 1, samplerate=source.sample_rate_hz
        )
    except LiveInputError as error:
        raise SourceError(str(error)) from None
    except Exception as error:  # PortAudio's errors have no common class but Exception
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SourceError(
            f"microphone {source.device if source.device is not None else '(default)'}: "
            f"{reason}; list the inputs with noisefleet-edge levels --list-devices"
        ) from None
    return f"{source.sample_rate_hz} Hz"


def _check_bridge(source: BridgeSourceConfig) -> str:
    if source.transport == "serial":
        if not Path(source.address).exists():
            raise SourceError(f"serial device {source.address} does not exist")
        return f"serial {source.address}"
    host, _, port_text = source.address.rpartition(":")
    kind = socket.SOCK_DGRAM if source.transport == "udp" else socket.SOCK_STREAM
    try:
        port = int(port_text)
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind) as sock:
            sock.bind((host.strip("[]") or "0.0.0.0", port))
    except ValueError:
        raise SourceError(f"{source.address}: not host:port") from None
    except OSError as error:
        hint = " (is an agent already running?)" if error.errno == errno.EADDRINUSE else ""
        raise SourceError(
            f"cannot listen on {source.transport} {source.address} ({error.strerror}){hint}"
        ) from None
    return f"{source.transport} {source.address} free"


def check_source(sensor: SensorConfig) -> str:
    """Open the sensor's source as far as possible; what was found (one line) or
    ``SourceError`` naming the sensor."""
    source = sensor.source
    try:
        if isinstance(source, FileSourceConfig):
            return _check_file(source)
        if isinstance(source, MicrophoneSourceConfig):
            return _check_microphone(source)
        return _check_bridge(source)
    except SourceError as error:
        raise SourceError(f"sensors.{sensor.id}.source: {error}") from None
