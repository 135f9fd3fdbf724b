"""Drive the real `kerashp tune` in subprocesses on tiny generated data: each algorithm end to end,
SIGKILL and resume, a chief with two workers over loopback. Every wait has a timeout."""

from __future__ import annotations

import csv
import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kerashp.search.records import TrialRecord

pytestmark = pytest.mark.e2e

SEARCH_TIMEOUT = 240
SPACE = """
"optimizer.learning_rate" = { type = "float", min = 1e-3, max = 0.05, log = true }
"optimizer.name" = ["sgd", "adam"]
"optimizer.momentum" = { type = "float", min = 0.0, max = 0.9, when = { "optimizer.name" = "sgd" } }
"augment.transforms.horizontal_flip.p" = { type = "float", min = 0.0, max = 0.5 }
"""


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kerashp.cli", *args]


def kerashp(*args: str, timeout: float = SEARCH_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout, env=dict(os.environ, COLUMNS="160"))


def search_preset(tmp_path: Path, tiny_folder: Path, search: str, batch_size: int = 8, epochs: int = 1) -> Path:
    path = tmp_path / "tiny_search.toml"
    path.write_text(
        f'extends = "lenet5_aug"\n[data]\nsource = "folder:{tiny_folder}"\nvalidation = 8\n'
        f"[train]\nbatch_size = {batch_size}\nepochs = {epochs}\n[search]\n{search}\n[search.space]\n{SPACE}"
    )
    return path


def kill_inside_trial_one(args: tuple[str, ...], where: Path, marker: str, what: str) -> None:
    """Run `kerashp *args` and SIGKILL it once trial 1's events log holds `marker` (the search must
    not end first, and trial 1 must get there: "trial 1 never `what`")."""
    process = subprocess.Popen(command(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + SEARCH_TIMEOUT
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the search ended before it could be killed: {process.stderr.read()}")
        logs = glob.glob(str(where / "trials" / "1" / "*" / "events.jsonl"))
        if logs and marker in Path(logs[0]).read_text():
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"trial 1 never {what}")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def trials(search: Path) -> list[dict]:
    with open(search / "trials.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    "algorithm, search, expected_trials",
    [
        ("random", 'algorithm = "random"\nmax_trials = 3', 3),
        ("bayesian", 'algorithm = "bayesian"\nmax_trials = 3', 3),
        ("hyperband", 'algorithm = "hyperband"\nmax_epochs = 3\nfactor = 3', 6),  # brackets of 3+1 and 2 trials
    ],
)
def test_search_writes_trials_and_exports_a_best_preset_that_trains(tiny_folder, tmp_path, algorithm, search, expected_trials):
    preset, where, best = search_preset(tmp_path, tiny_folder, search), tmp_path / "search", tmp_path / "best.toml"
    result = kerashp("tune", "--preset", str(preset), "--dir", str(where), "--export-best", str(best))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{algorithm} search, {expected_trials} trials" in result.stdout and "best so far: trial" in result.stdout
    assert f"({expected_trials} of {expected_trials})" in result.stdout and "epoch   1/" in result.stdout
    rows = trials(where)
    assert len(rows) == expected_trials and {r["status"] for r in rows} == {"completed"}
    assert len({r["trial_id"] for r in rows}) == expected_trials
    assert all(0 <= float(r["objective"]) <= 1 and r["optimizer.learning_rate"] for r in rows)
    assert all((r["optimizer.momentum"] != "") == (r["optimizer.name"] == "sgd") for r in rows)
    if algorithm == "hyperband":
        continued = [r for r in rows if r["parent"]]
        assert continued and all(r["epochs"] == "3" for r in continued)
        assert "continues trial" in result.stdout and "run resumes after epoch 1" in result.stdout
    assert (where / "tuner" / "oracle.json").is_file()

    listing = kerashp("tune", "--results", str(where))
    assert listing.returncode == 0, listing.stderr
    shown = [line.split("│")[1].strip() for line in listing.stdout.splitlines() if line.startswith("│")]
    assert shown == [r["trial_id"] for r in sorted(rows, key=lambda r: -float(r["objective"]))]

    from kerashp.config import load_preset
    from kerashp.training.run import train

    trained = train(load_preset(str(best)), tmp_path / "runs", epochs=1)  # what `kerashp train --preset best.toml` runs
    assert trained.status == "completed" and trained.summary["test"]["accuracy"] >= 0


def test_a_search_killed_mid_trial_resumes_that_trial_from_its_checkpoint(tiny_folder, tmp_path):
    # batch 2 makes an epoch 20 steps, long enough to be killed inside
    preset = search_preset(tmp_path, tiny_folder, "max_trials = 2", batch_size=2, epochs=3)
    where = tmp_path / "search"
    args = ("tune", "--preset", str(preset), "--dir", str(where))
    kill_inside_trial_one(args, where, '"epoch": 2, "step"', "reached epoch 2")
    (run,) = [Path(p) for p in glob.glob(str(where / "trials" / "1" / "*")) if Path(p).is_dir()]
    killed_state = json.loads((run / "state.json").read_text())
    done = int(killed_state["epochs_done"])
    assert [r["status"] for r in trials(where)] == ["completed", "running"]

    result = kerashp(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resuming: 1 trials already finished" in result.stdout
    assert f"run resumes after epoch {done}: {run}" in result.stdout
    rows = trials(where)
    assert [r["trial_id"] for r in rows] == ["0", "1"] and {r["status"] for r in rows} == {"completed"}
    with open(run / "history.csv") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2", "3"]
    assert [p.name for p in (where / "trials" / "1").iterdir() if p.is_dir()] == [run.name]  # continued, not restarted
    trained = json.loads((run / "summary.json").read_text())["wall_time"]
    # issue 14 item 7: the trial's time holds the killed session's too
    assert float(rows[1]["time_s"]) == pytest.approx(trained, abs=0.01) and trained > killed_state["wall_time"]


@pytest.mark.parametrize(
    "search, planned",
    [("max_trials = 2", 2), ('algorithm = "tpe"\nmax_trials = 3\nstartup_trials = 1', 3)],  # tpe: 2 from its model
    ids=["random", "tpe"],
)
def test_a_chief_and_two_workers_split_the_trials_and_all_exit(tiny_folder, tmp_path, search, planned):
    from kerashp.search.distributed import free_port

    preset = search_preset(tmp_path, tiny_folder, search)
    where, port = tmp_path / "search", free_port()
    base = ("tune", "--preset", str(preset), "--dir", str(where))
    logs = [tmp_path / f"worker{n}.log" for n in (1, 2)]
    workers = []
    try:
        for n, log in enumerate(logs, start=1):
            with open(log, "w") as handle:
                workers.append(subprocess.Popen(command(*base, "--worker", f"127.0.0.1:{port}", "--id", str(n)),
                                                stdout=handle, stderr=subprocess.STDOUT))
        deadline = time.time() + 120  # both wait on the chief before it starts
        while not all("waiting for trials from the chief" in log.read_text() for log in logs):
            assert time.time() < deadline and all(w.poll() is None for w in workers), [log.read_text() for log in logs]
            time.sleep(0.1)
        chief = kerashp(*base, "--chief", str(port))
        codes = [worker.wait(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    outputs = [log.read_text() for log in logs]
    assert chief.returncode == 0, chief.stdout + chief.stderr
    assert codes == [0, 0], outputs
    rows = trials(where)
    assert [int(r["trial_id"]) for r in rows] == list(range(planned)) and {r["status"] for r in rows} == {"completed"}
    for row in rows:  # no trial lost or run twice: one run each
        assert len([p for p in (where / "trials" / row["trial_id"]).iterdir() if p.is_dir()]) == 1
    # usually one trial each; a worker that reaches the chief late may find none left, and must still exit
    assert {r["worker"] for r in rows} <= {"worker1", "worker2"}
    assert chief.stdout.count("completed after") == planned and "trials, best first" in chief.stdout
    assert all("no trials left" in output for output in outputs)
    assert not stray_prints(chief.stdout + chief.stderr, *outputs)


def stray_prints(*outputs: str) -> list[str]:
    """Lines that are just a value, like KerasTuner 1.4.8's leftover `print` of a condition's value
    when a trial crosses gRPC (the SPACE's optimizer.momentum is conditional on "sgd")."""
    return [line for output in outputs for line in output.splitlines() if line.strip() in ("sgd", "adam")]


def processes_using(path: Path) -> list[str]:
    """Command lines of live processes that name `path` (a search directory)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended while we looked
            continue
        if str(path) in text:
            found.append(text)
    return found


def test_local_workers_split_the_trials_and_all_exit(tiny_folder, tmp_path):
    """`--local-workers 2`: a chief here and two worker processes; each worker runs a trial (eight
    epochs at batch 2 outlast the gap between the workers' start-ups, which reached the length of two
    three-epoch trials on a busy 2-core CI machine) and every process exits by itself."""
    preset = search_preset(tmp_path, tiny_folder, "max_trials = 2", batch_size=2, epochs=8)
    where = tmp_path / "search"
    chief = subprocess.Popen(command("tune", "--preset", str(preset), "--dir", str(where), "--local-workers", "2"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             env=dict(os.environ, COLUMNS="160"))
    try:
        stdout, stderr = chief.communicate(timeout=SEARCH_TIMEOUT)
    finally:
        if chief.poll() is None:
            os.killpg(chief.pid, signal.SIGKILL)  # the workers are in its process group
            chief.wait(timeout=30)
    logs = [(where / "logs" / f"worker{n}.log").read_text() for n in (1, 2)]
    assert chief.returncode == 0, stdout + stderr + "".join(logs)
    rows = trials(where)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"completed"}
    assert sorted(r["worker"] for r in rows) == ["worker1", "worker2"], logs
    assert stdout.count("completed after") == 2 and "trials, best first" in stdout
    assert all("no trials left" in log for log in logs)
    assert not stray_prints(stdout + stderr, *logs)
    assert not processes_using(where)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--preset", "lenet5"], "search.space: nothing to search"),
        (["--preset", "lenet5_search", "--algorithm", "hyperband", "--prune"], "--prune: hyperband"),
        (["--preset", "lenet5_search", "--algorithm", "bohb", "--prune"], "--prune: bohb stops trials early"),
        (["--preset", "lenet5_search", "--set", "search.random_fraction=1.5"], "search.random_fraction = 1.5"),
        (["--preset", "lenet5_search", "--worker", "127.0.0.1:1"], "--worker HOST:PORT and --id N go together"),
        (["--preset", "lenet5_search", "--chief", "host:port"], "--chief host:port: expected [HOST:]PORT"),
        (["--preset", "lenet5_search", "--chief", "192.0.2.1:8000"], "cannot listen there"),  # no gRPC log line either
        (["--dir", "/does/not/matter", "--prune"], "--dir without --preset"),
        (["--results", "/does/not/exist"], "not a kerashp search directory"),
        ([], "give --preset NAME"),
    ],
)
def test_bad_tune_input_exits_2_with_one_line(args, expected, tmp_path):
    result = kerashp("tune", *args, "--runs-dir", str(tmp_path), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr


def test_reading_results_and_exporting_do_not_import_torch_or_keras(tmp_path):
    code = f"""
import sys
from pathlib import Path
from kerashp.cli import main
from kerashp.config import load_preset
from kerashp.search.directory import SearchDir
from kerashp.search.records import TrialRecord
search = SearchDir.prepare(Path({str(tmp_path / "search")!r}), load_preset("lenet5_search"))
search.write_record(TrialRecord("0", "completed", {{"optimizer.learning_rate": 0.01}}, objective=0.5, epochs=1, best_epoch=1))
assert main(["tune", "--results", str(search.path), "--export-best", {str(tmp_path / "best.toml")!r}]) == 0
print(sorted(m for m in ("torch", "keras", "keras_tuner") if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("[]") and "best trial 0 written" in result.stdout
    assert "learning_rate = 0.01" in (tmp_path / "best.toml").read_text()


def write_search(where: Path, count: int = 3) -> list[TrialRecord]:
    """A search directory with `count` finished trials over the SPACE-like keys, as a search leaves it."""
    from kerashp.config import load_preset
    from kerashp.search.directory import SearchDir

    keys = {"optimizer.learning_rate": 0.0147, "optimizer.name": "sgd", "optimizer.momentum": 0.95,
            "augment.transforms.horizontal_flip.p": 0.3, "train.batch_size": 128, "model.batch_norm": True}  # fmt: skip
    space = "".join(f'"{key}" = {json.dumps([value])}\n'.replace("True", "true") for key, value in keys.items())
    preset = where.parent / "wide_search.toml"
    preset.write_text(f'extends = "lenet5_search"\n[search.space]\n{space}')
    search = SearchDir.prepare(where, load_preset(str(preset)))
    records = [TrialRecord(str(n), "completed", keys, epochs=30, objective=0.5 + n / 100, best_epoch=12, time_s=123.4)
               for n in range(count)]  # fmt: skip
    for record in records:
        search.write_record(record)
    search.write_table()
    return records


def test_results_at_80_columns_keep_every_value_whole(tmp_path):
    write_search(tmp_path / "search")
    result = subprocess.run(command("tune", "--results", str(tmp_path / "search")), capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, COLUMNS="80"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines if str(tmp_path) not in line), result.stdout
    for value in ("0.0147", "sgd", "0.9500", "0.3000", "128", "true", "30 (12)", "123.4s"):
        assert f" {value} │" in result.stdout, f"{value} is not whole:\n{result.stdout}"
    rows = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert rows[:3] == ["2", "1", "0"] and rows[3:6] == ["2", "1", "0"]  # the parts list the trials alike, best first


def test_tune_epochs_trains_each_trial_that_long_and_every_line_fits_80_columns(tiny_folder, tmp_path):
    preset, where = search_preset(tmp_path, tiny_folder, "max_trials = 1", epochs=5), tmp_path / "search"
    result = subprocess.run(command("tune", "--preset", str(preset), "--dir", str(where), "--epochs", "2"),
                            capture_output=True, text=True, timeout=SEARCH_TIMEOUT, env=dict(os.environ, COLUMNS="80"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [row["epochs"] for row in trials(where)] == ["2"] and "epoch   2/2" in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines() if str(tmp_path) not in line), result.stdout
    assert "\n\n\n" not in result.stdout and "\x1b" not in result.stdout


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_tune_epochs_must_be_a_whole_number_of_at_least_one(value, tmp_path):
    result = kerashp("tune", "--preset", "lenet5_search", "--epochs", value, "--runs-dir", str(tmp_path), timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    got = "'two'" if value == "two" else value
    assert result.stderr.splitlines()[-1].endswith(f"argument --epochs: expected a whole number >= 1, got {got}")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("algorithm", ["random", "bayesian", "tpe", "hyperband", "bohb"])
def test_tune_epochs_is_each_trials_epochs_and_hyperbands_most(algorithm, tmp_path):
    """`--epochs N` lands in search.toml under kerashp.search.space.epochs_key, the key the TUI's
    dialog sets too: train.epochs, or search.max_epochs for Hyperband and BOHB (train.epochs does
    nothing there)."""
    from kerashp.cli import build_parser
    from kerashp.cli.tune_command import _open_search

    args = build_parser().parse_args(["tune", "--preset", "lenet5_search", "--algorithm", algorithm, "--epochs", "4",
                                      "--runs-dir", str(tmp_path)])
    _, search = _open_search(args)  # what `kerashp tune` sets up before torch is imported
    stored = search.read_preset()
    hyperband = algorithm in ("hyperband", "bohb")
    assert stored["search"]["max_epochs"] == (4 if hyperband else 9)  # lenet5_search's max_epochs
    assert (stored["train"]["epochs"] == 4) != hyperband
