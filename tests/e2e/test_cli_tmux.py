"""`kerashp` in a real 80x24 terminal (tmux): no line of a training run or a trials table wraps,
and every value in the table is whole. `capture-pane -J` joins lines the terminal wrapped, so a
wrapped line shows up as one longer than 80."""

from __future__ import annotations

import random
import shlex
import sys
from pathlib import Path

import test_tui_tmux
from test_cli_tune import write_search
from test_tui_tmux import Tmux

pytestmark = test_tui_tmux.pytestmark  # e2e, skipped where tmux is missing


def kerashp_in(tmux: Tmux, folder: Path, *args: str) -> list[str]:
    """Run `kerashp ARGS` in `folder` from a script (so the typed line stays short); the lines it printed."""
    script = folder / "run.sh"
    script.write_text(f"cd {shlex.quote(str(folder))}\n{shlex.join([sys.executable, '-m', 'kerashp.cli', *args])}\n")
    tag = random.randrange(1000, 9999)  # the shell computes the markers, so the typed line does not show them
    tmux.send(f"echo start-$((1+{tag})); bash run.sh; echo end-$((1+{tag}))-$?", "Enter")
    tmux.wait_for(f"end-{tag + 1}-", timeout=300)
    joined = tmux.run("capture-pane", "-p", "-J", "-S", "-", "-t", tmux.session).splitlines()
    start = joined.index(f"start-{tag + 1}") + 1
    end = next(i for i, line in enumerate(joined) if line.startswith(f"end-{tag + 1}-"))
    assert joined[end] == f"end-{tag + 1}-0", "\n".join(joined)
    return [line.rstrip() for line in joined[start:end]]


def test_training_and_the_trials_table_fit_an_80x24_terminal(tiny_folder, tmp_path):
    write_search(tmp_path / "s")
    (tmp_path / "data").symlink_to(tiny_folder)
    tmux = Tmux(80, 24)
    try:
        tmux.send(f"cd {shlex.quote(str(tmp_path))}", "Enter")
        trained = kerashp_in(tmux, tmp_path, "train", "--preset", "lenet5", "--set", "data.source=folder:data",
                             "--set", "train.batch_size=8", "--set", "data.validation=8", "--epochs", "2",
                             "--runs-dir", "runs")  # fmt: skip
        table = kerashp_in(tmux, tmp_path, "tune", "--results", "s")
    finally:
        tmux.close()
    assert [line for line in trained + table if len(line) > 80] == []
    assert [line.split()[1] for line in trained if line.startswith("epoch ")] == ["1/2", "2/2"]
    assert all(line.endswith("s") or line.endswith("*best") for line in trained if line.startswith("epoch "))
    text = "\n".join(table)
    for value in ("0.0147", "sgd", "0.9500", "0.3000", "128", "true", "30 (12)", "123.4s"):
        assert f" {value} │" in text, f"{value} is not whole:\n{text}"
