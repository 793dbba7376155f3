"""Receiving a model over MQTT: the ``model`` chunks of one transfer assembled into an archive.

``ModelTransfer.offer`` takes one chunk at a time (the agent's ``now_s`` from a monotonic clock):

1. drops the unfinished transfer if no chunk came for ``stall_timeout_s``;
2. ignores chunks of a transfer that already ended (installed, refused, replaced or stalled):
   a transfer id is used once, so a redelivered chunk never starts it again and the server
   retries with a new id;
3. drops the unfinished transfer when a chunk of a new transfer id arrives;
4. refuses an archive above ``max_archive_bytes`` at its first chunk, so memory stays bounded
   (chunks are held in memory: at most that many bytes plus one chunk);
5. checks the chunk agrees with the transfer's first (count, archive SHA-256, size), ignores a
   duplicate index, and refuses chunks that carry more bytes than announced;
6. once every index arrived, returns the archive in index order; ``ModelStore.install``
   verifies its SHA-256 and does the rest.
Pure state: no I/O, no clock. Refusals raise a one-line ``ModelUpdateError`` and end the transfer.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from noisefleet_core.contract.commands import ModelChunk
from noisefleet_edge.errors import NoisefleetEdgeError

ENDED_IDS_KEPT = 64


class ModelUpdateError(NoisefleetEdgeError):
    """A model update was refused or failed; the message says why (one line)."""


def one_line(text: object) -> str:
    """An exception's text on one line (foreign errors may span several)."""
    return " ".join(str(text).split()) or type(text).__name__


@dataclass(frozen=True)
class TransferLimits:
    """Bounds on one model update (agent config)."""

    max_archive_bytes: int = 20 * 1024 * 1024
    """Largest archive accepted; a bigger one is refused at its first chunk."""
    max_extracted_bytes: int = 64 * 1024 * 1024
    """Largest total size of the files in an archive (a tar.gz may expand a lot)."""
    stall_timeout_s: float = 300.0
    """An unfinished transfer with no chunk for this long is dropped."""

    def __post_init__(self) -> None:
        for name in ("max_archive_bytes", "max_extracted_bytes", "stall_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


ChunkStatus = Literal["receiving", "complete", "duplicate", "ended"]


@dataclass(frozen=True)
class ChunkProgress:
    """What one chunk did to the transfer."""

    status: ChunkStatus
    """receiving: more chunks to come; complete: ``archive`` holds every byte; duplicate: this
    chunk was already here; ended: the transfer already ended, the chunk was ignored."""
    transfer_id: str
    received: int
    count: int
    archive_sha256: str
    archive: bytes | None = None
    dropped: tuple[str, ...] = ()
    """Unfinished transfers this chunk made the agent drop (stalled or replaced)."""


@dataclass
class _Assembly:
    first: ModelChunk
    parts: dict[int, bytes]
    received_bytes: int
    last_chunk_s: float


class ModelTransfer:
    """The receiving side of model transfers: one at a time, bounded, time passed in."""

    def __init__(self, limits: TransferLimits | None = None) -> None:
        self.limits = limits or TransferLimits()
        self._active: _Assembly | None = None
        self._ended: deque[str] = deque(maxlen=ENDED_IDS_KEPT)

    @property
    def active_id(self) -> str | None:
        return None if self._active is None else self._active.first.transfer_id

    def _end(self) -> str | None:
        if self._active is None:
            return None
        ended = self._active.first.transfer_id
        self._ended.append(ended)
        self._active = None
        return ended

    def expire(self, now_s: float) -> str | None:
        """Drop the unfinished transfer if it stalled; its id, or None."""
        active = self._active
        if active is not None and now_s - active.last_chunk_s > self.limits.stall_timeout_s:
            return self._end()
        return None

    def offer(self, chunk: ModelChunk, now_s: float) -> ChunkProgress:
        """Take one chunk (``now_s``: a monotonic clock). ``ModelUpdateError`` ends the
        transfer when the chunk is refused."""
        dropped = [ended for ended in (self.expire(now_s),) if ended is not None]
        if chunk.transfer_id in self._ended:
            return ChunkProgress(
                "ended", chunk.transfer_id, 0, chunk.count, chunk.archive_sha256, None, ()
            )
        if self._active is not None and self.active_id != chunk.transfer_id:
            dropped.append(str(self._end()))
        if self._active is None:
            if chunk.archive_bytes > self.limits.max_archive_bytes:
                self._ended.append(chunk.transfer_id)
                raise ModelUpdateError(
                    f"the model archive holds {chunk.archive_bytes} bytes; this agent accepts "
                    f"at most {self.limits.max_archive_bytes}"
                )
            self._active = _Assembly(chunk, {}, 0, now_s)
        active = self._active
        first = active.first
        for name in ("count", "archive_sha256", "archive_bytes"):
            if getattr(chunk, name) != getattr(first, name):
                self._end()
                raise ModelUpdateError(
                    f"chunk {chunk.index} of transfer {chunk.transfer_id} disagrees with chunk "
                    f"{first.index} on {name}; the transfer is dropped"
                )
        status: ChunkStatus = "duplicate"
        if chunk.index not in active.parts:
            if active.received_bytes + len(chunk.data) > first.archive_bytes:
                self._end()
                raise ModelUpdateError(
                    f"the chunks of transfer {chunk.transfer_id} carry more than the announced "
                    f"{first.archive_bytes} bytes; the transfer is dropped"
                )
            active.parts[chunk.index] = chunk.data
            active.received_bytes += len(chunk.data)
            active.last_chunk_s = now_s
            status = "receiving"
        archive = None
        if len(active.parts) == first.count:
            self._end()
            if active.received_bytes != first.archive_bytes:
                raise ModelUpdateError(
                    f"the chunks of transfer {chunk.transfer_id} carry {active.received_bytes} "
                    f"bytes, not the announced {first.archive_bytes}"
                )
            archive = b"".join(active.parts[index] for index in range(first.count))
            status = "complete"
        return ChunkProgress(
            status,
            chunk.transfer_id,
            len(active.parts),
            first.count,
            first.archive_sha256,
            archive,
            tuple(dropped),
        )
