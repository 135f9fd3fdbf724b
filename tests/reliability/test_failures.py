"""Runs that cannot go on: divergence, a disk that fills up while a checkpoint is written, a runs
folder that cannot be written. Each ends with a clear line and the right exit code, and never
leaves a run that looks complete."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from kerashp.cli import main as kerashp_main
from kerashp.runs.folder import RunDir

pytestmark = pytest.mark.e2e


def train_args(tiny_folder: Path, runs: Path, *sets: str, epochs: int = 3) -> list[str]:
    extra = [arg for value in sets for arg in ("--set", value)]
    return [
        "train", "--preset", "lenet5", "--set", f"data.source=folder:{tiny_folder}", "--set", "train.batch_size=8",
        "--set", "data.validation=8", *extra, "--epochs", str(epochs), "--runs-dir", str(runs),
    ]


def only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


@pytest.mark.parametrize(
    "case, sets",
    [
        ("momentum 10 (LeNet-5 study)", ["optimizer.momentum=10.0", "model.batch_norm=false"]),
        ("learning rate 1e4 without batch norm", ["optimizer.learning_rate=1e4", "model.batch_norm=false"]),
    ],
)
def test_a_diverging_run_ends_diverged_with_its_last_finite_metrics(case, sets, tiny_folder, tmp_path, capsys, tally):
    runs = tmp_path / "runs"
    assert kerashp_main(train_args(tiny_folder, runs, *sets)) == 1
    out = capsys.readouterr().out
    assert "diverged" in out and "last finite" in out, out
    summary = json.loads((only_run(runs) / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged_at_epoch"] >= 1
    last = summary["last_finite"]
    assert last["epoch"] <= summary["diverged_at_epoch"] and math.isfinite(last["loss"])
    rows = RunDir(only_run(runs)).read_history()  # only finished, finite epochs
    assert len(rows) == summary["diverged_at_epoch"] - 1 and all(math.isfinite(v) for row in rows for v in row.values())
    tally("divergence cases")


def fill_the_disk_at(monkeypatch, epoch: int, everything_after: bool = False):
    """Make the checkpoint of `epoch` hit a full disk half-way; optionally every write after it too."""
    real_save = keras.Model.save
    full = []

    def save(model, path, *args, **kwargs):
        if f"epoch-{epoch:04d}" in str(path):
            Path(path).write_bytes(b"PK\x03\x04 half a zip")
            full.append(True)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_save(model, path, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", save)
    if everything_after:
        import kerashp.runs.folder

        real_write = kerashp.runs.folder.atomic_write

        def atomic_write(path, text):
            if full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            real_write(path, text)

        monkeypatch.setattr(kerashp.runs.folder, "atomic_write", atomic_write)


@pytest.mark.parametrize("everything_after", [False, True], ids=["checkpoint only", "summary too"])
def test_a_full_disk_while_checkpointing_fails_cleanly_and_the_run_resumes(everything_after, tiny_folder, tmp_path, capsys, monkeypatch, tally):
    runs = tmp_path / "runs"
    with monkeypatch.context() as patch:
        fill_the_disk_at(patch, epoch=2, everything_after=everything_after)
        assert kerashp_main(train_args(tiny_folder, runs)) == 1
    line = error_line(capsys)
    run = only_run(runs)
    assert "No space left on device" in line and f"kerashp train --resume {run}" in line and "after epoch 1" in line
    assert json.loads((run / "state.json").read_text())["epochs_done"] == 1
    status = json.loads((run / "summary.json").read_text())["status"]
    assert status == ("running" if everything_after else "failed")  # `kerashp runs`: killed / failed, never completed
    assert [p.name for folder in (run, run / "checkpoints") for p in folder.iterdir() if p.name.startswith(".")] == []

    assert kerashp_main(["train", "--resume", str(run)]) == 0  # space freed
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    assert [line.split(",")[0] for line in (run / "history.csv").read_text().splitlines()[1:]] == ["1", "2", "3"]
    tally("full-disk cases")


def test_a_runs_folder_that_cannot_be_written_is_one_line(tiny_folder, tmp_path, capsys, monkeypatch, tally):
    runs = tmp_path / "readonly"
    runs.mkdir()
    runs.chmod(0o555)
    if os.access(runs, os.W_OK):  # root ignores permission bits: refuse the way a read-only mount does
        real_mkdir = os.mkdir

        def mkdir(path, *args, **kwargs):
            if Path(path).parent == runs:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "mkdir", mkdir)
    assert kerashp_main(train_args(tiny_folder, runs)) == 2
    line = error_line(capsys)
    assert line.startswith("kerashp: error: ") and str(runs) in line and "cannot write there" in line
    assert list(runs.iterdir()) == []
    tally("unwritable runs folder cases")


def corrupt_image_in(tiny_folder: Path, tmp_path: Path, name: bytes) -> Path:
    """A copy of the tiny dataset with one undecodable training image named `name` (bytes: any
    file name Linux allows); it sorts last, so it is never the image probed for the size."""
    root = Path(shutil.copytree(tiny_folder, tmp_path / "data"))
    with open(os.path.join(os.fsencode(root / "train" / "dog"), name), "wb") as handle:
        handle.write(np.random.default_rng(0).bytes(700))
    return root


def test_a_data_source_that_fails_before_the_first_epoch_leaves_no_run_folder(tiny_folder, tmp_path, capsys, tally):
    """Issue 13 item 2: the data is loaded before the run folder is made (in memory, every image is
    decoded while loading)."""
    root = corrupt_image_in(tiny_folder, tmp_path, b"zz-broken.jpg")
    runs = tmp_path / "runs"
    assert kerashp_main(train_args(tiny_folder, runs, f"data.source=folder:{root}", 'data.cache="memory"')) == 2
    assert "cannot decode image" in error_line(capsys)
    assert not runs.exists() or list(runs.iterdir()) == []
    tally("data failures before the first epoch")


def test_a_corrupt_image_with_a_file_name_that_is_not_utf8_is_one_line(tiny_folder, tmp_path, tally):
    """Streamed, the image fails inside fit; error.log must still be written (issue 14 item 15)."""
    root = corrupt_image_in(tiny_folder, tmp_path, b"zz-\xff\xfe.jpg")
    runs = tmp_path / "runs"
    args = train_args(tiny_folder, runs, f"data.source=folder:{root}", 'data.cache="stream"', epochs=1)
    result = subprocess.run([sys.executable, "-m", "kerashp.cli", *args], capture_output=True, timeout=300)
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert "cannot decode image" in err and "zz-" in err, err
    assert "zz-\\udcff\\udcfe.jpg" in (only_run(runs) / "error.log").read_text(encoding="utf-8")  # backslashreplace
    tally("corrupt images with a non-UTF-8 name")
