"""Remote model updates: chunks in, a verified model folder swapped in atomically, rollback.

``model_transfer.ModelTransfer`` assembles the chunks into an archive; ``ModelStore.install``
then, for the whole archive:

1. verifies its SHA-256 against the one the chunks announced;
2. extracts it safely into ``staging/``: regular files with plain names at the top level only
   (no absolute paths, no ``..``, no links, no devices, no folders), bounded in size and count;
3. parses ``model.json`` and checks ``model.tflite`` against its SHA-256 and the feature
   parameters' hash against this edge's frontend (``check_compatible``), then the caller's
   ``accept(manifest)`` (e.g. the settings in force still fit the new labels; it refuses
   with a ``NoisefleetEdgeError``);
4. moves the folder to ``versions/<installed_at>-<sha12>`` and calls the caller's
   ``try_load(path)`` (the agent builds a classifier and runs it once on silence): if that
   raises, the version is deleted and ``current`` never moved;
5. swaps: ``previous`` → the old model, then ``current`` → the new one, each link written under
   a temporary name and renamed over the old (``os.replace``, atomic on POSIX), files and
   folders fsynced first; finally prunes every version but ``current`` and ``previous``.

A crash at any point leaves ``current`` at a complete, checked model (a failed write, e.g. a
full disk, too: it becomes a ``ModelUpdateError``); ``recover`` (run by the
constructor) removes what a crash left behind. ``rollback`` makes ``previous`` current again
when the agent sees the new model fail at run time. Every failure is a one-line
``ModelUpdateError``. Everything here blocks (hashing, extraction, loading): the agent runs it in
a thread, one call at a time.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Generic, TypeVar

from noisefleet_core.contract.topics import TopicError, check_id
from noisefleet_core.models.manifest import (
    CARD_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    ModelError,
    ModelManifest,
    check_compatible,
    parse_manifest,
)
from noisefleet_edge.agent.model_transfer import ModelUpdateError, TransferLimits, one_line
from noisefleet_edge.errors import NoisefleetEdgeError

__all__ = [
    "InstalledModel",
    "ModelStore",
    "ModelUpdateError",
    "TransferLimits",
    "check_model_folder",
    "extract_model_archive",
    "installed_at_of",
]

T = TypeVar("T")

VERSIONS = "versions"
STAGING = "staging"
CURRENT = "current"
PREVIOUS = "previous"
MAX_MEMBERS = 32
MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
VERSION_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _member_problem(member: tarfile.TarInfo) -> str | None:
    """Why a tar member may not be extracted, or None for a plain top-level file."""
    path = PurePosixPath(member.name)
    if member.name.startswith("/") or path.is_absolute():
        return "has an absolute path"
    if ".." in path.parts:
        return "points outside the model folder (..)"
    if member.issym() or member.islnk():
        return "is a link"
    if member.ischr() or member.isblk() or member.isfifo():
        return "is a device or FIFO"
    if member.isdir():
        return "is a folder; the model files must be at the top level"
    if not member.isfile():
        return "is not a regular file"
    if len(path.parts) != 1:
        return "is not at the top level"
    if MEMBER_NAME.fullmatch(path.name) is None:
        return "is not a plain file name"
    return None


def extract_model_archive(archive: bytes, folder: Path, max_extracted_bytes: int) -> list[str]:
    """Write the archive's files into the empty ``folder``; the names written, in order."""
    names: list[str] = []
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            for member in tar:
                if member.isdir() and PurePosixPath(member.name).parts in ((), (".",)):
                    continue  # the "." entry of `tar -C folder .`
                problem = _member_problem(member)
                if problem is not None:
                    raise ModelUpdateError(f"archive member {member.name!r} {problem}")
                name = PurePosixPath(member.name).name
                if name in names:
                    raise ModelUpdateError(f"archive member {name!r} appears twice")
                if len(names) == MAX_MEMBERS:
                    raise ModelUpdateError(f"the archive holds more than {MAX_MEMBERS} files")
                total += member.size
                if total > max_extracted_bytes:
                    raise ModelUpdateError(
                        f"the archive's files exceed {max_extracted_bytes} bytes in all"
                    )
                source = tar.extractfile(member)
                if source is None:
                    raise ModelUpdateError(f"archive member {member.name!r} cannot be read")
                _write_file(folder / name, source.read())
                names.append(name)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ModelUpdateError(
            f"the model archive is not a readable tar or tar.gz file ({one_line(error)})"
        ) from None
    return names


def check_model_folder(folder: Path) -> ModelManifest:
    """The folder's manifest, once model.tflite and the feature parameters check out."""
    for required in (MANIFEST_FILE, MODEL_FILE):
        if not (folder / required).is_file():
            raise ModelUpdateError(f"the model archive lacks {required}")
    try:
        data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelUpdateError(f"{MANIFEST_FILE}: not valid JSON ({one_line(error)})") from None
    try:
        manifest = parse_manifest(data)
        check_compatible(manifest, (folder / MODEL_FILE).read_bytes())
    except ModelError as error:
        raise ModelUpdateError(one_line(error)) from None
    return manifest


def installed_at_of(version: str) -> datetime | None:
    """When a version was installed, from its name (None for names the store did not make)."""
    try:
        return datetime.strptime(version[:16], VERSION_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class InstalledModel(Generic[T]):
    """A model that is now ``current``, with what ``try_load`` made of it."""

    version: str
    path: Path
    manifest: ModelManifest
    installed_at: datetime
    loaded: T


class ModelStore:
    """One sensor's installed models: ``root/<sensor>/{versions/,current,previous}``."""

    def __init__(self, root: Path, sensor: str, limits: TransferLimits | None = None) -> None:
        try:
            check_id(sensor, "sensor")  # a safe folder name
        except TopicError as error:
            raise ModelUpdateError(str(error)) from None
        self.folder = root / sensor
        self.limits = limits or TransferLimits()
        try:
            (self.folder / VERSIONS).mkdir(parents=True, exist_ok=True)
            self.recover()
        except OSError as error:
            raise ModelUpdateError(
                f"cannot use the model store {self.folder}: {one_line(error)}"
            ) from None

    # -- reading ---------------------------------------------------------------------------

    def _version_of(self, link_name: str) -> str | None:
        link = self.folder / link_name
        if not link.is_symlink():
            return None
        target = PurePosixPath(os.readlink(link))
        if target.parts[:1] != (VERSIONS,) or len(target.parts) != 2:
            return None
        version = target.parts[1]
        return version if (self.folder / VERSIONS / version / MODEL_FILE).is_file() else None

    def current_version(self) -> str | None:
        """The version ``current`` points at, or None (nothing installed yet)."""
        return self._version_of(CURRENT)

    def current_dir(self) -> Path | None:
        """The current model folder (its real path, stable across later swaps), or None."""
        version = self.current_version()
        return None if version is None else self.folder / VERSIONS / version

    def previous_dir(self) -> Path | None:
        version = self._version_of(PREVIOUS)
        return None if version is None else self.folder / VERSIONS / version

    # -- writing ---------------------------------------------------------------------------

    def _point(self, link_name: str, version: str) -> None:
        temporary = self.folder / f".{link_name}.tmp"
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        os.symlink(f"{VERSIONS}/{version}", temporary)
        os.replace(temporary, self.folder / link_name)
        _fsync_dir(self.folder)

    def _prune(self) -> None:
        keep = {self.current_version(), self._version_of(PREVIOUS)}
        for path in (self.folder / VERSIONS).iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)

    def recover(self) -> None:
        """Clean up after a crash: temporary links, staging, unreferenced versions."""
        for link_name in (CURRENT, PREVIOUS):
            with contextlib.suppress(FileNotFoundError):
                (self.folder / f".{link_name}.tmp").unlink()
        shutil.rmtree(self.folder / STAGING, ignore_errors=True)
        previous = self._version_of(PREVIOUS)
        if self.current_version() is None:
            if previous is not None:
                self._point(CURRENT, previous)
            else:
                with contextlib.suppress(FileNotFoundError):
                    (self.folder / CURRENT).unlink()
        if self._version_of(PREVIOUS) is None:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / PREVIOUS).unlink()
        self._prune()

    def _new_version(self, installed_at: datetime, manifest: ModelManifest) -> str:
        stem = f"{installed_at.astimezone(UTC):{VERSION_TIME_FORMAT}}-{manifest.model_sha256[:12]}"
        version, n = stem, 1
        while (self.folder / VERSIONS / version).exists():
            n += 1
            version = f"{stem}-{n}"
        return version

    def _stage(
        self, fill: Callable[[Path], None], accept: Callable[[ModelManifest], None] | None
    ) -> tuple[Path, ModelManifest]:
        staging_root = self.folder / STAGING
        staging_root.mkdir(exist_ok=True)
        staged = Path(tempfile.mkdtemp(dir=staging_root))
        try:
            fill(staged)
            manifest = check_model_folder(staged)
            if accept is not None:
                try:
                    accept(manifest)
                except NoisefleetEdgeError as error:
                    raise ModelUpdateError(one_line(error)) from None
            _fsync_dir(staged)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        return staged, manifest

    def _commit(
        self,
        staged: Path,
        manifest: ModelManifest,
        installed_at: datetime,
        try_load: Callable[[Path], T],
    ) -> InstalledModel[T]:
        version = self._new_version(installed_at, manifest)
        path = self.folder / VERSIONS / version
        os.rename(staged, path)
        _fsync_dir(path.parent)
        try:
            loaded = try_load(path)
        except Exception as error:  # any failure of the candidate leaves the old model in force
            shutil.rmtree(path, ignore_errors=True)
            kept = self.current_version() or "no model"
            raise ModelUpdateError(
                f"the new model failed to load or run, {kept} stays current: {one_line(error)}"
            ) from None
        old = self.current_version()
        if old is not None:
            self._point(PREVIOUS, old)
        self._point(CURRENT, version)
        self._prune()
        return InstalledModel(version, path, manifest, installed_at.astimezone(UTC), loaded)

    def install(
        self,
        archive: bytes,
        archive_sha256: str,
        try_load: Callable[[Path], T],
        installed_at: datetime,
        accept: Callable[[ModelManifest], None] | None = None,
    ) -> InstalledModel[T]:
        """Verify, unpack, check, load and swap in a model archive (steps in the module doc)."""
        actual = hashlib.sha256(archive).hexdigest()
        if actual != archive_sha256:
            raise ModelUpdateError(
                f"the model archive's SHA-256 is {actual[:12]}…, not the announced "
                f"{archive_sha256[:12]}…: it was corrupted on the way; send it again"
            )

        def fill(staged: Path) -> None:
            extract_model_archive(archive, staged, self.limits.max_extracted_bytes)

        try:
            staged, manifest = self._stage(fill, accept)
            return self._commit(staged, manifest, installed_at, try_load)
        except OSError as error:  # e.g. a full SD card: the model in force stays
            raise ModelUpdateError(
                f"cannot write the model store {self.folder}: {one_line(error)}"
            ) from None
        finally:
            shutil.rmtree(self.folder / STAGING, ignore_errors=True)

    def seed(
        self, model_dir: Path, try_load: Callable[[Path], T], installed_at: datetime
    ) -> InstalledModel[T] | None:
        """Install a local model folder (the configured one) when nothing is current yet, so a
        later update has something to roll back to; None when a model is already current."""
        if self.current_version() is not None:
            return None

        def fill(staged: Path) -> None:
            for name in (MANIFEST_FILE, MODEL_FILE, CARD_FILE):
                if (model_dir / name).is_file():
                    _write_file(staged / name, (model_dir / name).read_bytes())

        try:
            staged, manifest = self._stage(fill, None)
            return self._commit(staged, manifest, installed_at, try_load)
        except OSError as error:  # e.g. a full SD card: the model in force stays
            raise ModelUpdateError(
                f"cannot write the model store {self.folder}: {one_line(error)}"
            ) from None
        finally:
            shutil.rmtree(self.folder / STAGING, ignore_errors=True)

    def rollback(self) -> Path:
        """Make ``previous`` current again (the failed version is deleted); its folder."""
        previous = self._version_of(PREVIOUS)
        if previous is None:
            raise ModelUpdateError("no previous model to roll back to")
        self._point(CURRENT, previous)
        with contextlib.suppress(FileNotFoundError):
            (self.folder / PREVIOUS).unlink()
        self._prune()
        return self.folder / VERSIONS / previous
