"""Bad input is refused before the heavy libraries load, and the light commands stay light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kerashp.data import check_folder
from kerashp.errors import DataError

HEAVY = ("torch", "keras", "tensorflow", "tensorflow_datasets", "albumentations")


def run_main(argv: list[str], cwd=None) -> subprocess.CompletedProcess:
    """`kerashp ARGV` in a fresh interpreter that prints its exit code and the heavy modules it imported."""
    code = (
        "import sys; from kerashp.cli import main\n"
        f"code = main({argv!r})\n"
        f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize(
    "source, message",
    [
        ("folder:/nonexistent", "kerashp: error: folder:/nonexistent: no such directory"),
        ("tfds:cifar 10", 'kerashp: error: --set: data.source = "tfds:cifar 10": not a tfds dataset name'),
    ],
)
def test_a_bad_data_source_is_refused_without_importing_torch_or_keras(source, message, tmp_path):
    runs = tmp_path / "runs"
    result = run_main(["train", "--preset", "lenet5", "--set", f"data.source={source}", "--runs-dir", str(runs)])
    assert result.stdout.strip() == "2 []", result.stderr
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert not runs.exists()  # no run folder for a run that never started


def test_an_unprepared_tfds_dataset_offline_is_refused_before_torch_or_keras_load(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")  # nothing listens there: the download host is out of reach
    for bypass in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(bypass, raising=False)
    runs = tmp_path / "runs"
    result = run_main(["train", "--preset", "lenet5", "--runs-dir", str(runs)])
    imported = result.stdout.strip()
    assert imported.startswith("2 [") and "torch" not in imported and "keras" not in imported, result.stderr
    assert "'tensorflow'" not in imported
    assert result.stderr.startswith("kerashp: error: tfds:cifar10: not prepared in ") and result.stderr.count("\n") == 1
    assert "cannot be reached" in result.stderr and "folder:PATH" in result.stderr
    assert not runs.exists()


def test_a_folder_without_test_images_is_refused_before_training(tiny_folder, tmp_path):
    (tmp_path / "train").symlink_to(tiny_folder / "train")
    result = run_main(["summary", "--preset", "lenet5", "--set", "data.source=folder:."], cwd=tmp_path)
    assert result.stdout.strip() == "2 []", result.stderr
    assert f"folder:. ({tmp_path.resolve()}): missing 'test/' subfolder" in result.stderr


def test_info_imports_torch_for_the_devices_but_not_keras():
    result = run_main(["info"])
    assert result.stdout.splitlines()[-1] == "0 ['torch']", result.stderr
    assert "keras backend" in result.stdout and "torch" in result.stdout


def test_summary_of_a_folder_preset_imports_neither_tensorflow_nor_albumentations(tiny_folder):
    result = run_main(["summary", "--preset", "lenet5", "--set", f"data.source=folder:{tiny_folder}"])
    assert result.stdout.splitlines()[-1] == "0 ['keras', 'torch']", result.stderr
    assert "MACs" in result.stdout and "total" in result.stdout


def test_a_relative_folder_is_named_with_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=rf"^folder:images \({tmp_path.resolve()}/images\): no such directory$"):
        check_folder("images")
    (tmp_path / "images" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="missing 'test/' subfolder"):
        check_folder("images")
    assert check_folder("images", ("train.txt", "test.txt")) == Path("images")  # the lists are the loader's to read
    with pytest.raises(DataError, match="set both or neither"):
        check_folder("images", ("train.txt", ""))


def test_a_runs_folder_under_a_file_is_refused_without_importing_torch(tiny_folder, tmp_path):
    (tmp_path / "notes").write_text("")
    result = run_main(["train", "--preset", "lenet5", "--set", f"data.source=folder:{tiny_folder}",
                       "--runs-dir", str(tmp_path / "notes" / "runs")])
    assert result.stdout.strip() == "2 []", result.stderr
    problem = "not a folder, so runs cannot be kept under it; pass --runs-dir DIR"
    assert result.stderr == f"kerashp: error: {tmp_path / 'notes'}: {problem}\n"


@pytest.mark.parametrize(
    "source, problem",
    [("tfds:cifar1000", "no such tfds dataset"), ("tfds:glue/cola", "not an image classification dataset")],
)
def test_summary_refuses_a_tfds_source_it_cannot_use_before_importing_keras(source, problem):
    result = run_main(["summary", "--preset", "lenet5", "--set", f"data.source={source}"])
    assert result.stdout.strip() == "2 ['tensorflow_datasets']", result.stderr
    assert result.stderr.startswith(f"kerashp: error: {source}: {problem}") and result.stderr.count("\n") == 1
