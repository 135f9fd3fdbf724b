"""Run folders that were tampered with, cut short or raced (issue 14 items 1-4, 6, 13, 14, 16, 17).

One real tiny run is trained once; each test damages a copy of it. A resume of a damaged run
refuses with one line and leaves every file of the run as it was; a listing or a report of a
folder holding damaged runs goes on and marks them."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from kerashp.cli import main as kerashp_main
from kerashp.runs.folder import RunDir, list_runs
from kerashp.runs.listing import run_row

pytestmark = pytest.mark.e2e

KEPT = (
    "preset.toml", "history.csv", "state.json", "summary.json", "checkpoints/best.keras", "checkpoints/epoch-0002.keras",
)  # fmt: skip


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A private copy of the trained run."""
    return Path(shutil.copytree(trained, tmp_path / "runs" / trained.name))


def snapshot(run: Path) -> dict[str, bytes | None]:
    return {name: (run / name).read_bytes() if (run / name).exists() else None for name in KEPT}


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


def refused(run: Path, capsys, *extra: str) -> str:
    """`kerashp train --resume RUN` exits 2 with one line and changes nothing in the run."""
    before = snapshot(run)
    assert kerashp_main(["train", "--resume", str(run), *extra]) == 2
    line = error_line(capsys)
    assert snapshot(run) == before, "a refused resume wrote or deleted a file of the run"
    return line


def write_state(run: Path, **changes) -> None:
    state = json.loads((run / "state.json").read_text()) | changes
    (run / "state.json").write_text(json.dumps(state))


# ---------------------------------------------------------------------------------- data loss


@pytest.mark.parametrize("damage", ["missing", "cut short", "empty"])
def test_1_a_run_without_a_readable_state_is_never_restarted_over(damage, run, capsys, tally):
    state = run / "state.json"
    if damage == "missing":
        state.unlink()
    else:
        state.write_text('{"epochs_do' if damage == "cut short" else "")
    line = refused(run, capsys, "--epochs", "3")
    assert "state.json" in line and 'write {"epochs_done": 2} to state.json' in line, line
    tally("damaged run folders refused")


@pytest.mark.parametrize("epochs_done", [5, 3, -1])
def test_2_a_state_ahead_of_the_checkpoints_deletes_none_of_them(epochs_done, run, capsys, tally):
    write_state(run, epochs_done=epochs_done)
    line = refused(run, capsys, "--epochs", "9")
    assert "state.json" in line or "epoch-" in line, line
    tally("damaged run folders refused")


@pytest.mark.parametrize("rows", [0, 1])
def test_3_a_history_that_disagrees_with_the_state_is_refused(rows, run, capsys, tally):
    lines = (run / "history.csv").read_text().splitlines(keepends=True)
    (run / "history.csv").write_text("".join(lines[: rows + 1]))
    line = refused(run, capsys, "--epochs", "3")
    assert "history.csv" in line and f"holds {rows} epochs" in line and "2 are committed" in line, line
    tally("damaged run folders refused")


def test_4_a_run_held_by_another_process_is_not_trained_twice(run, capsys, tally):
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from kerashp.runs.folder import RunDir; import sys, time\n"
         f"with RunDir({str(run)!r}).lock():\n    print('held', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        line = refused(run, capsys, "--epochs", "3")
        assert "still being trained by process" in line, line  # the pid its summary.json names
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with RunDir(run).lock():  # the kernel released the dead holder's lock
        pass
    tally("damaged run folders refused")


def test_6_a_refused_resume_with_epochs_leaves_the_preset_alone(run, capsys, tally):
    line = refused(run, capsys, "--epochs", "1")  # fewer than the run has trained
    assert "already completed 2 epochs" in line, line
    tally("damaged run folders refused")


# ---------------------------------------------------------------------------------- crashes


def damage_summary(run: Path, value) -> None:
    (run / "summary.json").write_bytes(value if isinstance(value, bytes) else json.dumps(value).encode())


def summary_with(run: Path, **changes) -> dict:
    return json.loads((run / "summary.json").read_text()) | changes


DAMAGED_SUMMARIES = {
    "not an object": lambda run: [1, 2],
    "best not an object": lambda run: summary_with(run, best=[0.5]),
    "final a string": lambda run: summary_with(run, final="good"),
    "wall_time a string": lambda run: summary_with(run, wall_time="12s"),
    "pid 1e30": lambda run: summary_with(run, status="running", pid=1e30),
    "pid 10**30": lambda run: summary_with(run, status="running", pid=10**30),
    "not UTF-8": lambda run: b'{"status": "compl\xffeted"}',
}


@pytest.fixture
def damaged_runs(trained, tmp_path) -> Path:
    """A runs folder: the intact run, a copy of it per damaged summary, one with a non-UTF-8 history."""
    runs = tmp_path / "runs"
    shutil.copytree(trained, runs / "intact")
    for name, damage in DAMAGED_SUMMARIES.items():
        copy = Path(shutil.copytree(trained, runs / name.replace(" ", "_")))
        damage_summary(copy, damage(copy))
    bad_history = Path(shutil.copytree(trained, runs / "history_not_utf8"))
    bad_history.joinpath("history.csv").write_bytes(b"epoch,loss\n1,0.5\xff\n")
    return runs


def test_13_listings_mark_damaged_runs_and_go_on(damaged_runs, capsys, tally):
    assert kerashp_main(["runs", "--runs-dir", str(damaged_runs)]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "intact" in captured.out
    assert captured.out.count("damaged: ") == len(DAMAGED_SUMMARIES) + 1, captured.out
    rows = {run.name: run_row(run) for run in list_runs(damaged_runs)}  # as the TUI's runs screen shows them
    assert rows["intact"][1] == "completed" and rows["not_an_object"][1] == "damaged"
    assert kerashp_main(["report", str(damaged_runs), "--out", str(damaged_runs.parent / "report")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    tally("damaged run folders listed", len(rows))


def test_13_runs_deleted_while_being_listed_do_not_crash_the_listing(trained, tmp_path, capsys, tally):
    runs = tmp_path / "runs"
    for number in range(40):
        folder = runs / f"run-{number:02d}"
        folder.mkdir(parents=True)
        for name in ("preset.toml", "summary.json", "history.csv"):
            shutil.copyfile(trained / name, folder / name)

    def delete_all() -> None:
        for folder in sorted(runs.iterdir()):
            shutil.rmtree(folder)
            time.sleep(0.02)  # spread over many listings

    deleting = threading.Thread(target=delete_all)
    deleting.start()
    codes = []
    while deleting.is_alive() or not codes:
        codes.append(kerashp_main(["runs", "--runs-dir", str(runs)]))
    deleting.join()
    assert set(codes) == {0} and "Traceback" not in capsys.readouterr().err
    tally("listings during deletion", len(codes))


@pytest.mark.parametrize(
    "file, text, expected",
    [
        ("state.json", "[2]", "state.json: holds a JSON list, not an object"),
        ("state.json", '{"epochs_done": "2"}', "epochs_done"),
        ("state.json", '{"epochs_done": 2.5}', "epochs_done"),
        ("summary.json", '"done"', "summary.json: holds a JSON str, not an object"),
        ("summary.json", '{"status": "stopped", "wall_time": "12s"}', "wall_time"),
        ("preset.toml", "[model\nname = 1", "preset.toml: TOML syntax error"),
    ],
)
def test_14_a_resume_of_unreadable_run_files_is_one_line(file, text, expected, run, capsys, tally):
    (run / file).write_text(text)
    line = refused(run, capsys, "--epochs", "3")
    assert expected in line, line
    tally("damaged run folders refused")


# ---------------------------------------------------------------------------------- messages


def crafted_keras(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", '{"class_name": "Nope", "config": {}}')
        archive.writestr("metadata.json", "{}")
        archive.writestr("model.weights.h5", b"not hdf5")


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda path: path.unlink(), "epoch-0002.keras: missing"),
        (lambda path: path.write_bytes(b"junk" * 100), "epoch-0002.keras: not a Keras checkpoint"),
        (crafted_keras, "epoch-0002.keras: not a checkpoint kerashp can load"),
    ],
    ids=["deleted", "junk", "crafted"],
)
def test_16_a_bad_checkpoint_is_one_line_naming_it(damage, expected, run, capsys, tally):
    damage(run / "checkpoints" / "epoch-0002.keras")
    line = refused(run, capsys, "--epochs", "3")
    assert expected in line and "free space" not in line, line
    tally("damaged run folders refused")


def test_17_a_changed_architecture_in_the_runs_preset_is_refused(run, capsys, tally):
    preset = run / "preset.toml"
    preset.write_text(preset.read_text().replace("batch_norm = true", "batch_norm = false"))
    line = refused(run, capsys, "--epochs", "3")
    assert "model.batch_norm = false" in line and "model.batch_norm = true" in line, line
    tally("damaged run folders refused")


def test_a_resume_of_an_intact_run_still_trains_on(run, capsys):
    """The checks above let a healthy run through: one more epoch, nothing lost."""
    assert kerashp_main(["train", "--resume", str(run), "--epochs", "3"]) == 0, capsys.readouterr().err
    assert [row["epoch"] for row in RunDir(run).read_history()] == [1, 2, 3]
    state = json.loads((run / "state.json").read_text())
    assert state["epochs_done"] == 3 and state["model"]["name"] == "lenet5" and state["model"]["batch_norm"] is True
