"""The clip extractors on containers built here: a Qt .rcc bundle (written by a minimal rcc
writer following Qt's format) and a .pk3 zip; and the real-clips build on a fake package tree."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_training.realclips.build import (
    RealClipsError,
    build_real_clips,
    load_real_clips,
    unpack_package,
)
from noisefleet_training.realclips.catalogue import (
    CatalogueError,
    default_catalogue,
    parse_catalogue,
)
from noisefleet_training.realclips.containers import ContainerError, RccArchive, read_zip_member


def _names_blob(names: list[str]) -> tuple[bytes, dict[str, int]]:
    blob, offsets = b"", {}
    for name in names:
        offsets[name] = len(blob)
        encoded = name.encode("utf-16-be")
        blob += struct.pack(">HI", len(name), 0) + encoded
    return blob, offsets


def make_rcc(files: dict[str, bytes], version: int = 3, compress: bool = True) -> bytes:
    """A Qt resource bundle of ``files`` under one directory level (``/dir/name``)."""
    dirs: dict[str, list[str]] = {}
    for path in sorted(files):
        directory, name = path.strip("/").split("/")
        dirs.setdefault(directory, []).append(name)
    names_blob, name_offset = _names_blob(sorted({*dirs, *(n for v in dirs.values() for n in v)}))
    data_blob, nodes = b"", []
    node_tail = b"" if version == 1 else struct.pack(">Q", 0)
    # node 0: root; nodes 1..D: directories; then their files, contiguous per directory.
    nodes.append(struct.pack(">IHII", 0, 2, len(dirs), 1) + node_tail)
    first_file = 1 + len(dirs)
    file_nodes = []
    for directory, children in dirs.items():
        nodes.append(
            struct.pack(">IHII", name_offset[directory], 2, len(children), first_file) + node_tail
        )
        first_file += len(children)
        for child in children:
            content = files[f"/{directory}/{child}"]
            stored = (
                struct.pack(">I", len(content)) + zlib.compress(content) if compress else content
            )
            file_nodes.append(
                struct.pack(
                    ">IHHHI", name_offset[child], 1 if compress else 0, 0, 0, len(data_blob)
                )
                + node_tail
            )
            data_blob += struct.pack(">I", len(stored)) + stored
    tree = b"".join(nodes + file_nodes)
    header_size = 24 if version >= 3 else 20
    tree_at = header_size
    data_at = tree_at + len(tree)
    names_at = data_at + len(data_blob)
    header = b"qres" + struct.pack(">IIII", version, tree_at, data_at, names_at)
    if version >= 3:
        header += struct.pack(">I", 0)
    return header + tree + data_blob + names_blob


def _ogg(seconds: float = 0.5, fs: int = 22050) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(round(seconds * fs)) / fs
    sf.write(buffer, 0.3 * np.sin(2 * np.pi * 440 * t), fs, format="OGG", subtype="VORBIS")
    return buffer.getvalue()


@pytest.mark.parametrize(("version", "compress"), [(1, False), (2, True), (3, True)])
def test_rcc_members_are_listed_and_read(version: int, compress: bool) -> None:
    files = {"/sounds/dog.ogg": _ogg(), "/sounds/cat.ogg": b"meow" * 100, "/music/a.ogg": b"x"}
    archive = RccArchive(make_rcc(files, version, compress))
    assert archive.names == tuple(sorted(files))
    for name, content in files.items():
        assert archive.read(name) == content
    with pytest.raises(ContainerError, match="no resource"):
        archive.read("/sounds/cow.ogg")


def test_bad_rcc_is_refused() -> None:
    with pytest.raises(ContainerError, match="qres"):
        RccArchive(b"RIFF" + b"\0" * 40)
    good = make_rcc({"/a/b.ogg": b"data"})
    with pytest.raises(ContainerError, match="truncated"):
        RccArchive(good[:30])


def test_pk3_member(tmp_path: Path) -> None:
    pk3 = tmp_path / "pak0.pk3"
    with zipfile.ZipFile(pk3, "w") as archive:
        archive.writestr("sound/world/wind.wav", b"RIFF....")
    assert read_zip_member(pk3, "sound/world/wind.wav") == b"RIFF...."
    with pytest.raises(ContainerError, match="no member"):
        read_zip_member(pk3, "sound/none.wav")


CATALOGUE = """label\ttier\tpackage\tpath\tduration_s\trate_channels\tlicence\tsuggested_use\tnote
dog_bark\tstrict\tfake-data\t/usr/share/fake/Shanty4.wav\t\t\tGPL-2+\ttest\t
dog_bark\tstrict\tfake-data\t/usr/share/fake/animals.rcc :: /animals/dog.ogg\t\t\tGPL-3\ttrain\t
ambient\tnegative\tfake-data\t/usr/share/fake/pak0.pk3 :: sound/world/wind1.wav\t\t\tGPL-2+\ttrain\t
"""


def test_build_from_a_fake_package_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/share/fake").mkdir(parents=True)
    sf.write(root / "usr/share/fake/Shanty4.wav", np.zeros(11025), 11025)
    (root / "usr/share/fake/animals.rcc").write_bytes(make_rcc({"/animals/dog.ogg": _ogg()}))
    wav = io.BytesIO()
    sf.write(wav, np.zeros(2205), 22050, format="WAV")
    with zipfile.ZipFile(root / "usr/share/fake/pak0.pk3", "w") as archive:
        archive.writestr("sound/world/wind1.wav", wav.getvalue())
    specs = parse_catalogue(CATALOGUE)
    out = tmp_path / "clips"
    clips, shared = build_real_clips(specs, tmp_path, out, unpack=lambda _p, _c: root)
    assert shared == []
    assert [(c.split, c.label) for c in clips] == [
        ("test", "dog_bark"),
        ("train", "dog_bark"),
        ("train", "ambient"),
    ]
    assert clips[1].duration_s == pytest.approx(0.5, abs=0.01)
    assert load_real_clips(out) == clips
    assert (out / "train/ambient/fake-data_wind__wind1.wav").is_file()


def test_reserved_packages_are_refused_everywhere(tmp_path: Path) -> None:
    row = CATALOGUE.splitlines()[1].replace("fake-data", "ufoai-sound")
    with pytest.raises(CatalogueError, match="reserved"):
        parse_catalogue(CATALOGUE.splitlines()[0] + "\n" + row + "\n")
    for package in ("openttd-opensfx", "tuxpaint-stamps-default", "micropolis-data"):
        with pytest.raises(RealClipsError, match="reserved"):
            unpack_package(package, tmp_path)


def test_the_packaged_catalogue_keeps_families_apart() -> None:
    specs = default_catalogue()
    assert len([s for s in specs if s.label != "ambient"]) == 89
    sides: dict[str, set[str]] = {}
    for spec in specs:
        sides.setdefault(spec.family, set()).add(spec.split)
    assert all(len(s) == 1 for s in sides.values()), {f: s for f, s in sides.items() if len(s) > 1}
