"""The interface every audio source implements for the edge agent.

A source yields mono float64 blocks at full scale 1.0 (a full-scale sine peaks at 1.0), at its
``sample_rate_hz``, oldest first, in ``blocks()`` (an async generator). Audio that was lost
(a missing bridge frame, a device gap) is delivered as NaN samples of the lost length, so the
level meter counts it as invalid and the interval's coverage shows the loss; ``stats`` counts it.
A source that can wait (a file: ``live`` False) is slowed down by a consumer that falls
behind; a live one (microphone, bridge) cannot wait, so the consumer drops its oldest audio.
A fatal problem raises ``SourceError`` with a one-line reason; a source that can recover
(a microphone unplugged and plugged back) does so itself and counts the gap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from noisefleet_edge.errors import NoisefleetEdgeError

FloatArray = npt.NDArray[np.float64]


class SourceError(NoisefleetEdgeError):
    """A source cannot deliver audio (one line, for the operator)."""


@dataclass
class SourceStats:
    """Counters a source keeps; the agent reports them in the heartbeat."""

    blocks: int = 0
    """Blocks delivered."""
    samples: int = 0
    """Samples delivered, lost ones (NaN) included."""
    dropped_frames: int = 0
    """Transport frames or device buffers lost (bridge gaps, input overflows, device gaps)."""
    lost_samples: int = 0
    """Samples delivered as NaN because they were lost."""
    rejected_frames: int = 0
    """Frames refused as malformed (bad header, wrong sensor, wrong format)."""
    reordered_frames: int = 0
    """Frames that arrived out of order and were put back in place."""
    reconnects: int = 0
    """Times the device or connection was re-opened after a failure."""
    last_error: str | None = None
    """The most recent problem, one line."""


class AudioSource(Protocol):
    """Blocks of one sensor's audio."""

    @property
    def sample_rate_hz(self) -> int: ...

    @property
    def stats(self) -> SourceStats: ...

    def blocks(self) -> AsyncIterator[FloatArray]:
        """Blocks until the source ends (a file) or forever (a device); ``SourceError`` on a
        fatal failure."""
        ...
