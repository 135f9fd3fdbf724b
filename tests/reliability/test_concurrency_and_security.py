"""Two runs on one runs folder, `kerashp runs` while they write, and what kerashp refuses to do
with files it is handed: presets are data, checkpoints load in safe mode, the search chief
listens on loopback unless told otherwise."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kerashp.cli import main as kerashp_main

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def train_command(tiny_folder: Path, runs: Path, epochs: int = 3) -> list[str]:
    return [
        sys.executable, "-m", "kerashp.cli", "train", "--preset", "lenet5", "--set", f"data.source=folder:{tiny_folder}",
        "--set", "train.batch_size=4", "--set", "data.validation=8", "--epochs", str(epochs), "--runs-dir", str(runs),
    ]


def test_two_runs_started_at_once_get_their_own_directories_and_runs_lists_them_throughout(tiny_folder, tmp_path, capsys, tally):
    runs = tmp_path / "runs"
    processes = [subprocess.Popen(train_command(tiny_folder, runs), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    listings = 0
    try:
        while any(p.poll() is None for p in processes):  # read every file while both runs write them
            assert kerashp_main(["runs", "--runs-dir", str(runs)]) == 0, capsys.readouterr().err
            capsys.readouterr()
            listings += 1
            time.sleep(0.05)
    finally:
        codes = [p.wait(timeout=300) for p in processes]
    assert codes == [0, 0], [p.stderr.read().decode() for p in processes]
    directories = sorted(p for p in runs.iterdir() if p.is_dir())
    assert len(directories) == 2
    pids = set()
    for run in directories:
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["epochs_done"] == 3
        pids.add(summary["pid"])
        started = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if '"RunStarted"' in line]
        assert [event["run_dir"] for event in started] == [str(run)]  # each process wrote only its own folder
    assert len(pids) == 2
    assert kerashp_main(["runs", "--runs-dir", str(runs)]) == 0 and capsys.readouterr().out.count("completed") == 2
    tally("`kerashp runs` listings during concurrent writes", listings)


def test_a_run_still_being_trained_cannot_be_resumed_twice(tiny_folder, tmp_path, capsys):
    import kerashp.training.run  # noqa: F401  imported ahead, so the resume below is quick

    runs = tmp_path / "runs"
    process = subprocess.Popen(train_command(tiny_folder, runs, epochs=500), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not list(runs.glob("*/summary.json")):
            assert time.time() < deadline and process.poll() is None
            time.sleep(0.02)
        (run,) = runs.iterdir()
        assert kerashp_main(["train", "--resume", str(run)]) == 2
        assert f"{run}: still being trained by process {process.pid}" in capsys.readouterr().err
    finally:
        process.kill()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    "document",
    [
        'extends = "lenet5"\n[model]\nname = "__import__(\'os\').system(\'touch PWNED\')"\n',
        'extends = "lenet5"\n[optimizer]\nname = "exec(open(\'PWNED\', \'w\'))"\n',
        'extends = "lenet5"\n[data]\nsource = "python:os.system"\n',
        'extends = "../../../../etc/passwd"\n',
    ],
)
def test_presets_are_data_nothing_in_one_is_run_or_imported(document, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    preset = tmp_path / "evil.toml"
    preset.write_text(document)
    assert kerashp_main(["presets", "validate", str(preset)]) == 2
    assert capsys.readouterr().err.startswith("kerashp: error: ")
    assert not (tmp_path / "PWNED").exists()


def test_the_code_never_evaluates_or_unpickles_what_it_reads():
    sources = [p for folder in ("kerashp", "tui") for p in (ROOT / folder).rglob("*.py")]
    forbidden = re.compile(r"(?<![\w.])(eval|exec|__import__)\(|pickle\.loads?\(|allow_pickle=True|safe_mode=False")
    assert [(p.name, m.group()) for p in sources for m in forbidden.finditer(p.read_text())] == []


def test_a_checkpoint_holding_code_is_refused(tmp_path, capsys):
    import keras

    from kerashp.training.checkpoints import load_checkpoint

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(Exception, match="refused: it holds code"):
        load_checkpoint(tmp_path / "lambda.keras")


def test_the_search_chief_listens_on_loopback_unless_told_and_the_readme_says_grpc_is_unauthenticated():
    from kerashp.search.distributed import LOOPBACK, parse_address

    assert parse_address("8000", "--chief", default_host=LOOPBACK) == ("127.0.0.1", 8000)
    assert parse_address("10.0.0.5:8000", "--chief", default_host=LOOPBACK) == ("10.0.0.5", 8000)
    readme = (ROOT / "README.md").read_text()
    assert "unauthenticated" in readme and "127.0.0.1" in readme
