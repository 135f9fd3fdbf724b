"""A preset written for one dataset, run on a folder it was not written for: a validation count larger
than the data allows is capped with a warning, an excluded class the folder lacks is a warning, class
names match in any case, and all of it is decided from the directory listing, before any image is
decoded (the folders here hold files that are not images at all)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from kerashp.cli import main as kerashp_main
from kerashp.config import load_preset
from kerashp.data import check_preset_data
from kerashp.data.classes import DataWarning
from kerashp.data.glance import preset_input
from kerashp.data.split import validation_count
from kerashp.errors import DataError


def undecodable_folder(root: Path, classes: list[str], train_per_class: int) -> Path:
    """An ImageFolder whose 'images' are text: anything that decodes one fails."""
    for split, count in (("train", train_per_class), ("test", 1)):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                (folder / f"{index}.png").write_text("not an image")
    return root


TEN = [f"class{i}" for i in range(10)]


def test_a_validation_count_is_capped_at_a_fifth_and_at_least_one_per_class_when_stratified():
    assert validation_count(50_000, 5000) == 5000 and validation_count(50_000, 10_000) == 10_000  # as written for
    capped = r"data.validation = 5000: using 1000 validation images \(a count takes at most a fifth of the 5000"
    with pytest.warns(DataWarning, match=capped):
        assert validation_count(5000, 5000) == 1000
    with pytest.warns(DataWarning):
        assert validation_count(20, 5000, classes=10) == 10  # stratified: one per class, not a fifth (4)
    with pytest.warns(DataWarning):
        assert validation_count(3, 5000, classes=10) == 2  # one training image always remains
    assert validation_count(20, 0.5) == 10  # a fraction is taken as given


def test_the_quick_check_caps_the_validation_count_without_decoding_an_image(tmp_path):
    source = undecodable_folder(tmp_path / "d", TEN, train_per_class=2)
    with pytest.warns(DataWarning, match="data.validation = 5000: using 4 validation images"):
        check_preset_data(load_preset("mlp_cifar10", [f"data.source=folder:{source}"]))  # random split: 20 // 5
    with pytest.warns(DataWarning, match="data.validation = 5000: using 10 validation images"):
        check_preset_data(load_preset("mlp_cifar10", [f"data.source=folder:{source}", "data.split=stratified"]))
    with pytest.raises(DataError, match="data.validation = 0.99: leaves no training images"):
        check_preset_data(load_preset("lenet5", [f"data.source=folder:{source}", "data.validation=0.99"]))


def test_an_excluded_class_the_folder_lacks_is_a_warning_and_the_class_count_comes_from_the_data(tmp_path):
    source = undecodable_folder(tmp_path / "d", TEN, train_per_class=2)
    caltech = load_preset("alexnet_caltech101", [f"data.source=folder:{source}"])
    lacking = r"data.exclude_classes: background_google not in folder:.* \(10 classes: class0, class1"
    with pytest.warns(DataWarning, match=lacking):
        check_preset_data(caltech)
    with pytest.warns(DataWarning):
        assert preset_input(caltech) == ((224, 224, 3), 10)  # not 10 - 1


def test_class_names_match_in_any_case_and_an_ambiguous_or_total_exclusion_is_refused(tmp_path):
    source = undecodable_folder(tmp_path / "d", ["BACKGROUND_Google", "Faces_easy", "accordion"], train_per_class=5)
    caltech = load_preset("alexnet_caltech101", [f"data.source=folder:{source}"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # background_google is BACKGROUND_Google: nothing to warn of
        check_preset_data(caltech)
        assert preset_input(caltech)[1] == 2
    every_class = "data.exclude_classes=['background_google', 'FACES_EASY', 'Accordion']"
    everything = load_preset("lenet5", [f"data.source=folder:{source}", every_class])
    with pytest.raises(DataError, match="data.exclude_classes: leaves no classes of folder:"):
        check_preset_data(everything)
    both = undecodable_folder(tmp_path / "e", ["Cat", "cat", "dog"], train_per_class=2)
    with pytest.raises(DataError, match="'CAT' matches Cat, cat in folder:.*; write one exactly"):
        check_preset_data(load_preset("lenet5", [f"data.source=folder:{both}", "data.exclude_classes=['CAT']"]))
    exact = load_preset("lenet5", [f"data.source=folder:{both}", "data.exclude_classes=['cat']"])
    check_preset_data(exact)  # an exact match wins


def test_the_cli_says_each_adaptation_in_one_line_before_it_reads_an_image(tmp_path, capsys):
    source = undecodable_folder(tmp_path / "d", TEN, train_per_class=2)
    args = ["train", "--preset", "alexnet_caltech101", "--set", f"data.source=folder:{source}",
            "--set", "data.validation=5000", "--runs-dir", str(tmp_path / "runs")]  # fmt: skip
    assert kerashp_main(args) == 2  # the first image fails to decode, after the warnings
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("kerashp: warning: data.exclude_classes: background_google not in folder:")
    assert lines[1] == (
        "kerashp: warning: data.validation = 5000: using 10 validation images (a count takes at most a fifth "
        "of the 20 training images, and at least one per class when stratified)"
    )
    assert lines[2].startswith("kerashp: error: ") and "cannot decode image" in lines[2] and len(lines) == 3
