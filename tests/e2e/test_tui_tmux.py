"""`kerashp-tui` in a real terminal: tmux runs it in a shell, keys go in, the screen is read back.

It starts, answers keys, trains a preset to the end on tiny data, lists the run, quits with `q`, and
leaves the terminal as it found it (main screen back, cursor shown, mouse reporting off, the shell
answering); and at 80x24 it trains a preset on the shared CIFAR-10 subset.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import CIFAR10_MINI, needs_cifar10_mini
from PIL import Image

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]


class Tmux:
    def __init__(self, width: int = 100, height: int = 30):
        self.session = f"kerashp-tui-{uuid.uuid4().hex[:8]}"
        self.run("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
                 "env", "PS1=$ ", "TERM=xterm-256color", "bash", "--norc", "--noprofile")

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True, timeout=30).stdout

    def send(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def flag(self, name: str) -> str:
        return self.run("display-message", "-p", "-t", self.session, f"#{{{name}}}").strip()

    def wait_for(self, text: str, timeout: float = 120) -> str:
        return self.wait_for_match(re.escape(text), timeout)

    def wait_for_match(self, pattern: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"{pattern!r} never appeared; the screen shows:\n{self.screen()}")

    def wait_gone(self, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text not in screen:
                return screen
            time.sleep(0.25)
        raise AssertionError(f"{text!r} never went away; the screen shows:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.session], capture_output=True, timeout=30)


def tui_command() -> list[str]:
    script = Path(sys.executable).with_name("kerashp-tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tui.app"]


def start_tui(tmux: Tmux, folder: Path, settings: list[str]) -> None:
    """Type the kerashp-tui command line into the shell, run in `folder`, echoing its exit code after."""
    tmux.send(f"cd {shlex.quote(str(folder))} && {shlex.join(tui_command() + settings)}; echo exit=$?", "Enter")


def quit_and_check_terminal(tmux: Tmux) -> None:
    """`q` ends the app with exit code 0 and leaves the terminal as it found it."""
    tmux.send("q")
    tmux.wait_for("exit=0", timeout=30)
    assert tmux.flag("alternate_on") == "0"  # back on the main screen
    assert tmux.flag("cursor_flag") == "1" and tmux.flag("mouse_any_flag") == "0"
    tmux.send("echo ready-$((6 * 7))", "Enter")
    tmux.wait_for("ready-42", timeout=10)


def test_tui_trains_in_a_real_terminal_and_quits_cleanly(tiny_folder, tmp_path):
    settings = [
        "--runs-dir", str(tmp_path / "runs"), "--preset", "lenet5",
        "--set", f"data.source=folder:{tiny_folder}", "--set", "train.batch_size=8",
        "--set", "data.validation=8", "--set", "train.epochs=2",
    ]
    tmux = Tmux()
    try:
        start_tui(tmux, tmp_path, settings)
        tmux.wait_for("1234 screens", timeout=60)
        assert tmux.flag("alternate_on") == "1"
        tmux.send("t")
        dashboard = tmux.wait_for("completed 2 epochs")
        assert "loss" in dashboard and "accuracy" in dashboard and "learning rate" in dashboard
        tmux.send("3")
        runs = tmux.wait_for("1 run in")
        assert "lenet5 " in runs and "completed" in runs and "2/2" in runs
        quit_and_check_terminal(tmux)
    finally:
        tmux.close()
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "summary.json").is_file() and (run / "history.csv").read_text().count("\n") == 3


@needs_cifar10_mini
def test_tui_trains_on_cifar10_mini_at_80x24(tmp_path):
    settings = [
        "--runs-dir", str(tmp_path / "runs"), "--preset", "lenet5",
        "--set", f"data.source=folder:{CIFAR10_MINI.resolve()}", "--set", "train.epochs=1",
        "--set", "data.validation=500",
    ]
    tmux = Tmux(80, 24)
    try:
        start_tui(tmux, tmp_path, settings)
        presets = tmux.wait_for("q quit", timeout=60)  # the footer keeps quit within 80 columns
        assert "lenet5" in presets
        tmux.send("t")
        dashboard = tmux.wait_for("completed 1 epochs", timeout=300)
        assert "accuracy" in dashboard and "epoch" in dashboard
        quit_and_check_terminal(tmux)
    finally:
        tmux.close()
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "history.csv").read_text().count("\n") == 2


def test_tui_stop_and_failure_messages_are_whole_at_80x24(tiny_folder, tmp_path):
    """The end of a message is what the user needs: the run to resume, the remedy for an error."""
    mixed_sizes = tmp_path / "mixed"  # passes the start-up check; fails as the data loads, with a remedy at the end
    shutil.copytree(tiny_folder, mixed_sizes)
    first_class = sorted((mixed_sizes / "test").iterdir())[0]
    Image.new("RGB", (40, 40)).save(first_class / "zz-larger.png")
    common = ["--runs-dir", "runs", "--preset", "lenet5", "--set", "train.batch_size=1", "--set", "data.validation=8"]
    tmux = Tmux(80, 24)
    try:
        # far more epochs than the test waits for: an epoch of this data takes 0.1 s, shown too briefly to catch
        start_tui(tmux, tmp_path, [*common, "--set", f"data.source=folder:{tiny_folder}", "--set", "train.epochs=1000"])
        tmux.wait_for("q quit", timeout=60)
        tmux.send("t")
        tmux.wait_for_match(r"epoch ([2-9]|\d\d+)/1000", timeout=180)  # epoch 1 finished
        tmux.send("s")
        tmux.wait_for("runs/lenet5-", timeout=120)
        screen = " ".join(tmux.wait_gone("s stop").split())  # the footer follows the run's end
        assert "resume with kerashp train --resume runs/lenet5-" in screen and "pause" not in screen
        quit_and_check_terminal(tmux)
        start_tui(tmux, tmp_path, [*common, "--set", f"data.source=folder:{mixed_sizes}"])
        tmux.wait_for("q quit", timeout=60)
        tmux.send("t")
        tmux.wait_for("every image", timeout=120)
        screen = " ".join(tmux.wait_gone("s stop").split())
        assert "run failed: DataError: " in screen and "to resize every image" in screen, screen
        assert "run failed before its" in screen and "waiting for the first" not in screen  # the charts say it
        quit_and_check_terminal(tmux)
    finally:
        tmux.close()


@needs_cifar10_mini
def test_tui_tweak_screen_sets_the_data_source_at_80x24(tmp_path):
    """README's relative path, typed into the tweak screen from the project folder, is checked as typed."""
    tmux = Tmux(80, 24)
    try:
        start_tui(tmux, Path(__file__).resolve().parents[2], ["--runs-dir", str(tmp_path / "runs"), "--preset", "lenet5"])
        tmux.wait_for("q quit", timeout=60)
        tmux.send("Enter")
        tmux.wait_for("Tweak lenet5", timeout=30)
        tmux.send("C-a", "C-k", "folder:../shared/data/nowhere")
        screen = tmux.wait_for("✗ 1 invalid", timeout=30)
        assert "no such" in screen and "folder:../shared/data/nowhere" in screen
        tmux.send("C-a", "C-k", "folder:../shared/data/cifar10-mini")
        tmux.wait_for("data/cifar10-mini", timeout=30)
        screen = tmux.wait_gone("invalid")
        assert "1 change marked" in screen and "● source" in screen and "no such" not in screen
        tmux.send("Escape")
        tmux.wait_for("1234 screens", timeout=30)
        quit_and_check_terminal(tmux)
    finally:
        tmux.close()
