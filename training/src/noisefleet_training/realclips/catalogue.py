"""The catalogue of recorded clips inside Debian packages, and the split we train and test on.

``real-clips.tsv`` is the reference list (89 labelled clips of the ten UrbanSound8K classes, with
a suggested train/test split by package or recording family); ``negatives.tsv`` lists recorded
sounds outside the classes (rain, crowds, wind, water, explosions, a train, a gong), also split,
for the non-event label ``ambient``. A path ``FILE :: MEMBER`` names a member of a container
(a Qt .rcc bundle or a .pk3 zip).

The packages reserved for our independent evaluation are refused here, whatever a catalogue
says (``RESERVED_PACKAGES``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath

RESERVED_PACKAGES = ("openttd-opensfx", "tuxpaint-stamps", "ufoai-sound", "micropolis-data")
"""Never downloaded, trained, tuned or tested on: the project's independent real-audio test."""
CATALOGUES = ("real-clips.tsv", "negatives.tsv")
SPLITS = ("train", "test")
MEMBER_SEPARATOR = " :: "


class CatalogueError(ValueError):
    """A catalogue row is unusable; the message names the row."""


@dataclass(frozen=True)
class ClipSpec:
    label: str
    tier: str
    """``strict`` (clean example), ``near`` (close to the class) or ``negative``."""
    package: str
    path: str
    """The file inside the package's tree (absolute, as installed)."""
    member: str | None
    """The clip's path inside the container at ``path``, if any."""
    licence: str
    split: str
    note: str

    @property
    def source(self) -> str:
        return self.path if self.member is None else f"{self.path}{MEMBER_SEPARATOR}{self.member}"

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.member or self.path).name

    @property
    def family(self) -> str:
        """The recording family: package and file stem without trailing digits or cut marks
        (``TraficHigh1`` and ``TraficHigh3`` are one family)."""
        stem = PurePosixPath(self.file_name).stem
        stem = re.sub(r"(_LA)?(_?cut|Cut)?$", "", stem)
        stem = re.sub(r"[_\-]?\d+$", "", stem)
        return f"{self.package}:{stem.lower()}"


def is_reserved(package: str) -> bool:
    return any(package == p or package.startswith(p + "-") for p in RESERVED_PACKAGES)


def parse_catalogue(text: str, name: str = "catalogue") -> tuple[ClipSpec, ...]:
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    specs = []
    for number, row in enumerate(rows, start=2):
        try:
            package = row["package"].strip()
            path, _, member = row["path"].partition(MEMBER_SEPARATOR)
            split = row["suggested_use"].strip()
            spec = ClipSpec(
                label=row["label"].strip(),
                tier=row["tier"].strip(),
                package=package,
                path=path.strip(),
                member=member.strip() or None,
                licence=row["licence"].strip(),
                split=split,
                note=(row.get("note") or "").strip(),
            )
        except (KeyError, AttributeError) as error:
            raise CatalogueError(f"{name}:{number}: missing column {error}") from error
        if is_reserved(package):
            raise CatalogueError(f"{name}:{number}: {package} is reserved for evaluation")
        if split not in SPLITS or not spec.label or not spec.path.startswith("/"):
            raise CatalogueError(f"{name}:{number}: needs a label, an absolute path and a split")
        specs.append(spec)
    return tuple(specs)


def default_catalogue() -> tuple[ClipSpec, ...]:
    """Both packaged catalogues, positives first."""
    folder = resources.files(__package__)
    specs: list[ClipSpec] = []
    for name in CATALOGUES:
        specs.extend(parse_catalogue(folder.joinpath(name).read_text(encoding="utf-8"), name))
    return tuple(specs)
