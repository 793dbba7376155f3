"""``noisefleet-train real-clips --cache DIR``: recorded clips from Debian packages, split.

Steps of ``build_real_clips``:
1. for every package the catalogue names (never a reserved one), ``apt-get download`` its .deb
   into ``CACHE/debs`` (once) and unpack it with ``dpkg -x`` into ``CACHE/root/PACKAGE`` (no
   root needed, nothing installed);
2. read every clip: a plain file, a member of a Qt .rcc bundle or of a .pk3 zip
   (``containers``); check that it decodes as audio and measure its duration;
3. write it, bytes unchanged, to ``OUT/SPLIT/LABEL/FAMILY__NAME`` and list it in
   ``OUT/clips.tsv`` (label, tier, split, family, source, licence, duration, rate);
4. report families found on both sides of the split (the catalogue's split is kept as it is;
   a shared family is a warning in the summary, not silently "fixed").

The audio stays in the cache: never commit it (its licences vary per file).
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from noisefleet_training.realclips.catalogue import ClipSpec, is_reserved
from noisefleet_training.realclips.containers import ContainerError, RccArchive, read_zip_member

CLIPS_FILE = "clips.tsv"
COLUMNS = (
    "file",
    "label",
    "tier",
    "split",
    "family",
    "package",
    "source",
    "licence",
    "duration_s",
    "sample_rate_hz",
    "channels",
)
UNPACKED_MARKER = ".unpacked"


class RealClipsError(RuntimeError):
    """The clips cannot be fetched or read; one line for the operator."""


@dataclass(frozen=True)
class RealClip:
    file: Path
    label: str
    tier: str
    split: str
    family: str
    source: str
    duration_s: float
    sample_rate_hz: int


def _run(command: list[str], cwd: Path | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = " ".join(result.stderr.split()[-30:])
        raise RealClipsError(f"{' '.join(command)} failed: {tail}")


def unpack_package(package: str, cache: Path) -> Path:
    """Step 1: the package's files under ``CACHE/root/PACKAGE``."""
    if is_reserved(package):
        raise RealClipsError(f"{package} is reserved for independent evaluation: never used")
    root = cache / "root" / package
    if (root / UNPACKED_MARKER).is_file():
        return root
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        _run(["apt-get", "download", package], cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            raise RealClipsError(f"apt-get download {package} wrote no .deb")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    _run(["dpkg", "-x", str(found[-1]), str(root)])
    (root / UNPACKED_MARKER).write_text(found[-1].name + "\n")
    return root


def read_clip_bytes(spec: ClipSpec, package_root: Path) -> bytes:
    """Step 2: the clip's bytes, from the file itself or from inside its container."""
    path = package_root / spec.path.lstrip("/")
    if not path.is_file():
        raise RealClipsError(f"{spec.package}: no file {spec.path}")
    if spec.member is None:
        return path.read_bytes()
    try:
        if path.suffix == ".rcc":
            return RccArchive.open(path).read(spec.member)
        return read_zip_member(path, spec.member)
    except ContainerError as error:
        raise RealClipsError(str(error)) from error


def _target(out: Path, spec: ClipSpec) -> Path:
    family = spec.family.replace(":", "_")
    return out / spec.split / spec.label / f"{family}__{spec.file_name}"


def build_real_clips(
    specs: Iterable[ClipSpec],
    cache: Path,
    out: Path,
    unpack: Callable[[str, Path], Path] = unpack_package,
) -> tuple[list[RealClip], list[str]]:
    """Steps 1-4; returns the clips and the families found in both splits."""
    specs = list(specs)
    roots = {p: unpack(p, cache) for p in sorted({s.package for s in specs})}
    clips = []
    rows = []
    for spec in specs:
        data = read_clip_bytes(spec, roots[spec.package])
        try:
            info = sf.info(io.BytesIO(data))
        except (sf.LibsndfileError, RuntimeError) as error:
            raise RealClipsError(f"{spec.source}: not decodable audio ({error})") from error
        target = _target(out, spec)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        clip = RealClip(
            target, spec.label, spec.tier, spec.split, spec.family, spec.source,
            float(info.duration), int(info.samplerate),
        )  # fmt: skip
        clips.append(clip)
        rows.append(
            {
                "file": str(target.relative_to(out)),
                "label": spec.label,
                "tier": spec.tier,
                "split": spec.split,
                "family": spec.family,
                "package": spec.package,
                "source": spec.source,
                "licence": spec.licence,
                "duration_s": f"{info.duration:.3f}",
                "sample_rate_hz": str(info.samplerate),
                "channels": str(info.channels),
            }
        )
    with (out / CLIPS_FILE).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    sides: dict[str, set[str]] = defaultdict(set)
    for clip in clips:
        sides[clip.family].add(clip.split)
    shared = sorted(f for f, s in sides.items() if len(s) > 1)
    return clips, shared


def load_real_clips(out: Path) -> list[RealClip]:
    """The clips ``build_real_clips`` wrote (``OUT/clips.tsv``)."""
    listing = out / CLIPS_FILE
    if not listing.is_file():
        raise RealClipsError(f"{listing}: missing; run noisefleet-train real-clips first")
    with listing.open(encoding="utf-8") as f:
        return [
            RealClip(
                out / row["file"],
                row["label"],
                row["tier"],
                row["split"],
                row["family"],
                row["source"],
                float(row["duration_s"]),
                int(row["sample_rate_hz"]),
            )
            for row in csv.DictReader(f, delimiter="\t")
        ]
