"""Saving a tweaked preset: `extends` the base, holds only the changed keys, loads back the same."""

from __future__ import annotations

import tomllib

import pytest

from kerashp.config import load_preset
from kerashp.errors import UserError
from tui.services.preset_files import (
    DEFAULT_USER_DIR,
    check_name,
    put_user_presets_on_path,
    save_variant,
    user_preset_dir,
)


def test_saved_variant_extends_its_base_with_only_the_changes(preset_dir):
    edits = {"optimizer.learning_rate": "0.05", "augment.transforms.1.p": "0.5", "model.batch_norm": "false"}
    path = save_variant("lenet5_aug", "lenet5_aug_fast", edits)
    assert path == preset_dir / "lenet5_aug_fast.toml"
    document = tomllib.loads(path.read_text())
    assert document["extends"] == "lenet5_aug"
    assert document["optimizer"] == {"learning_rate": 0.05} and document["model"] == {"batch_norm": False}
    base = load_preset("lenet5_aug")
    assert [t["name"] for t in document["augment"]["transforms"]] == [t["name"] for t in base["augment"]["transforms"]]
    saved = load_preset("lenet5_aug_fast")  # found by name: the user directory is on the preset path
    expected = load_preset("lenet5_aug", [f"{key}={text}" for key, text in edits.items()])
    assert {k: v for k, v in saved.items() if k != "name"} == {k: v for k, v in expected.items() if k != "name"}


def test_names_that_cannot_be_used(preset_dir):
    assert check_name("lenet5") == "a preset named lenet5 already exists"
    assert "letters, digits" in check_name("../evil")
    assert check_name("mine-2") == ""
    with pytest.raises(UserError, match="already exists"):
        save_variant("lenet5", "lenet5_aug", {"optimizer.learning_rate": "0.05"})


def test_user_directory_defaults_to_presets_user_and_joins_the_preset_path():
    environ = {}
    assert user_preset_dir(environ) == DEFAULT_USER_DIR
    put_user_presets_on_path(environ)
    assert environ == {"KERASHP_PRESET_PATH": "presets-user"}
    environ = {"KERASHP_PRESET_PATH": "/mine:/other"}
    put_user_presets_on_path(environ)
    assert user_preset_dir(environ).as_posix() == "/mine" and environ["KERASHP_PRESET_PATH"] == "/mine:/other"


def test_a_saved_data_folder_is_absolute_so_the_preset_runs_from_any_directory(preset_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = save_variant("lenet5", "lenet5_mine", {"data.source": '"folder:../images"'})
    assert tomllib.loads(path.read_text())["data"] == {"source": f"folder:{tmp_path.parent / 'images'}"}
