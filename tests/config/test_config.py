"""The preset schema, extends, overrides and their one-line error messages."""

from __future__ import annotations

import tomllib

import pytest
import tomli_w
from conftest import BAD_DOCUMENTS

from kerashp.config import available_presets, load_preset, parse_override, portable, preset_toml, validate
from kerashp.data import check_folder
from kerashp.errors import PresetError


def write(directory, name, text):
    path = directory / f"{name}.toml"
    path.write_text(text)
    return path


def error_of(name_or_path, overrides=()):
    with pytest.raises(PresetError) as caught:
        load_preset(str(name_or_path), overrides)
    message = str(caught.value)
    assert "\n" not in message, "errors are one line"
    return message


def test_every_shipped_preset_is_valid_and_resolves_every_section():
    presets = available_presets()
    assert {"lenet5", "lenet5_aug"} <= set(presets)
    for name in presets:
        preset = load_preset(name)
        assert preset.name == name
        assert {"data", "augment", "model", "optimizer", "schedule", "train", "search", "reference"} <= set(preset)


def test_lenet5_aug_matches_the_study():
    preset = load_preset("lenet5_aug")
    assert preset["optimizer"]["name"] == "sgd" and preset["optimizer"]["nesterov"] and preset["optimizer"]["momentum"] == 0.9
    assert preset["optimizer"]["learning_rate"] == 0.01
    assert preset["optimizer"]["l2"] == 5e-5  # the study's REG = 1e-4 is PyTorch's coupled weight_decay: l2 = REG / 2
    assert (preset["schedule"]["name"], preset["schedule"]["step_epochs"], preset["schedule"]["gamma"]) == ("step", 2, 0.96)
    assert (preset["train"]["epochs"], preset["train"]["batch_size"]) == (30, 128)
    assert preset["augment"]["order"] == "random"
    probabilities = {t["name"]: t["p"] for t in preset["augment"]["transforms"] + preset["augment"]["after"]}
    assert probabilities == {
        "vertical_flip": 0.10,
        "horizontal_flip": 0.15,
        "pad_crop": 0.15,
        "affine": 0.20,
        "color_jitter": 0.15,
        "random_erasing": 0.10,
    }
    assert preset["data"]["mean"] == [0.4914, 0.4822, 0.4465] and preset["data"]["std"] == [0.2023, 0.1994, 0.2010]
    assert preset["reference"] == {"epochs": 30, "val_accuracy": 0.677, "train_accuracy": 0.645}


def test_extends_inherits_and_child_wins(preset_dir):
    write(preset_dir, "child", 'extends = "lenet5"\n[optimizer]\nlearning_rate = 0.05\n')
    preset = load_preset("child")
    assert preset["optimizer"]["learning_rate"] == 0.05
    assert preset["optimizer"]["momentum"] == 0.9  # inherited
    assert preset["model"]["batch_norm"] is True


def test_overrides_are_typed_and_reach_list_entries_by_name_or_index():
    preset = load_preset(
        "lenet5_aug",
        [
            "optimizer.learning_rate=0.05",
            "train.batch_size=64",
            "optimizer.nesterov=false",
            "augment.transforms.vertical_flip.p=0.3",
            "augment.after.0.p=0.2",
            "data.source=folder:../images",
        ],
    )
    assert preset["optimizer"]["learning_rate"] == 0.05 and isinstance(preset["train"]["batch_size"], int)
    assert preset["optimizer"]["nesterov"] is False
    assert preset["augment"]["transforms"][0] == {"name": "vertical_flip", "p": 0.3}
    assert preset["augment"]["after"][0]["p"] == 0.2
    assert preset["data"]["source"] == "folder:../images"


def test_parse_override_reads_toml_values_and_bare_words():
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    assert parse_override('a="x y"') == ("a", "x y")
    assert parse_override("a=1e-3") == ("a", 0.001)
    assert parse_override("a=folder:/data") == ("a", "folder:/data")


def test_resolved_preset_round_trips_through_toml():
    preset = load_preset("lenet5_aug")
    document = {k: v for k, v in preset.items() if k != "name"}
    again = validate(tomllib.loads(tomli_w.dumps(document)))
    assert again == document




@pytest.mark.parametrize("text, key_part, allowed_part", BAD_DOCUMENTS)
def test_bad_presets_name_file_key_value_and_what_is_allowed(preset_dir, text, key_part, allowed_part):
    path = write(preset_dir, "bad", text)
    message = error_of(path)
    assert message.startswith(str(path))
    assert key_part in message
    assert allowed_part in message


def test_extends_cycle_and_missing_parent(preset_dir):
    write(preset_dir, "a", 'extends = "b"\n')
    write(preset_dir, "b", 'extends = "a"\n')
    assert "cycle: a -> b -> a" in error_of("a")
    write(preset_dir, "orphan", 'extends = "nowhere"\n')
    message = error_of("orphan")
    assert "orphan.toml: extends = \"nowhere\"" in message and "unknown preset" in message


@pytest.mark.parametrize(
    "override, expected",
    [
        ("optimizer.learning_rate=-1", "--set: optimizer.learning_rate = -1: out of range"),
        ("optimizer.lr=1", "--set: optimizer.lr: unknown key"),
        ("augment.transforms.0.p=2", "--set: augment.transforms.vertical_flip.p = 2"),
        ("nothing", "--set: nothing: expected KEY=VALUE"),
        ("augment.transforms.9.p=0.1", "--set: augment.transforms.9.p = 0.1: no such key"),
    ],
)
def test_bad_overrides_blame_the_override(override, expected):
    assert error_of("lenet5_aug", [override]).startswith(expected)


def test_unknown_preset_suggests_close_names():
    assert "did you mean lenet5" in error_of("lenet")


def test_switching_model_drops_the_old_models_options(preset_dir):
    preset = load_preset("lenet5", ['model.name="resnet"', "model.stages=[16, 32, 64]"])
    assert preset["model"]["name"] == "resnet" and preset["model"]["stages"] == [16, 32, 64] and "batch_norm" not in preset["model"]
    write(preset_dir, "mlp_child", 'extends = "lenet5"\n[model]\nname = "mlp"\nhidden = [10]\n')
    assert load_preset("mlp_child")["model"]["hidden"] == [10]


def test_pretrained_weights_need_imagenet_normalisation():
    message = error_of("vgg16_caltech101", ["data.normalize=dataset"])
    assert message.startswith('--set: data.normalize = "dataset": model.weights = "imagenet" needs "imagenet"')
    assert load_preset("vgg16_caltech101", ["data.normalize=dataset", "model.weights=none"])["data"]["normalize"] == "dataset"


def test_set_reaches_search_space_entries_by_their_quoted_key():
    key = 'search.space."optimizer.learning_rate"'
    preset = load_preset("lenet5_search", [f"{key}.max=0.2"])
    assert preset["search"]["space"]["optimizer.learning_rate"]["max"] == 0.2
    assert error_of("lenet5_search", [f"{key}.max=-1"]).startswith(f"--set: {key}: empty range")


def test_a_bad_inherited_value_is_blamed_on_the_file_that_wrote_it(tmp_path):
    """Files outside the preset path: `extends` finds the sibling first."""
    parent = write(tmp_path, "parent", 'description = "p"\n[optimizer]\nlearning_rate = -1\n[model]\nname = "lenet5"\n')
    child = write(tmp_path, "child", 'extends = "parent"\n[train]\nepochs = 3\n')
    assert error_of(child).startswith(f"{parent}: optimizer.learning_rate = -1")
    fixed = write(tmp_path, "fixed", 'extends = "child"\n[optimizer]\nlearning_rate = -2\n')
    assert error_of(fixed).startswith(f"{fixed}: optimizer.learning_rate = -2")
    assert error_of(fixed, ["optimizer.learning_rate=-3"]).startswith("--set: optimizer.learning_rate = -3")
    assert load_preset(str(fixed), ["optimizer.learning_rate=0.1"])["train"]["epochs"] == 3


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ([], {"epochs": 15, "val_accuracy": 0.44}),
        (["optimizer.learning_rate=0.5"], {"epochs": 15, "val_accuracy": 0.374}),
        (["optimizer.learning_rate=0.01"], {"epochs": 15, "val_accuracy": 0.414}),
        (["optimizer.learning_rate=0.2"], {"epochs": 15, "val_accuracy": 0.44}),  # no variant: the preset's own
    ],
)
def test_reference_figures_follow_the_variant_a_run_trains(overrides, expected):
    assert load_preset("mobilenet_cifar100_constant", overrides)["reference"] == expected


def test_reference_variants_are_checked():
    assert error_of("mobilenet_cifar100_constant", ["reference.variants.0.when.x=1"]).startswith(
        "--set: reference.variants.0.when.x: not a key of this preset"
    )
    assert "expected a finite" not in error_of("lenet5", ["reference.x=[1]"])
    assert error_of("lenet5", ["reference.x=nan"]).endswith("expected a number or a string (a finite one)")
    assert "at most 2,147,483,647" in error_of("lenet5", ["train.epochs=100000000000000000000"])


def test_a_preset_can_extend_a_bundled_one_of_its_own_name(tmp_path):
    mine = write(tmp_path, "lenet5", 'extends = "lenet5"\n[optimizer]\nlearning_rate = 0.02\n')
    preset = load_preset(str(mine))
    assert preset["optimizer"]["learning_rate"] == 0.02 and preset["optimizer"]["momentum"] == 0.9


def test_an_unknown_section_in_a_parent_is_blamed_on_the_parent(tmp_path):
    parent = write(tmp_path, "parent", "[optim]\nlr = 1\n")
    child = write(tmp_path, "child", 'extends = "parent"\n')
    assert error_of(child).startswith(f"{parent}: optim: unknown section")


def test_written_presets_hold_paths_that_work_from_any_directory(tmp_path, monkeypatch):
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "test").mkdir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "base.toml").write_text('extends = "lenet5"\n')
    monkeypatch.chdir(tmp_path)
    preset = load_preset("mine/base.toml", ["data.source=folder:data/../data", "data.train_list=train.txt"])
    text = preset_toml({"extends": "mine/base.toml", **preset}, "# made here\n")
    assert text.startswith("# made here\n")
    written = tomllib.loads(text)
    assert written["data"]["source"] == f"folder:{tmp_path / 'data'}"
    assert written["data"]["train_list"] == "train.txt"  # read from the folder, so it stays relative
    assert written["extends"] == str(tmp_path / "mine" / "base.toml")
    assert preset["data"]["source"] == "folder:data/../data"  # the preset itself is left as it was
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "exported.toml").write_text(text)
    monkeypatch.chdir(elsewhere)
    reloaded = load_preset("exported.toml")
    check_folder(reloaded["data"]["source"].removeprefix("folder:"))


def test_portable_leaves_tfds_sources_absolute_paths_and_preset_names_alone(tmp_path):
    document = {"extends": "lenet5", "data": {"source": "tfds:cifar10"}}
    assert portable(document) == document
    absolute = {"data": {"source": f"folder:{tmp_path}"}}
    assert portable(absolute) == absolute
    assert portable({"optimizer": {"learning_rate": 0.1}}) == {"optimizer": {"learning_rate": 0.1}}
