"""The tfds source on `tfds.testing.mock_data`: class names after preparing on first use,
streaming (`data.cache`), the prepare subprocess's progress reaching the user, the download-host
probe that fails fast offline, and builders of one's own named in $KERASHP_TFDS_MODULES."""

from __future__ import annotations

import pickle
import socket
import threading
import time

import numpy as np
import pytest

from kerashp.data import load_dataset
from kerashp.data.lazy import LazyImages
from kerashp.errors import DataError

tfds = pytest.importorskip("tensorflow_datasets")

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_prepared_info(data_dir, name: str, class_names: list[str], examples: int) -> None:
    """What preparing leaves beside the records: dataset_info.json with the real class names and
    splits (mock_data reads it from `data_dir` and generates the records themselves)."""
    builder = tfds.builder(name, data_dir=str(data_dir))
    builder.info.features["label"].names = class_names
    builder.info.set_splits(
        tfds.core.SplitDict(
            [tfds.core.SplitInfo(name=s, shard_lengths=[examples], num_bytes=0) for s in ("train", "test")]
        )
    )
    builder.data_path.mkdir(parents=True, exist_ok=True)
    builder.info.write_to_directory(builder.data_path)


def test_class_names_come_from_the_dataset_prepared_on_first_use(tmp_path, monkeypatch):
    from kerashp.data.sources import tfds as tfds_source

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    # the premise: before preparing, cifar10's builder knows only placeholder names
    assert tfds.builder("cifar10", data_dir=str(tmp_path)).info.features["label"].names[:2] == ["0", "1"]
    prepared: list[str] = []
    real_data_source = tfds.data_source

    def data_source(*args, **kwargs):
        if not prepared:
            raise FileNotFoundError("no array_record files")  # what tfds says for an unprepared dataset
        return real_data_source(*args, **kwargs)

    def prepare(name: str) -> None:  # what the prepare subprocess leaves on disk
        write_prepared_info(tmp_path, name, CIFAR10_NAMES, examples=6)
        prepared.append(name)

    monkeypatch.setattr(tfds, "data_source", data_source)
    monkeypatch.setattr(tfds_source, "prepare", prepare)
    with tfds.testing.mock_data(num_examples=6, data_dir=str(tmp_path)):
        dataset = load_dataset("tfds:cifar10")
    assert prepared == ["cifar10"]
    assert dataset.class_names == CIFAR10_NAMES
    assert dataset.train.images.shape == (6, 32, 32, 3)


def test_class_names_of_an_already_prepared_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    write_prepared_info(tmp_path, "cifar10", CIFAR10_NAMES, examples=4)
    with tfds.testing.mock_data(num_examples=4, data_dir=str(tmp_path)):
        assert load_dataset("tfds:cifar10").class_names == CIFAR10_NAMES


def test_streamed_and_in_memory_tfds_give_identical_arrays():
    with tfds.testing.mock_data(num_examples=10):
        memory = load_dataset("tfds:mnist", image_size=[16, 16], cache="memory")
        streamed = load_dataset("tfds:mnist", image_size=[16, 16], cache="stream")
        assert isinstance(streamed.train.images, LazyImages) and isinstance(streamed.test.images, LazyImages)
        assert not isinstance(memory.train.images, LazyImages)
        assert streamed.train.images.shape == memory.train.images.shape == (10, 16, 16, 3)
        for part in ("train", "test"):
            lazy, held = getattr(streamed, part), getattr(memory, part)
            assert np.array_equal(lazy.images[np.arange(10)], held.images)
            assert np.array_equal(lazy.labels, held.labels)
        picked = np.array([7, 2])
        assert np.array_equal(streamed.train.subset(picked).images[0:2], memory.train.images[picked])
        # workers with use_multiprocessing get the streamed images by pickling
        assert np.array_equal(pickle.loads(pickle.dumps(streamed.train.images))[[3]], memory.train.images[[3]])


def test_auto_streams_tfds_datasets_over_the_threshold(monkeypatch):
    from kerashp.data import lazy

    with tfds.testing.mock_data(num_examples=4):
        assert not isinstance(load_dataset("tfds:cifar10").train.images, LazyImages)
        monkeypatch.setattr(lazy, "STREAM_ABOVE_BYTES", 32 * 32 * 3 * 7)  # 8 images of 3 KiB are more
        assert isinstance(load_dataset("tfds:cifar10").train.images, LazyImages)


def test_a_streamed_image_of_the_wrong_size_names_the_example():
    with tfds.testing.mock_data(num_examples=3):
        streamed = load_dataset("tfds:caltech101", image_size=[24, 24], cache="stream")
        assert streamed.train.images[[0, 2]].shape == (2, 24, 24, 3)
        # caltech101's mock images differ in size: the first odd one is named, when loading or in a batch
        odd_one = r"tfds:caltech101 (train|test) example \d+: image size .* set data.image_size"
        with pytest.raises(DataError, match=odd_one):
            load_dataset("tfds:caltech101", cache="stream").train.images[np.arange(3)]


def test_preparing_shows_the_subprocess_progress_and_fails_in_one_line(tmp_path, monkeypatch, capfd):
    """A stand-in `tensorflow` that prints a tfds-style progress bar and then cannot be imported:
    the bar must reach our stderr while it runs, the failure must come back as one line."""
    from kerashp.data.sources import tfds as tfds_source

    monkeypatch.setattr(tfds_source, "unreachable_hosts", lambda urls: [])  # as if online
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'import sys\nsys.stderr.write("Dl Completed...: 50%|#####     | 1/2\\r")\nraise ImportError("simulated")\n'
    )
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    with pytest.raises(DataError) as caught:
        tfds_source.prepare("mnist")
    stderr = capfd.readouterr().err
    assert f"preparing tfds:mnist in {tmp_path / 'tfds'}" in stderr and "Dl Completed...: 50%" in stderr
    message = str(caught.value)
    assert "preparing it failed (TensorFlow is not installed" in message and "\n" not in message


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_the_probe_tells_a_listening_host_from_a_closed_one(no_proxy):
    from kerashp.data.sources.tfds import unreachable_hosts

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert unreachable_hosts([f"http://127.0.0.1:{port}/a.tar", f"http://127.0.0.1:{port}/b.tar"]) == []
    assert unreachable_hosts([f"https://127.0.0.1:{closed_port()}/a.tar", "ftp://example.org/x"]) == ["127.0.0.1"]


def test_the_probe_goes_through_the_proxy_the_download_would_use(no_proxy, monkeypatch):
    from kerashp.data.sources.tfds import unreachable_hosts

    with socket.create_server(("127.0.0.1", 0)) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{proxy.getsockname()[1]}")
        assert unreachable_hosts(["https://data.invalid/a.tar"]) == []  # the proxy resolves it, not us
        monkeypatch.setenv("NO_PROXY", "data.invalid")
        assert unreachable_hosts(["https://data.invalid/a.tar"]) == ["data.invalid"]


def test_the_probe_gives_up_after_its_timeout(no_proxy, monkeypatch):
    """A name lookup or connection that hangs (a black-holed network) counts as unreachable once
    the timeout is up, however long the hang would last."""
    from kerashp.data.sources import tfds as tfds_source

    released = threading.Event()

    def hang(address, timeout):
        released.wait(30)
        raise OSError("timed out")

    monkeypatch.setattr(tfds_source.socket, "create_connection", hang)
    start = time.monotonic()
    try:
        hosts = tfds_source.unreachable_hosts(["http://a.example/x.tar", "https://b.example/y.tar"], timeout=0.5)
    finally:
        released.set()
    assert hosts == ["a.example", "b.example"] and time.monotonic() - start < 2


def test_an_unreachable_download_host_fails_in_one_line_without_starting_the_subprocess(tmp_path, monkeypatch):
    """Offline, tfds's downloader would retry for minutes: the probe answers first, with what to do
    instead (never the command that just failed, on this machine)."""
    from kerashp.data.sources import tfds as tfds_source

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")  # every download host unreachable
    monkeypatch.setattr(tfds_source.subprocess, "run", lambda *a, **k: pytest.fail("the subprocess started"))
    start = time.monotonic()
    with pytest.raises(DataError) as caught:
        tfds_source.prepare("cifar10")
    assert time.monotonic() - start < tfds_source.PROBE_TIMEOUT_S + 2
    assert str(caught.value) == (
        f"tfds:cifar10: not prepared in {tmp_path}, and www.cs.toronto.edu cannot be reached to download it; "
        "use a folder source (--set data.source=folder:PATH), or run `kerashp data prepare cifar10` "
        f"on a connected machine and copy its ~/tensorflow_datasets to {tmp_path}"
    )


@pytest.mark.parametrize(
    "modules, module",
    [("no_such_module_xyz", "no_such_module_xyz"), (" , json.no_such", "json.no_such")],
)
def test_a_builder_module_that_cannot_be_imported_is_one_line(modules, module, tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KERASHP_TFDS_MODULES", modules)
    with pytest.raises(DataError) as caught:
        load_dataset("tfds:mnist")
    expected = f"KERASHP_TFDS_MODULES: cannot import {module} (ModuleNotFoundError: No module"
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)
