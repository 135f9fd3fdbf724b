"""What the Tweak editor offers and how it checks edits: as the CLI checks `--set`."""

from __future__ import annotations

import pytest

from kerashp.config import load_preset
from kerashp.errors import PresetError
from tui.services.settings import Settings
from tui.services.tweak_fields import check_edits, differs, relevant, tweak_fields


def test_fields_come_from_the_schema_and_the_preset():
    preset = load_preset("lenet5_aug")
    keys = [field.key for field in tweak_fields(preset)]
    for key in ("optimizer.name", "optimizer.learning_rate", "optimizer.weight_decay", "schedule.name", "schedule.gamma",
                "train.batch_size", "train.epochs", "augment.mixup_alpha", "model.batch_norm", "model.dropout"):
        assert key in keys
    probabilities = [f for f in tweak_fields(preset) if f.key.endswith(".p")]
    assert [f.label for f in probabilities][:2] == ["transforms.vertical_flip.p", "transforms.horizontal_flip.p"]
    assert probabilities[0].key == "augment.transforms.0.p"
    assert {f.key for f in tweak_fields(load_preset("resnet5m_cifar10"))} >= {"model.stages", "model.skip_pool"}
    choices = {f.key: f.choices for f in tweak_fields(preset)}
    assert choices["optimizer.name"][:2] == ("sgd", "adam") and choices["optimizer.nesterov"] == (True, False)
    assert choices["optimizer.learning_rate"] is None


def test_an_invalid_edit_gets_exactly_the_clis_message():
    problems, together = check_edits(Settings(), "lenet5", {"optimizer.learning_rate": "-1", "train.batch_size": "64"})
    with pytest.raises(PresetError) as cli:
        load_preset("lenet5", ["optimizer.learning_rate=-1"])
    assert problems == {"optimizer.learning_rate": str(cli.value)}
    assert problems["optimizer.learning_rate"] == "--set: optimizer.learning_rate = -1: out of range; allowed: a number > 0"
    assert together == ""
    assert check_edits(Settings(), "lenet5", {"optimizer.learning_rate": "0.05"}) == ({}, "")


def test_an_empty_field_asks_for_a_value_and_a_data_source_is_checked_like_kerashp_train_checks_it(tiny_folder):
    problems, _ = check_edits(Settings(), "lenet5", {"optimizer.learning_rate": " "})
    assert problems == {"optimizer.learning_rate": "optimizer.learning_rate: a value is required"}
    problems, _ = check_edits(Settings(), "lenet5", {"data.source": "folder:/does/not/exist"})
    assert problems == {"data.source": "folder:/does/not/exist: no such directory"}
    problems, _ = check_edits(Settings(), "lenet5", {"data.source": "cifar10"})
    assert problems["data.source"].startswith("--set: data.source = ")
    assert check_edits(Settings(), "lenet5", {"data.source": f"folder:{tiny_folder}"}) == ({}, "")


def test_the_data_source_comes_first_and_shows_as_typed_after_set():
    (source, *_) = tweak_fields(load_preset("lenet5"))
    assert (source.key, source.wide) == ("data.source", True)
    assert source.text("folder:../images") == "folder:../images"
    assert not differs(load_preset("lenet5"), "data.source", "tfds:cifar10")


def test_changed_means_a_different_value_not_different_text():
    preset = load_preset("lenet5")
    assert not differs(preset, "optimizer.learning_rate", "0.010")
    assert differs(preset, "optimizer.learning_rate", "0.02")
    assert differs(preset, "optimizer.learning_rate", "")  # empty is an edit (and an error)


def test_every_field_shows_text_that_parses_back_to_its_value():
    for name in ("lenet5", "lenet5_aug", "mobilenet_cifar100"):
        preset = load_preset(name)
        for spec in tweak_fields(preset):
            assert not differs(preset, spec.key, spec.text(preset.get_path(spec.key))), (name, spec.key)
    field = next(spec for spec in tweak_fields(load_preset("lenet5")) if spec.key == "optimizer.name")
    assert field.text(True) == "true" and field.text("sgd") == '"sgd"' and field.text([64, 128]) == "[64, 128]"


def test_settings_only_one_optimizer_or_schedule_reads_are_hidden_for_the_others():
    assert relevant("optimizer.momentum", {"optimizer.name": "sgd"})
    assert not relevant("optimizer.momentum", {"optimizer.name": "adam"})
    assert relevant("optimizer.beta_1", {"optimizer.name": "adamw"})
    assert not relevant("schedule.max_lr", {"schedule.name": "step"})
    assert relevant("optimizer.learning_rate", {"optimizer.name": "adam"})
