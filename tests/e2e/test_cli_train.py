"""Drive the real `kerashp` command in subprocesses on tiny generated data."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CIFAR10_MINI, needs_cifar10_mini

pytestmark = pytest.mark.e2e

FAST = ["--set", "train.batch_size=8", "--set", "data.validation=8"]


def kerashp(*args: str, cwd: Path | None = None, timeout: float = 300, columns: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run(
        [sys.executable, "-m", "kerashp.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


def only_run(runs_dir: Path) -> Path:
    (run,) = [p for p in runs_dir.iterdir() if p.is_dir()]
    return run


def history(run: Path) -> list[dict]:
    with open(run / "history.csv") as handle:
        return list(csv.DictReader(handle))


def test_help_and_presets_do_not_import_torch_or_keras():
    code = (
        "import sys; from kerashp.cli import main\n"
        "for argv in (['presets', 'list'], ['presets', 'validate', 'lenet5_aug'], ['presets', 'show', 'lenet5']):\n"
        "    assert main(argv) == 0\n"
        "heavy = sorted(m for m in ('torch', 'keras', 'tensorflow') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "lenet5_aug" in result.stdout


def test_train_writes_a_complete_run_directory(tiny_folder, tmp_path):
    runs = tmp_path / "runs"
    result = kerashp(
        "train", "--preset", "lenet5_aug", "--set", f"data.source=folder:{tiny_folder}", *FAST,
        "--epochs", "2", "--runs-dir", str(runs),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "epoch   2/2" in result.stdout and "test (best epoch" in result.stdout
    run = only_run(runs)
    names = {p.name for p in run.iterdir()}
    assert {"preset.toml", "history.csv", "events.jsonl", "state.json", "summary.json", "split.npz", "checkpoints"} <= names
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"epoch-0002.keras", "best.keras"}
    rows = history(run)
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(float(row["lr"]) > 0 and float(row["val_accuracy"]) >= 0 for row in rows)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_done"] == 2
    assert 0 <= summary["test"]["accuracy"] <= 1 and summary["best_epoch"] in (1, 2)
    assert summary["versions"]["keras"] and "cpu" in summary["device"]
    kinds = [json.loads(line)["event"] for line in (run / "events.jsonl").read_text().splitlines()]
    assert kinds.count("EpochEnded") == 2 and kinds[-1] == "RunFinished" and "BatchEnded" in kinds

    listing = kerashp("runs", "--runs-dir", str(runs), columns=80)  # a terminal's width cuts nothing
    assert run.name in listing.stdout and "completed" in listing.stdout


def test_sigkill_during_epoch_two_then_resume_finishes_with_unbroken_history(tiny_folder, tmp_path):
    runs = tmp_path / "runs"
    # batch 1 makes an epoch long enough (40 steps) to be killed in the middle of
    command = [
        sys.executable, "-m", "kerashp.cli", "train", "--preset", "lenet5_aug",
        "--set", f"data.source=folder:{tiny_folder}", "--set", "train.batch_size=1", "--set", "data.validation=8",
        "--epochs", "3", "--runs-dir", str(runs),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    run = None
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"training ended before it could be killed: {process.stderr.read()}")
        if runs.exists() and any(runs.iterdir()):
            run = only_run(runs)
            events = (run / "events.jsonl").read_text() if (run / "events.jsonl").exists() else ""
            if '"event": "BatchEnded", "time"' in events and '"epoch": 2, "step"' in events:
                break
        time.sleep(0.05)
    else:
        pytest.fail("epoch 2 never started")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert json.loads((run / "state.json").read_text())["epochs_done"] == 1
    listing = kerashp("runs", "--runs-dir", str(runs)).stdout
    assert listing.count("killed") == 1
    killed_row = next(line for line in listing.splitlines() if "killed" in line)
    assert f"{float(history(run)[0]['val_accuracy']):.4f}" in killed_row  # epoch 1's figures, from its history

    result = kerashp("train", "--resume", str(run))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "resuming after epoch 1" in result.stdout
    assert [row["epoch"] for row in history(run)] == ["1", "2", "3"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_done"] == 3
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == ["best.keras", "epoch-0003.keras"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["train", "--preset", "lenet5", "--set", "optimizer.learning_rate=-1"], "optimizer.learning_rate = -1"),
        (["train", "--preset", "nope"], "unknown preset"),
        (["train", "--preset", "lenet5", "--set", "data.source=folder:/does/not/exist", "--epochs", "1"], "no such directory"),
        (["train", "--resume", "/does/not/exist"], "not a kerashp run directory"),
        (["presets", "validate", "/does/not/exist.toml"], "no such preset file"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, expected, tmp_path):
    result = kerashp(*args, "--runs-dir", str(tmp_path)) if args[0] == "train" else kerashp(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "absl" not in line]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr


def test_keras_backend_other_than_torch_is_refused(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run(
        [sys.executable, "-m", "kerashp.cli", "info"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2 and "KERAS_BACKEND=jax" in result.stderr


@needs_cifar10_mini
def test_output_into_a_file_is_plain_greppable_lines_within_80_columns(tmp_path):
    """`kerashp train ... > train.log`: no progress bar leftovers (blank lines), no control sequences."""
    log = tmp_path / "train.log"
    with open(log, "w") as handle:
        result = subprocess.run(
            [sys.executable, "-m", "kerashp.cli", "train", "--preset", "lenet5",
             "--set", f"data.source=folder:{CIFAR10_MINI}", "--epochs", "2", "--runs-dir", str(tmp_path / "runs")],
            stdout=handle, stderr=subprocess.PIPE, text=True, timeout=600, env=dict(os.environ, COLUMNS="80"),
        )  # fmt: skip
    text = log.read_text()
    assert result.returncode == 0, result.stderr + text
    lines = text.splitlines()
    assert "\x1b" not in text and "\r" not in text
    assert all(line.strip() for line in lines), text
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/2", "2/2"]
    assert all(len(line) <= 80 for line in lines if str(tmp_path) not in line), text
