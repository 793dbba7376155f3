from __future__ import annotations

import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from noisefleet_core.contract.commands import split_archive
from noisefleet_core.models.manifest import ModelManifest
from noisefleet_edge.agent import model_store
from noisefleet_edge.agent.model_store import (
    ModelStore,
    ModelUpdateError,
    TransferLimits,
    installed_at_of,
)
from noisefleet_edge.agent.model_transfer import ModelTransfer
from noisefleet_edge.agent.tuning import TuningError
from noisefleet_edge.classifier import SoundClassifier, default_model_dir

SOURCE = default_model_dir()
SHIPPED = json.loads((SOURCE / "model.json").read_text())
SHIPPED_SHA12 = SHIPPED["model_sha256"][:12]  # versions are named after the model's hash
MODEL_FILES = ("model.json", "model.tflite", "MODEL_CARD.md")
T0 = datetime(2026, 11, 24, 9, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
TRANSFER_A = "9e1f0a6c-3b57-4d28-a4c9-71e5b0d82f36"
TRANSFER_B = "1c7d5e2a-0b44-4f6e-9a31-8d2c6b7e5f10"


class Crash(BaseException):
    """A simulated power cut: nothing in the code under test may catch it."""


def model_files(**changes: bytes) -> dict[str, bytes]:
    files = {name: (SOURCE / name).read_bytes() for name in MODEL_FILES}
    files.update(changes)
    return files


def manifest_with(**changes: object) -> bytes:
    data = json.loads((SOURCE / "model.json").read_bytes())
    data.update(changes)
    return json.dumps(data).encode()


def build_archive(
    files: dict[str, bytes],
    gz: bool = False,
    extra: Callable[[tarfile.TarFile], None] | None = None,
    prefix: str = "",
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as tar:
        if prefix:
            folder = tarfile.TarInfo(".")
            folder.type = tarfile.DIRTYPE
            tar.addfile(folder)
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(tar)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_and_run(path: Path) -> SoundClassifier:
    """What the agent passes as try_load: build the classifier, run it once on silence."""
    classifier = SoundClassifier(path)
    assert classifier.classify(np.zeros(32000), 16000) is not None
    return classifier


def fake_load(path: Path) -> str:
    assert (path / "model.tflite").is_file()
    return path.name


def install(store: ModelStore, archive: bytes, at: datetime = T0, **kwargs: object) -> object:
    return store.install(archive, sha(archive), fake_load, at, **kwargs)  # type: ignore[arg-type]


def store_state(store: ModelStore) -> tuple[str | None, Path | None, list[str]]:
    versions = sorted(p.name for p in (store.folder / "versions").iterdir())
    return store.current_version(), store.previous_dir(), versions


def test_a_good_update_is_swapped_in(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    assert store.current_dir() is None
    archive = build_archive(model_files())
    installed = store.install(archive, sha(archive), load_and_run, T0)
    assert installed.version == f"20261124T090000Z-{SHIPPED_SHA12}"
    assert installed.installed_at == T0
    assert installed_at_of(installed.version) == T0
    assert installed.manifest.name == SHIPPED["name"]
    assert isinstance(installed.loaded, SoundClassifier)
    assert store.current_dir() == installed.path == tmp_path / "s01/versions" / installed.version
    assert os.readlink(tmp_path / "s01/current") == f"versions/{installed.version}"
    for name in MODEL_FILES:
        assert (installed.path / name).read_bytes() == (SOURCE / name).read_bytes()
    assert store.previous_dir() is None
    assert not (tmp_path / "s01/staging").exists()

    second = store.install(archive, sha(archive), fake_load, T1)
    assert second.loaded == f"20261124T100000Z-{SHIPPED_SHA12}"
    assert store.current_dir() == second.path
    assert store.previous_dir() == installed.path
    third = store.install(archive, sha(archive), fake_load, T1)  # same second: a new name
    assert third.version == f"20261124T100000Z-{SHIPPED_SHA12}-2"
    # Only current and previous are kept.
    assert store_state(store) == (third.version, second.path, [second.version, third.version])
    assert SoundClassifier(store.current_dir()).labels == installed.loaded.labels  # type: ignore[arg-type]


def test_a_tar_gz_of_a_folder_with_dot_entries_is_accepted(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    archive = build_archive(model_files(), gz=True, prefix="./")
    assert archive[:2] == b"\x1f\x8b"
    installed = install(store, archive)
    assert sorted(p.name for p in installed.path.iterdir()) == sorted(MODEL_FILES)  # type: ignore[attr-defined]


def test_chunks_out_of_order_and_duplicated_assemble_the_archive(tmp_path: Path) -> None:
    archive = build_archive(model_files(), gz=True)
    chunks = split_archive(archive, TRANSFER_A, chunk_bytes=2048)
    assert len(chunks) > 5
    arrivals = [*chunks, chunks[0], chunks[3]]
    random.Random(7).shuffle(arrivals)
    while arrivals[-1] in arrivals[:-1]:  # the last arrival completes the transfer
        arrivals.append(arrivals.pop(0))
    transfer = ModelTransfer()
    statuses = [transfer.offer(chunk, now_s=float(i)) for i, chunk in enumerate(arrivals)]
    assert [p.status for p in statuses].count("duplicate") == 2
    assert [p.status for p in statuses[:-1]].count("complete") == 0
    done = statuses[-1]
    assert done.status == "complete"
    assert (done.received, done.count) == (len(chunks), len(chunks))
    assert done.archive == archive
    assert transfer.active_id is None
    # A redelivered chunk of the finished transfer does not start it again.
    assert transfer.offer(chunks[1], now_s=99.0).status == "ended"
    assert transfer.active_id is None
    store = ModelStore(tmp_path, "s01")
    install(store, done.archive)
    assert store.current_dir() is not None


def test_a_new_transfer_replaces_an_unfinished_one_and_stalls_are_dropped() -> None:
    archive = build_archive(model_files())
    a = split_archive(archive, TRANSFER_A, chunk_bytes=8192)
    b = split_archive(archive, TRANSFER_B, chunk_bytes=8192)
    transfer = ModelTransfer(TransferLimits(stall_timeout_s=60))
    assert transfer.offer(a[0], 0.0).status == "receiving"
    progress = transfer.offer(b[1], 10.0)
    assert (progress.status, progress.dropped, progress.received) == ("receiving", (TRANSFER_A,), 1)
    assert transfer.offer(a[1], 11.0).status == "ended"  # the replaced one stays ended
    assert transfer.active_id == TRANSFER_B
    assert transfer.expire(69.0) is None
    assert transfer.expire(70.5) == TRANSFER_B
    assert transfer.offer(b[2], 71.0).status == "ended"
    # A chunk that arrives after a stall drops the stalled transfer on its own.
    c = split_archive(archive, "2d8e6f3b-1c55-4a7f-8b42-9e3d7c8f6a21", chunk_bytes=8192)
    transfer.offer(c[0], 100.0)
    late = split_archive(archive, "3e9f7a4c-2d66-4b80-9c53-af4e8d9a7b32", chunk_bytes=8192)
    assert transfer.offer(late[0], 200.0).dropped == (c[0].transfer_id,)


def test_an_oversized_archive_is_refused_at_its_first_chunk() -> None:
    archive = bytes(5000)
    chunks = split_archive(archive, TRANSFER_A, chunk_bytes=1000)
    transfer = ModelTransfer(TransferLimits(max_archive_bytes=4096))
    with pytest.raises(ModelUpdateError) as caught:
        transfer.offer(chunks[2], 0.0)
    assert str(caught.value) == (
        "the model archive holds 5000 bytes; this agent accepts at most 4096"
    )
    assert transfer.active_id is None
    assert transfer.offer(chunks[3], 1.0).status == "ended"


def test_chunks_that_disagree_or_carry_too_much_end_the_transfer() -> None:
    from noisefleet_core.contract.commands import ModelChunk

    first = ModelChunk(TRANSFER_A, 0, 3, "ab" * 32, 10, b"abcd")
    transfer = ModelTransfer()
    transfer.offer(first, 0.0)
    with pytest.raises(ModelUpdateError, match=r"chunk 1 of transfer .* disagrees with chunk 0 on"):
        transfer.offer(ModelChunk(TRANSFER_A, 1, 3, "cd" * 32, 10, b"efgh"), 1.0)
    assert transfer.active_id is None
    transfer.offer(ModelChunk(TRANSFER_B, 0, 3, "ab" * 32, 10, b"abcd"), 2.0)
    transfer.offer(ModelChunk(TRANSFER_B, 1, 3, "ab" * 32, 10, b"efgh"), 2.0)
    with pytest.raises(ModelUpdateError, match="carry more than the announced 10 bytes"):
        transfer.offer(ModelChunk(TRANSFER_B, 2, 3, "ab" * 32, 10, b"ijkl"), 3.0)


def test_a_wrong_archive_hash_is_refused(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    archive = build_archive(model_files())
    with pytest.raises(ModelUpdateError) as caught:
        store.install(archive, "0" * 64, fake_load, T0)
    assert "the model archive's SHA-256 is" in str(caught.value)
    assert "not the announced 000000000000…" in str(caught.value)
    assert store_state(store) == (None, None, [])


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        (
            model_files(**{"model.tflite": (SOURCE / "model.tflite").read_bytes()[:-1] + b"\0"}),
            "model.tflite does not match model.json (SHA-256",
        ),
        (
            model_files(**{"model.json": manifest_with(model_sha256="1" * 64)}),
            "model.tflite does not match model.json",
        ),
        (
            model_files(**{"model.json": manifest_with(feature_params_hash="0123456789abcdef")}),
            "the model was trained on features with hash 0123456789abcdef, but this edge's "
            "frontend computes 49963c8a724f23b6",
        ),
        (
            model_files(**{"model.json": manifest_with(manifest_version=9)}),
            "model.json has manifest_version 9",
        ),
        (model_files(**{"model.json": b"{oops"}), "model.json: not valid JSON"),
        ({"model.tflite": (SOURCE / "model.tflite").read_bytes()}, "the model archive lacks"),
    ],
    ids=["tflite-bytes", "tflite-sha", "feature-hash", "manifest-version", "json", "no-manifest"],
)
def test_a_model_that_does_not_check_out_is_refused(
    tmp_path: Path, files: dict[str, bytes], reason: str
) -> None:
    store = ModelStore(tmp_path, "s01")
    install(store, build_archive(model_files()))
    before = store_state(store)
    with pytest.raises(ModelUpdateError) as caught:
        install(store, build_archive(files), at=T1)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
    assert store_state(store) == before
    assert not (tmp_path / "s01/staging").exists()


def _member(name: str, kind: bytes, linkname: str = "", data: bytes = b"") -> Callable:  # type: ignore[type-arg]
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)

    return add


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (_member("../evil.txt", tarfile.REGTYPE, data=b"x"), "'../evil.txt' points outside"),
        (_member("./../evil.txt", tarfile.REGTYPE, data=b"x"), "points outside the model folder"),
        (_member("/tmp/evil.txt", tarfile.REGTYPE, data=b"x"), "'/tmp/evil.txt' has an absolute"),
        (_member("notes.txt", tarfile.SYMTYPE, "/etc/passwd"), "'notes.txt' is a link"),
        (_member("card.md", tarfile.LNKTYPE, "model.json"), "'card.md' is a link"),
        (_member("sub/model.bin", tarfile.REGTYPE, data=b"x"), "is not at the top level"),
        (_member("sub", tarfile.DIRTYPE), "'sub' is a folder"),
        (_member("pipe", tarfile.FIFOTYPE), "'pipe' is a device or FIFO"),
        (_member("sda", tarfile.BLKTYPE), "'sda' is a device or FIFO"),
        (_member(".hidden", tarfile.REGTYPE, data=b"x"), "is not a plain file name"),
        (_member("model.json", tarfile.REGTYPE, data=b"{}"), "'model.json' appears twice"),
    ],
)
def test_unsafe_archive_members_are_refused(
    tmp_path: Path, extra: Callable[[tarfile.TarFile], None], reason: str
) -> None:
    store = ModelStore(tmp_path / "store", "s01")
    archive = build_archive(model_files(), extra=extra)
    with pytest.raises(ModelUpdateError) as caught:
        install(store, archive)
    assert reason in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    assert not (tmp_path / "evil.txt").exists()
    assert store_state(store) == (None, None, [])


def test_archive_bombs_and_garbage_are_refused(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01", TransferLimits(max_extracted_bytes=100_000))
    big = build_archive(model_files(**{"padding.bin": bytes(200_000)}), gz=True)
    assert len(big) < 100_000
    with pytest.raises(ModelUpdateError, match="files exceed 100000 bytes in all"):
        install(store, big)
    many = build_archive({**model_files(), **{f"f{i}.txt": b"x" for i in range(40)}})
    with pytest.raises(ModelUpdateError, match="holds more than 32 files"):
        install(store, many)
    with pytest.raises(ModelUpdateError, match=r"not a readable tar or tar\.gz file"):
        install(store, b"this is not a tar file at all" * 50)
    truncated = build_archive(model_files(), gz=True)[:3000]
    with pytest.raises(ModelUpdateError, match=r"not a readable tar or tar\.gz file"):
        install(store, truncated)
    assert store_state(store) == (None, None, [])


def test_a_model_that_fails_to_load_leaves_the_current_one(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    good = install(store, build_archive(model_files()))
    before = store_state(store)

    def broken(path: Path) -> None:
        raise RuntimeError("interpreter: invoke failed\nsecond line")

    archive = build_archive(model_files())
    with pytest.raises(ModelUpdateError) as caught:
        store.install(archive, sha(archive), broken, T1)
    assert str(caught.value) == (
        f"the new model failed to load or run, {good.version} stays current: "  # type: ignore[attr-defined]
        "interpreter: invoke failed second line"
    )
    assert store_state(store) == before
    assert SoundClassifier(store.current_dir()).labels  # type: ignore[arg-type]


def test_accept_can_refuse_a_model_before_it_is_loaded(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    loaded: list[Path] = []

    def refuse(manifest: ModelManifest) -> None:
        raise TuningError(f"enabled_labels names labels {manifest.name} lacks")

    archive = build_archive(model_files())
    with pytest.raises(ModelUpdateError, match="enabled_labels names labels noisefleet-default"):
        store.install(archive, sha(archive), loaded.append, T0, accept=refuse)
    assert loaded == []
    assert store_state(store) == (None, None, [])


def test_rollback_restores_the_previous_model(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    with pytest.raises(ModelUpdateError, match="no previous model to roll back to"):
        store.rollback()
    archive = build_archive(model_files())
    first = install(store, archive, at=T0)
    second = install(store, archive, at=T1)
    assert store.current_version() == second.version  # type: ignore[attr-defined]
    assert store.rollback() == first.path  # type: ignore[attr-defined]
    assert store.current_dir() == first.path  # type: ignore[attr-defined]
    assert store_state(store) == (first.version, None, [first.version])  # type: ignore[attr-defined]
    load_and_run(store.current_dir())  # type: ignore[arg-type]
    with pytest.raises(ModelUpdateError, match="no previous model"):
        store.rollback()


def _crash_on(monkeypatch: pytest.MonkeyPatch, link_name: str) -> None:
    real_replace = os.replace

    def replace(src: object, dst: object) -> None:
        if Path(str(dst)).name == link_name:
            raise Crash
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(model_store.os, "replace", replace)


@pytest.mark.parametrize("link_name", ["previous", "current"])
def test_a_crash_during_the_swap_leaves_a_loadable_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link_name: str
) -> None:
    store = ModelStore(tmp_path, "s01")
    archive = build_archive(model_files())
    first = install(store, archive, at=T0)
    _crash_on(monkeypatch, link_name)
    with pytest.raises(Crash):
        install(store, archive, at=T1)
    monkeypatch.undo()
    # The half-done state: a temporary link and an unreferenced version are left behind.
    assert (tmp_path / f"s01/.{link_name}.tmp").is_symlink()
    assert len(list((tmp_path / "s01/versions").iterdir())) == 2
    restarted = ModelStore(tmp_path, "s01")
    assert restarted.current_dir() == first.path  # type: ignore[attr-defined]
    assert not (tmp_path / f"s01/.{link_name}.tmp").exists()
    assert [p.name for p in (tmp_path / "s01/versions").iterdir()] == [first.version]  # type: ignore[attr-defined]
    load_and_run(restarted.current_dir())  # type: ignore[arg-type]


def test_a_crash_after_the_swap_keeps_the_new_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModelStore(tmp_path, "s01")
    archive = build_archive(model_files())
    install(store, archive, at=T0)
    install(store, archive, at=T0 + timedelta(minutes=1))

    def crash(self: ModelStore) -> None:
        raise Crash

    monkeypatch.setattr(ModelStore, "_prune", crash)
    with pytest.raises(Crash):
        install(store, archive, at=T1)
    monkeypatch.undo()
    restarted = ModelStore(tmp_path, "s01")
    assert restarted.current_version() == f"20261124T100000Z-{SHIPPED_SHA12}"
    assert restarted.previous_dir() == tmp_path / f"s01/versions/20261124T090100Z-{SHIPPED_SHA12}"
    assert len(list((tmp_path / "s01/versions").iterdir())) == 2
    load_and_run(restarted.current_dir())  # type: ignore[arg-type]


def test_a_crash_while_extracting_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModelStore(tmp_path, "s01")
    install(store, build_archive(model_files()), at=T0)
    before = store_state(store)

    def crash(path: Path, data: bytes) -> None:
        raise Crash

    monkeypatch.setattr(model_store, "_write_file", crash)
    with pytest.raises(Crash):
        install(store, build_archive(model_files()), at=T1)
    monkeypatch.undo()
    assert store_state(ModelStore(tmp_path, "s01")) == before
    assert not (tmp_path / "s01/staging").exists()


def test_a_dangling_current_falls_back_to_previous(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    archive = build_archive(model_files())
    first = install(store, archive, at=T0)
    second = install(store, archive, at=T1)
    import shutil

    shutil.rmtree(second.path)  # type: ignore[attr-defined]
    restarted = ModelStore(tmp_path, "s01")
    assert restarted.current_dir() == first.path  # type: ignore[attr-defined]


def test_seed_installs_the_configured_model_once(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    seeded = store.seed(SOURCE, fake_load, T0)
    assert seeded is not None
    assert store.current_dir() == seeded.path
    assert sorted(p.name for p in seeded.path.iterdir()) == sorted(MODEL_FILES)
    assert store.seed(SOURCE, fake_load, T1) is None
    install(store, build_archive(model_files()), at=T1)
    assert store.rollback() == seeded.path


def test_sensor_ids_are_safe_folder_names(tmp_path: Path) -> None:
    with pytest.raises(ModelUpdateError, match=r"sensor '\.\./x' is not allowed"):
        ModelStore(tmp_path, "../x")


def test_a_full_disk_is_a_one_line_error_and_keeps_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModelStore(tmp_path, "s01")
    install(store, build_archive(model_files()), at=T0)
    before = store_state(store)

    def full(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_store, "_write_file", full)
    with pytest.raises(ModelUpdateError) as caught:
        install(store, build_archive(model_files()), at=T1)
    assert str(caught.value) == (
        f"cannot write the model store {tmp_path / 's01'}: [Errno 28] No space left on device"
    )
    assert store_state(store) == before
    assert not (tmp_path / "s01/staging").exists()
