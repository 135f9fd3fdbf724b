"""Bad data: corrupt or truncated images, broken folder layouts, broken split lists, mixed image
sizes, tfds datasets that are missing or misnamed. Each must end in one clear line naming the
problem (the file, where there is one) and exit code 2, with no traceback, and never leave a run
that looks complete.

A handful of cases go through the real `kerashp train` in a subprocess (the CLI prints a
`DataError` as `kerashp: error: <message>`); the rest check the same `DataError` in-process,
which is the path the CLI takes, at a fraction of the cost of importing torch each time.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerashp.data import load_dataset
from kerashp.errors import DataError

pytestmark = pytest.mark.e2e

# any download attempt fails at once instead of reaching (or waiting on) the network
NO_NETWORK = {name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}


# ------------------------------------------------------------------------------------------ helpers


def kerashp(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    environment = dict(os.environ, COLUMNS="200", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "kerashp.cli", *args], capture_output=True, text=True, timeout=timeout, env=environment
    )


def train(
    source: str, runs: Path, *sets: str, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    extra = [arg for value in sets for arg in ("--set", value)]
    return kerashp(
        "train", "--preset", "lenet5", "--set", f"data.source={source}", "--set", "train.epochs=1",
        "--set", "train.batch_size=8", "--set", "data.validation=8", *extra, "--runs-dir", str(runs),
        env=env, timeout=timeout,
    )


def assert_one_line_exit_2(result: subprocess.CompletedProcess, *fragments: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr + result.stdout
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith("kerashp: error: ") and all(f in lines[0] for f in fragments), lines[0]
    return lines[0]


def assert_no_run_looks_complete(runs: Path) -> None:
    """Any run directory left behind says `failed`, and `kerashp runs` lists it so."""
    made = [p for p in runs.iterdir() if p.is_dir()] if runs.exists() else []
    for run in made:
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "failed" and "DataError" in summary["error"], summary
        assert not (run / "checkpoints" / "best.keras").exists()
    listing = kerashp("runs", "--runs-dir", str(runs))
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count("failed") == len(made) and "completed" not in listing.stdout, listing.stdout


def dataset_copy(tiny_folder: Path, tmp_path: Path) -> Path:
    """A private copy of the session's tiny ImageFolder dataset (4 classes, 12 train / 4 test each)."""
    return Path(shutil.copytree(tiny_folder, tmp_path / "data"))


def load_error(source: str, **options) -> str:
    """The DataError loading `source` raises, touching every image even when they are streamed."""
    with pytest.raises(DataError) as caught:
        dataset = load_dataset(source, **options)
        for part in (dataset.train, dataset.test):
            part.images[np.arange(len(part))]
    message = str(caught.value)
    assert "\n" not in message and message.strip() == message, message
    return message


def corrupt(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(0).bytes(700))
    return path


def truncated(path: Path, suffix: str) -> Path:
    image = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(image).save(path.with_suffix(suffix))
    data = path.with_suffix(suffix).read_bytes()
    path.with_suffix(suffix).write_bytes(data[: len(data) // 2])
    return path.with_suffix(suffix)


def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid PNG signature and header that claims `width` x `height` pixels, and no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


# -------------------------------------------------------------------------------- the real CLI


@pytest.mark.parametrize("cache", ["auto", "stream"])
def test_a_corrupt_image_stops_the_cli_with_one_line_naming_it(cache, tiny_folder, tmp_path, tally):
    """In memory mode the file fails while loading; streamed, it fails inside Keras fit's generator
    threads, and must still surface as the same one line."""
    root = dataset_copy(tiny_folder, tmp_path)
    bad = corrupt(root / "train" / "dog" / "zz-broken.jpg")  # sorts last: never the probe image
    runs = tmp_path / "runs"
    result = train(f"folder:{root}", runs, f'data.cache="{cache}"')
    line = assert_one_line_exit_2(result, str(bad), "cannot decode image")
    assert line.count(str(bad)) == 1
    assert_no_run_looks_complete(runs)
    tally("bad data cases tried")


def test_an_empty_class_folder_stops_the_cli_with_one_line(tiny_folder, tmp_path, tally):
    root = dataset_copy(tiny_folder, tmp_path)
    (root / "train" / "bird").mkdir()
    runs = tmp_path / "runs"
    assert_one_line_exit_2(train(f"folder:{root}", runs), f"{root / 'train' / 'bird'}: empty class folder")
    assert_no_run_looks_complete(runs)
    tally("bad data cases tried")


def test_an_unprepared_tfds_dataset_offline_says_how_to_prepare_it_and_never_hangs(tmp_path, tally):
    """The download host is probed before the prepare subprocess starts: one line, at once, saying
    the host cannot be reached and what to do instead (tfds's own downloader retries for minutes)."""
    runs = tmp_path / "runs"
    empty = tmp_path / "tfds"
    empty.mkdir()
    result = train("tfds:cifar10", runs, env={"TFDS_DATA_DIR": str(empty), **NO_NETWORK}, timeout=90)
    line = assert_one_line_exit_2(
        result, f"tfds:cifar10: not prepared in {empty}, and www.cs.toronto.edu cannot be reached",
        "--set data.source=folder:PATH", f"copy its ~/tensorflow_datasets to {empty}",
    )
    assert "Downloading and preparing" not in result.stderr and "preparing it failed" not in line
    assert_no_run_looks_complete(runs)
    tally("bad data cases tried")


# ----------------------------------------------------------------------------- image files


@pytest.mark.parametrize("cache", ["auto", "stream"])
@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda d: corrupt(d / "zz.jpg"), "cannot decode image (not a format PIL recognises"),
        (lambda d: truncated(d / "zz", ".png"), "cannot decode image (OSError"),
        (lambda d: truncated(d / "zz", ".jpg"), "cannot decode image (OSError"),
        (lambda d: empty_file(d / "zz.png"), "cannot decode image (not a format PIL recognises"),
        (lambda d: png_header_only(d / "zz.png", 100_000, 100_000), "DecompressionBombError"),
        (lambda d: png_header_only(d / "zz.png", 32, 32), "cannot decode image (OSError"),
    ],
    ids=["random-bytes-jpg", "truncated-png", "truncated-jpeg", "empty-file", "claims-1e10-pixels", "no-pixel-data"],
)
def test_an_unreadable_image_is_one_line_naming_the_file(make, problem, cache, tiny_folder, tmp_path, tally):
    root = dataset_copy(tiny_folder, tmp_path)
    bad = make(root / "train" / "frog")
    message = load_error(f"folder:{root}", cache=cache)
    assert message.startswith(f"{bad}: ") and problem in message and message.count(str(bad)) == 1, message
    tally("bad data cases tried")


@pytest.mark.parametrize("cache", ["auto", "stream"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_mixed_image_sizes_without_image_size_say_how_to_resize(split, cache, tiny_folder, tmp_path, tally):
    root = dataset_copy(tiny_folder, tmp_path)
    odd = root / split / "ship" / "zz-tall.png"
    Image.fromarray(np.zeros((40, 30, 3), np.uint8)).save(odd)
    message = load_error(f"folder:{root}", cache=cache)
    assert message.startswith(f"{odd}: image size (40, 30) differs from (32, 32)") and "data.image_size" in message
    tally("bad data cases tried")
    assert load_dataset(f"folder:{root}", image_size=[32, 32]).train.images.shape[1:] == (32, 32, 3)


@pytest.mark.parametrize("cache", ["auto", "stream"])
def test_test_images_of_another_size_than_train_fail_before_training(cache, tiny_folder, tmp_path, tally):
    """Each split is the same size within itself, so only comparing the two catches it (otherwise
    the run trains, then fails evaluating the test set with a shape error)."""
    root = dataset_copy(tiny_folder, tmp_path)
    for path in (root / "test").glob("*/*.png"):
        Image.open(path).resize((24, 24)).save(path)
    message = load_error(f"folder:{root}", cache=cache)
    assert message.startswith(f"{root / 'test' / 'cat' / '0000.png'}: image size (24, 24) differs from (32, 32)")
    tally("bad data cases tried")


# ----------------------------------------------------------------------------- folder layout


def empty_class(root: Path) -> tuple[Path, str]:
    (root / "train" / "bird").mkdir()
    return root, f"{root / 'train' / 'bird'}: empty class folder"


def class_only_in_test(root: Path) -> tuple[Path, str]:
    (root / "test" / "bird").mkdir()
    return root, f"{root / 'test' / 'bird'}: class 'bird' is not in train/ (classes: cat, dog, frog, ship)"


def no_train(root: Path) -> tuple[Path, str]:
    shutil.rmtree(root / "train")
    return root, f"folder:{root}: missing 'train/' subfolder"


def no_test(root: Path) -> tuple[Path, str]:
    shutil.rmtree(root / "test")
    return root, f"folder:{root}: missing 'test/' subfolder"


def empty_test(root: Path) -> tuple[Path, str]:
    for folder in (root / "test").iterdir():
        shutil.rmtree(folder)
        folder.mkdir()
    return root, f"{root / 'test'}: no images in any class folder"


def no_class_folders(root: Path) -> tuple[Path, str]:
    for folder in (root / "train").iterdir():
        shutil.rmtree(folder)
    return root, f"{root / 'train'}: no class subfolders"


def images_without_classes(root: Path) -> tuple[Path, str]:
    flat = root.parent / "flat"
    (flat / "train").mkdir(parents=True)
    (flat / "test").mkdir()
    shutil.copy(root / "train" / "cat" / "0000.png", flat / "train" / "0000.png")
    return flat, f"{flat / 'train'}: no class subfolders"


def source_is_a_file(root: Path) -> tuple[Path, str]:
    path = root / "train" / "cat" / "0000.png"
    return path, f"folder:{path}: no such directory"


LAYOUT_CASES = [empty_class, class_only_in_test, no_train, no_test, empty_test, no_class_folders]
LAYOUT_CASES += [images_without_classes, source_is_a_file]


@pytest.mark.parametrize("make", LAYOUT_CASES)
def test_a_broken_folder_layout_is_one_line(make, tiny_folder, tmp_path, tally):
    root, expected = make(dataset_copy(tiny_folder, tmp_path))
    message = load_error(f"folder:{root}")
    assert message.startswith(expected), message
    tally("bad data cases tried")


def test_a_folder_named_like_an_image_is_skipped_not_decoded(tiny_folder, tmp_path):
    root = dataset_copy(tiny_folder, tmp_path)
    (root / "train" / "cat" / "album.jpg").mkdir()
    assert len(load_dataset(f"folder:{root}").train) == 48


# ------------------------------------------------------------------------------- split lists


def listed_folder(tiny_folder: Path, tmp_path: Path) -> Path:
    """`PATH/<class>/*.png` with train.txt and test.txt listing the images, one path per line."""
    root = Path(shutil.copytree(tiny_folder / "train", tmp_path / "listed"))
    names = sorted(f"{p.parent.name}/{p.name}" for p in root.glob("*/*.png"))
    (root / "train.txt").write_text("".join(f"{n}\n" for n in names if not n.endswith("0000.png")))
    (root / "test.txt").write_text("".join(f"{n}\n" for n in names if n.endswith("0000.png")))
    return root


SPLIT_LIST_CASES = {
    "listed file missing": (("train.txt", "test.txt"), "cat/9999.png\n", "train.txt:1: cat/9999.png: no such file"),
    "first folder not a class": (
        ("train.txt", "test.txt"), "cat/0001.png\nbird/0001.png\n",
        "train.txt:2: bird/0001.png: first folder is not a class (cat, dog, frog, ship)",
    ),
    "list file missing": (("train.txt", "gone.txt"), None, "gone.txt: cannot read split list (No such file"),
    "list is a folder": (("cat", "test.txt"), None, "cat: cannot read split list (Is a directory)"),
    "empty list": (("train.txt", "test.txt"), "\n# nothing here\n\n", "train.txt: lists no images"),
    "binary list": (("train.txt", "test.txt"), b"\xff\xfe\x00c\x00a\x00t", "train.txt: not a text file of paths"),
    "only train_list": (("train.txt", ""), None, "data.train_list and data.test_list: set both or neither"),
    "only test_list": (("", "test.txt"), None, "data.train_list and data.test_list: set both or neither"),
}


@pytest.mark.parametrize("case", list(SPLIT_LIST_CASES))
def test_a_broken_split_list_is_one_line_naming_the_list_and_line(case, tiny_folder, tmp_path, tally):
    lists, train_text, expected = SPLIT_LIST_CASES[case]
    root = listed_folder(tiny_folder, tmp_path)
    if isinstance(train_text, bytes):
        (root / "train.txt").write_bytes(train_text)
    elif train_text is not None:
        (root / "train.txt").write_text(train_text)
    message = load_error(f"folder:{root}", split_lists=lists)
    assert message.startswith(expected if expected.startswith("data.") else f"{root}/{expected}"), message
    tally("bad data cases tried")


def test_a_split_list_without_class_folders_is_one_line(tiny_folder, tmp_path, tally):
    root = tmp_path / "flat"
    root.mkdir()
    shutil.copy(tiny_folder / "train" / "cat" / "0000.png", root / "0000.png")
    (root / "train.txt").write_text("0000.png\n")
    (root / "test.txt").write_text("0000.png\n")
    assert load_error(f"folder:{root}", split_lists=("train.txt", "test.txt")) == (
        f"{root}: no class subfolders (expected {root}/<class>/*.jpg)"
    )
    tally("bad data cases tried")


# -------------------------------------------------------------------------------------- tfds


@pytest.mark.parametrize(
    "name, expected",
    [
        ("cifar1000", "tfds:cifar1000: no such tfds dataset"),
        ("mnist/bogus", "tfds:mnist/bogus: BuilderConfig bogus not found"),
        ("mnist:9.9.9", "tfds:mnist:9.9.9: Dataset mnist cannot be loaded at version 9.9.9"),
        ("../mnist", "tfds:../mnist: Parsing builder name string ../mnist failed"),
        ("imdb_reviews", "tfds:imdb_reviews: not an image classification dataset"),
    ],
)
def test_a_wrong_tfds_name_is_one_line(name, expected, tmp_path, monkeypatch, tally):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    assert load_error(f"tfds:{name}").startswith(expected)
    tally("bad data cases tried")


def test_a_tfds_dataset_of_mixed_image_sizes_says_how_to_resize(tmp_path, monkeypatch, tally):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with tfds.testing.mock_data(num_examples=6):  # caltech101's images have no fixed size
        message = load_error("tfds:caltech101")
        assert load_dataset("tfds:caltech101", image_size=[24, 24]).train.images.shape == (6, 24, 24, 3)
    assert message.startswith("tfds:caltech101 train example ") and "set data.image_size" in message
    tally("bad data cases tried")


def test_a_prepared_tfds_dataset_without_a_test_split_is_one_line(tmp_path, monkeypatch, tally):
    tfds = pytest.importorskip("tensorflow_datasets")
    from kerashp.data.sources import tfds as tfds_source

    def data_source(*args, **kwargs):
        raise ValueError('Unknown split "test". Should be one of [\'train\'].\nMore detail on a second line')

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(tfds_source, "prepare", lambda name: None)  # as if it were prepared already
    monkeypatch.setattr(tfds, "data_source", data_source)
    message = load_error("tfds:cifar10")
    assert message.startswith(f"tfds:cifar10: prepared in {tmp_path} but its train and test splits cannot be read")
    assert 'Unknown split "test"' in message and "More detail" not in message
    tally("bad data cases tried")
