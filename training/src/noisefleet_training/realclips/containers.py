"""Audio inside game and education data files: Qt resource bundles (.rcc) and zip archives (.pk3).

Qt's rcc format (what ``rcc -binary`` writes, versions 1-3; all integers big-endian):
1. header: magic ``qres``, version, then the offsets of the tree, the data and the names
   (version 3 adds a flags word);
2. the tree is an array of nodes (14 bytes, 22 from version 2 with a modification time): name
   offset (u32), flags (u16: 1 zlib, 2 directory, 4 zstd), then for a directory its child count
   and first child index (u32, u32), for a file country and language (u16, u16) and its data
   offset (u32); node 0 is the root directory;
3. a name is u16 length, u32 hash, then UTF-16BE characters;
4. a file's data is u32 size then the bytes; zlib-compressed data starts with the u32
   uncompressed size (Qt's ``qCompress``). Zstandard entries are refused (none in our packages).

A .pk3 is a plain zip archive (``read_zip_member``).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

RCC_MAGIC = b"qres"
FLAG_ZLIB = 0x01
FLAG_DIRECTORY = 0x02
FLAG_ZSTD = 0x04


class ContainerError(ValueError):
    """A container or a member of it cannot be read; the message names both."""


def _u16(data: bytes, offset: int) -> int:
    return int(struct.unpack_from(">H", data, offset)[0])


def _u32(data: bytes, offset: int) -> int:
    return int(struct.unpack_from(">I", data, offset)[0])


class RccArchive:
    """The files of one Qt resource bundle, by their resource path (``/a/b/c.ogg``)."""

    def __init__(self, data: bytes, source: str = "rcc") -> None:
        self._data = data
        self._source = source
        if len(data) < 20 or data[:4] != RCC_MAGIC:
            raise ContainerError(f"{source}: not a Qt resource bundle (no 'qres' magic)")
        self.version = _u32(data, 4)
        if self.version not in (1, 2, 3):
            raise ContainerError(f"{source}: rcc format version {self.version} is not supported")
        self._tree, self._payload, self._names = _u32(data, 8), _u32(data, 12), _u32(data, 16)
        self._node_size = 14 if self.version == 1 else 22
        self._files: dict[str, tuple[int, int]] = {}
        try:
            self._walk(0, "", depth=0)
        except struct.error as error:
            raise ContainerError(f"{source}: truncated resource bundle ({error})") from error

    @classmethod
    def open(cls, path: Path) -> RccArchive:
        try:
            return cls(path.read_bytes(), str(path))
        except OSError as error:
            raise ContainerError(f"{path}: unreadable ({error})") from error

    def _name(self, offset: int) -> str:
        start = self._names + offset
        length = _u16(self._data, start)
        raw = self._data[start + 6 : start + 6 + 2 * length]
        return raw.decode("utf-16-be")

    def _walk(self, index: int, prefix: str, depth: int) -> None:
        if depth > 64:
            raise ContainerError(f"{self._source}: resource tree nested too deep")
        node = self._tree + index * self._node_size
        flags = _u16(self._data, node + 4)
        name = "" if index == 0 else self._name(_u32(self._data, node))
        path = f"{prefix}/{name}" if index else ""
        if flags & FLAG_DIRECTORY:
            count, first = _u32(self._data, node + 6), _u32(self._data, node + 10)
            for child in range(first, first + count):
                self._walk(child, path, depth + 1)
        else:
            self._files[path] = (flags, _u32(self._data, node + 10))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._files))

    def read(self, name: str) -> bytes:
        """The bytes of the file at resource path ``name``, decompressed."""
        if name not in self._files:
            raise ContainerError(f"{self._source}: no resource {name}")
        flags, offset = self._files[name]
        start = self._payload + offset
        size = _u32(self._data, start)
        blob = self._data[start + 4 : start + 4 + size]
        if len(blob) != size:
            raise ContainerError(f"{self._source}: {name} is truncated")
        if flags & FLAG_ZSTD:
            raise ContainerError(f"{self._source}: {name} is zstd-compressed (not supported)")
        if flags & FLAG_ZLIB:
            expected = _u32(blob, 0)
            try:
                out = zlib.decompress(blob[4:])
            except zlib.error as error:
                raise ContainerError(f"{self._source}: {name}: bad zlib data ({error})") from error
            if len(out) != expected:
                raise ContainerError(f"{self._source}: {name}: size {len(out)} != {expected}")
            return out
        return blob


def read_zip_member(path: Path, member: str) -> bytes:
    """One file of a zip archive such as a .pk3."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    except KeyError as error:
        raise ContainerError(f"{path}: no member {member}") from error
    except (OSError, zipfile.BadZipFile) as error:
        raise ContainerError(f"{path}: not a readable zip ({error})") from error
