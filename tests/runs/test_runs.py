"""kerashp.runs pieces used across processes: following another process's events log, telling a run
whose trainer is gone from one still training, and the names a run folder may take."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kerashp.errors import PresetError
from kerashp.runs.folder import EventLogTail, RunDir, _alive
from kerashp.status import RunStatus


def test_event_log_tail_reads_whole_new_records_only(tmp_path):
    log = tmp_path / "events.jsonl"
    tail = EventLogTail(log)
    assert tail.read() == []  # not written yet
    log.write_bytes(b'{"event": "A"}\n[1, 2]\n{"event": "half wri')
    assert tail.read() == [{"event": "A"}]  # a JSON list is not an event; the half line waits
    with open(log, "ab") as handle:
        handle.write(b'tten"}\nnot json\n{"event": "C"}\n')
    assert tail.read() == [{"event": "half written"}, {"event": "C"}]
    assert tail.read() == []


def a_run(tmp_path: Path) -> RunDir:
    run = RunDir.create(tmp_path / "runs", "lenet5")
    run.preset_file.write_text("")
    return run


def test_status_reads_back_as_a_run_status_and_an_unknown_one_as_written(tmp_path):
    run = a_run(tmp_path)
    run.write_summary({"status": RunStatus.COMPLETED})
    assert json.loads(run.summary_file.read_text())["status"] == "completed"  # the file holds the plain string
    assert run.status() is RunStatus.COMPLETED
    run.write_summary({})
    assert run.status() is RunStatus.UNKNOWN
    run.write_summary({"status": "archived"})  # a later version's, or an edit: shown as written
    assert run.status() == "archived"
    run.summary_file.write_text("{")
    assert run.status() is RunStatus.DAMAGED


TRAINER = """
import os, signal, sys
from kerashp.runs.folder import RunDir
run = RunDir(__import__("pathlib").Path(sys.argv[1]))
with run.lock():
    run.write_summary({"status": "running", "pid": os.getpid()})
    print("ready", flush=True)
    if sys.argv[2] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.read()  # trains on until the parent closes our stdin
"""


def trainer(run: RunDir, then_die: bool) -> subprocess.Popen:
    """A child process that locks `run`, records it as running with its pid, and then either dies by
    SIGKILL (left unreaped until `wait()`: a zombie) or trains on until its stdin is closed. A new
    interpreter, not os.fork: forking a test process that has loaded gRPC's threads can hang the child."""
    child = subprocess.Popen([sys.executable, "-c", TRAINER, str(run.path), "die" if then_die else "live"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "ready\n"
    return child


def wait_until_zombie(pid: int) -> None:
    for _ in range(500):
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        if stat[stat.rfind(b")") + 2 :].startswith(b"Z"):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not end")


def test_a_killed_trainer_left_a_zombie_is_not_running(tmp_path):
    run = a_run(tmp_path)
    child = trainer(run, then_die=True)
    pid = child.pid
    try:
        wait_until_zombie(pid)
        os.kill(pid, 0)  # a zombie still answers a signal: this is what made status() say running
        assert run.status() == "killed"
        assert not run.held(pid)
        assert not _alive(pid)  # the fallback for a folder that cannot be probed
        with run.lock():  # and it can be resumed at once
            pass
    finally:
        child.communicate()
    assert not _alive(pid)


def test_a_live_trainer_is_running_and_keeps_its_run(tmp_path):
    run = a_run(tmp_path)
    child = trainer(run, then_die=False)
    pid = child.pid
    try:
        assert run.status() == "running"
        assert run.held() and _alive(pid)
        with pytest.raises(Exception, match=f"still being trained by process {pid}"):
            with run.lock():
                pass
    finally:
        child.communicate()  # closes its stdin: the child reads end-of-file and exits
    assert run.status() == "killed"  # it ended without saying so


def test_the_lock_waits_out_a_listings_probe(tmp_path):
    run = a_run(tmp_path)
    probe = os.open(run.path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)  # held() at the very instant a resume locks
    threading.Timer(0.05, os.close, (probe,)).start()
    with run.lock():
        assert run.held()


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "", "tab\there", "x" * 201])
def test_a_run_folder_is_made_only_from_a_plain_preset_name(tmp_path, name):
    runs = tmp_path / "deep" / "runs"
    with pytest.raises(PresetError, match="expected a plain name"):
        RunDir.create(runs, name)
    assert not any(p for p in tmp_path.rglob("*") if p.is_dir() and p != tmp_path / "deep")
    assert json.dumps(RunDir.create(runs, "lenet5").name).startswith('"lenet5-')


def test_a_runs_preset_holds_its_folder_source_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = RunDir.create(tmp_path / "runs", "lenet5")
    run.write_preset({"name": "lenet5", "data": {"source": "folder:images"}})
    assert run.read_preset_document()["data"]["source"] == f"folder:{tmp_path / 'images'}"  # reruns from anywhere
