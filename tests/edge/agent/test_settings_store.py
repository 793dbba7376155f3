"""Remote settings kept for the next start (``settings_store``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from noisefleet_edge.agent.settings_store import (
    SettingsStoreError,
    load_settings,
    save_settings,
    settings_path,
)
from noisefleet_edge.agent.tuning import SensorTuning

LABELS = ("car_horn", "dog_bark", "siren")
CONFIGURED = SensorTuning(gate_level_db=45.0)
APPLIED = SensorTuning(gate_level_db=50.0, interval_s=2.0, enabled_labels=("siren",))


def test_saved_settings_are_restored(tmp_path: Path) -> None:
    path = settings_path(tmp_path, "s01")
    assert load_settings(path, CONFIGURED, LABELS).tuning == CONFIGURED  # nothing saved yet
    save_settings(path, APPLIED, CONFIGURED)
    loaded = load_settings(path, CONFIGURED, LABELS)
    assert (loaded.tuning, loaded.restored, loaded.note) == (APPLIED, True, None)
    assert not path.with_suffix(".tmp").exists()


def test_settings_edited_in_the_configuration_win(tmp_path: Path) -> None:
    path = settings_path(tmp_path, "s01")
    save_settings(path, APPLIED, CONFIGURED)
    edited = SensorTuning(gate_level_db=40.0)
    loaded = load_settings(path, edited, LABELS)
    assert (loaded.tuning, loaded.restored) == (edited, False)
    assert loaded.note is not None
    assert "configured settings changed" in loaded.note


@pytest.mark.parametrize(
    ("labels", "text", "note"),
    [
        (("dog_bark",), None, "the saved settings no longer fit: enabled_labels names label(s)"),
        (LABELS, "{not json", "is not a settings file"),
        (LABELS, '{"settings": {}}', "is not a settings file"),
    ],
)
def test_a_file_that_cannot_be_used_falls_back_to_the_configuration(
    tmp_path: Path, labels: tuple[str, ...], text: str | None, note: str
) -> None:
    path = settings_path(tmp_path, "s01")
    save_settings(path, APPLIED, CONFIGURED)
    if text is not None:
        path.write_text(text)
    loaded = load_settings(path, CONFIGURED, labels)
    assert (loaded.tuning, loaded.restored) == (CONFIGURED, False)
    assert loaded.note is not None
    assert note in loaded.note
    assert "\n" not in loaded.note


def test_a_state_dir_that_cannot_hold_them_is_one_line(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.write_text("a file where the state folder should be")
    with pytest.raises(SettingsStoreError, match=r"cannot save the settings in .* \(Not a dir"):
        save_settings(settings_path(state_dir, "s01"), APPLIED, CONFIGURED)
