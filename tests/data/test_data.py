"""Dataset sources (folder and the real tfds reading path on mock data), splits, normalisation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CLASSES, write_image_folder
from PIL import Image

from kerashp.config import load_preset
from kerashp.data import load_dataset
from kerashp.data.classes import DataWarning
from kerashp.data.normalize import channel_stats, normalization
from kerashp.data.split import preset_split, split_indices
from kerashp.errors import DataError


def test_folder_source_reads_classes_splits_and_pixels(tiny_folder):
    dataset = load_dataset(f"folder:{tiny_folder}")
    assert dataset.class_names == list(CLASSES)
    assert dataset.train.images.shape == (48, 32, 32, 3) and dataset.train.images.dtype == np.uint8
    assert dataset.test.images.shape == (16, 32, 32, 3)
    assert np.bincount(dataset.train.labels).tolist() == [12] * 4
    # class 0 is red-dominant in the generated data
    assert dataset.train.images[dataset.train.labels == 0][..., 0].mean() > 100


def test_folder_source_resizes_when_asked(tiny_folder):
    dataset = load_dataset(f"folder:{tiny_folder}", image_size=[20, 24])
    assert dataset.train.images.shape[1:] == (20, 24, 3)


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        load_dataset(f"folder:{tmp_path / 'missing'}")
    root = write_image_folder(tmp_path / "broken", train_per_class=2, test_per_class=1)
    (root / "train" / "cat" / "0000.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"cat/0000.png: cannot decode image"):
        load_dataset(f"folder:{root}")
    empty = write_image_folder(tmp_path / "empty", train_per_class=2, test_per_class=1)
    (empty / "train" / "bird").mkdir()
    with pytest.raises(DataError, match="bird: empty class folder"):
        load_dataset(f"folder:{empty}")


def test_tfds_source_reads_through_data_source_on_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        dataset = load_dataset("tfds:cifar10")
    assert dataset.train.images.shape == (12, 32, 32, 3)
    assert dataset.num_classes == 10 and len(dataset.class_names) == 10
    assert dataset.train.labels.max() < 10


def test_unknown_tfds_name_is_one_clear_line():
    with pytest.raises(DataError, match="tfds:cifar1000: no such tfds dataset"):
        load_dataset("tfds:cifar1000")


def test_unprepared_tfds_dataset_says_how_to_prepare_it(tmp_path, monkeypatch):
    """Hermetic: every download goes through a proxy that refuses at once (the probe before preparing
    honours the proxy variables, as the download would), so nothing is ever fetched."""
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):  # a bypass would send the probe straight to the real host
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DataError) as caught:
        load_dataset("tfds:mnist")
    message = str(caught.value)
    assert "cannot be reached" in message and "\n" not in message
    assert "kerashp data prepare mnist` on a connected machine" in message and "folder:PATH" in message
    assert not any(tmp_path.iterdir())  # nothing downloaded, nothing half-prepared


@pytest.mark.parametrize("mode", ["random", "stratified"])
def test_splits_are_reproducible_and_disjoint(mode):
    labels = np.repeat(np.arange(5), 20)
    train_a, val_a = split_indices(labels, 0.2, mode, seed=3)
    train_b, val_b = split_indices(labels, 0.2, mode, seed=3)
    assert np.array_equal(val_a, val_b) and np.array_equal(train_a, train_b)
    assert len(val_a) == 20 and not set(train_a) & set(val_a) and len(train_a) + len(val_a) == 100
    _, other = split_indices(labels, 0.2, mode, seed=4)
    assert not np.array_equal(val_a, other)


def test_split_seed_pins_the_split_while_the_seed_varies():
    labels = np.repeat(np.arange(5), 20)
    seeded = [load_preset("lenet5", [f"seed={seed}"]) for seed in (0, 1000)]
    pinned = [load_preset("lenet5", [f"seed={seed}", "data.split_seed=7"]) for seed in (0, 1000)]
    assert not np.array_equal(preset_split(seeded[0], labels)[1], preset_split(seeded[1], labels)[1])
    assert np.array_equal(preset_split(pinned[0], labels)[1], preset_split(pinned[1], labels)[1])
    assert np.array_equal(preset_split(pinned[0], labels)[1], split_indices(labels, 0.1, "random", 7)[1])


def test_stratified_split_keeps_class_proportions_and_counts_work():
    labels = np.concatenate([np.zeros(60, int), np.ones(30, int), np.full(10, 2)])
    _, val = split_indices(labels, 10, "stratified", seed=0)
    assert np.bincount(labels[val]).tolist() == [6, 3, 1]


def test_a_validation_count_larger_than_the_data_allows_is_capped_and_a_fraction_leaving_nothing_refused():
    with pytest.warns(DataWarning, match="data.validation = 10: using 2 validation images"):
        train, val = split_indices(np.zeros(10, int), 10, "random", 0)
    assert len(val) == 2 and len(train) == 8
    with pytest.raises(DataError, match="leaves no training images"):
        split_indices(np.zeros(2, int), 0.9, "random", 0)


def test_channel_stats_match_numpy():
    images = np.random.default_rng(0).integers(0, 256, (50, 8, 8, 3), dtype=np.uint8)
    mean, std = channel_stats(images)
    scaled = images / 255.0
    assert np.allclose(mean, scaled.mean(axis=(0, 1, 2))) and np.allclose(std, scaled.std(axis=(0, 1, 2)))
    fixed = normalization({"normalize": "fixed", "mean": [0.1, 0.2, 0.3], "std": [1, 2, 3]}, images)
    assert fixed[0].tolist() == pytest.approx([0.1, 0.2, 0.3])


def test_split_lists_assign_classes_from_the_first_folder(tmp_path):
    root = tmp_path / "caltech"
    for name in ("airplanes", "faces"):
        (root / name).mkdir(parents=True)
        for index in range(3):
            Image.fromarray(np.full((20, 30, 3), 40 * index, np.uint8)).save(root / name / f"{index}.jpg")
    (root / "train.txt").write_text("airplanes/0.jpg\nairplanes/1.jpg\nfaces/0.jpg\n# comment\n\nfaces/1.jpg\n")
    (root / "test.txt").write_text("airplanes/2.jpg\nfaces/2.jpg\n")
    dataset = load_dataset(f"folder:{root}", split_lists=("train.txt", "test.txt"))
    assert dataset.class_names == ["airplanes", "faces"]
    assert dataset.train.labels.tolist() == [0, 0, 1, 1] and dataset.test.labels.tolist() == [0, 1]
    assert dataset.train.images.shape == (4, 20, 30, 3)
    (root / "test.txt").write_text("faces/9.jpg\n")
    with pytest.raises(DataError, match=r"test.txt:1: faces/9.jpg: no such file"):
        load_dataset(f"folder:{root}", split_lists=("train.txt", "test.txt"))


def test_grayscale_and_odd_sizes(tmp_path):
    root = tmp_path / "odd"
    for split in ("train", "test"):
        for name, size in (("a", (17, 23)), ("b", (40, 9))):
            (root / split / name).mkdir(parents=True)
            Image.fromarray(np.full(size, 200, np.uint8), mode="L").save(root / split / name / "x.png")
    with pytest.raises(DataError, match="differs from.*set data.image_size"):
        load_dataset(f"folder:{root}")
    dataset = load_dataset(f"folder:{root}", image_size=[16, 16])
    assert dataset.train.images.shape == (2, 16, 16, 3) and dataset.train.images.max() == 200


def test_sixteen_bit_grayscale_keeps_its_range(tmp_path):
    root = tmp_path / "deep"
    for split in ("train", "test"):
        for name, level in (("dark", 0x1000), ("bright", 0xF000)):
            (root / split / name).mkdir(parents=True)
            Image.fromarray(np.full((8, 8), level, np.uint16)).save(root / split / name / "x.png")
    dataset = load_dataset(f"folder:{root}")
    assert sorted(np.unique(dataset.train.images)) == [0x10, 0xF0]  # not both clipped to 255


def test_streamed_folder_decodes_per_batch_and_matches_memory(tiny_folder):
    from kerashp.data.lazy import LazyImages

    memory = load_dataset(f"folder:{tiny_folder}", cache="memory")
    streamed = load_dataset(f"folder:{tiny_folder}", cache="stream")
    assert isinstance(streamed.train.images, LazyImages)
    picked = np.array([3, 0, 47])
    assert np.array_equal(streamed.train.images[picked], memory.train.images[picked])
    subset = streamed.train.subset(np.array([5, 6]))
    assert isinstance(subset.images, LazyImages) and np.array_equal(subset.images[0:2], memory.train.images[5:7])
    assert np.allclose(channel_stats(streamed.train.images)[0], channel_stats(memory.train.images)[0])


def test_excluding_a_class_renumbers_the_rest(tiny_folder):
    dataset = load_dataset(f"folder:{tiny_folder}").without_classes(["dog"])
    assert dataset.class_names == ["cat", "frog", "ship"]
    assert sorted(set(dataset.train.labels.tolist())) == [0, 1, 2] and len(dataset.train) == 36
    with pytest.warns(DataWarning, match="Bird not in"):  # any case matches; a class the data lacks is a warning
        dataset = load_dataset(f"folder:{tiny_folder}").without_classes(["Bird", "DOG"])
    assert dataset.class_names == ["cat", "frog", "ship"]
