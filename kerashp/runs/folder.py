"""The run directory: one folder per run holding everything needed to read, repeat or resume it.

    runs/<preset>-<YYYYmmdd-HHMMSS>[-N]/
        preset.toml        the resolved preset (every key, overrides applied)
        history.csv        one row per finished epoch
        events.jsonl       every event, one JSON object per line
        state.json         commit record: epochs done, best so far, wall time, the model table
        checkpoints/epoch-NNNN.keras   the last finished epoch (model + optimizer state)
        checkpoints/best.keras         the best epoch by the monitored metric
        summary.json       status, best epoch, final and test metrics, wall time, device, versions

Writes are atomic (temp file + rename) and `state.json` is written last at each epoch, so a run
killed at any point resumes from a consistent epoch. A process training a run holds `RunDir.lock()`
on its folder, so two processes never train one run. Files are read back through kerashp.runs.files;
the readers here are the lenient ones listings use: a damaged file reads as empty, and
`status()` says `damaged`.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerashp.config import preset_toml, read_toml
from kerashp.config.names import check_folder_name
from kerashp.errors import PresetError, RunError
from kerashp.runs import files as run_files
from kerashp.status import RunStatus

LOCK_WAIT_S = 0.2  # far longer than a held() probe keeps the lock, far shorter than a person notices
HISTORY_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_time")


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Make `path` by `write(temp)` and a rename, so readers see the old file or the new one, never
    half of it; a write that fails (a full disk) leaves no temp file behind."""
    temp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")  # the suffix kept: Keras and NumPy read it
    try:
        write(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, text: str) -> None:
    def write(temp: Path) -> None:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    replace_atomically(path, write)


@contextmanager
def writing(where: Path) -> Iterator[None]:
    """Report a write refused by the file system (read-only folder, full disk) as one line."""
    try:
        yield
    except OSError as exc:
        raise RunError(
            f"{exc.filename or where}: cannot write there ({exc.strerror}); pass --runs-dir DIR or free space"
        ) from None


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


@dataclass
class RunDir:
    path: Path

    # ------------------------------------------------------------------ creating and finding
    @classmethod
    def create(cls, runs_dir: Path, preset_name: str) -> RunDir:
        """A new, unique run directory. `mkdir` is atomic, so concurrent runs never share one; the
        preset's name must be a plain folder name, so no run lands outside `runs_dir`."""
        check_folder_name(preset_name, "preset")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        with writing(runs_dir):
            runs_dir.mkdir(parents=True, exist_ok=True)
            for attempt in range(1, 1000):
                suffix = "" if attempt == 1 else f"-{attempt}"
                path = runs_dir / f"{preset_name}-{stamp}{suffix}"
                try:
                    path.mkdir()
                except FileExistsError:
                    continue
                (path / "checkpoints").mkdir()
                return cls(path)
        raise RunError(f"{runs_dir}: could not create a unique run directory")

    @classmethod
    def open(cls, path: Path | str) -> RunDir:
        path = Path(path)
        if not (path / "preset.toml").is_file():
            raise RunError(f"{path}: not a kerashp run directory (no preset.toml)")
        return cls(path)

    @property
    def name(self) -> str:
        return self.path.name

    # ------------------------------------------------------------------ files
    @property
    def preset_file(self) -> Path:
        return self.path / "preset.toml"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.keras"

    def epoch_checkpoint(self, epoch: int) -> Path:
        return self.checkpoints / f"epoch-{epoch:04d}.keras"

    def write_preset(self, preset: dict) -> None:
        document = {k: v for k, v in preset.items() if k != "name"}
        header = f"# Resolved preset '{preset.get('name', '')}': every key, overrides applied.\n"
        atomic_write(self.preset_file, preset_toml(document, header))

    def read_preset_document(self) -> dict:
        """The resolved preset as written, for showing (not checked against the schema); empty when
        it is not TOML. Training reads it with run_files.read_preset."""
        try:
            return read_toml(self.preset_file)
        except PresetError:
            return {}

    def append_event(self, record: dict) -> None:
        with open(self.path / "events.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    def remove_temp_files(self) -> None:
        """Delete the temp files of writes a killed process never finished (never read: every
        write lands by renaming its temp file over the real one)."""
        for folder in (self.path, self.checkpoints):
            for temp in folder.glob(".*tmp*"):
                temp.unlink(missing_ok=True)

    def keep_only_checkpoint(self, epoch: int) -> None:
        """Delete every epoch checkpoint but `epoch`'s: the older one goes once an epoch is committed
        (also on resume, for a process killed between the commit and the delete)."""
        keep = self.epoch_checkpoint(epoch)
        for old in self.checkpoints.glob("epoch-*.keras"):
            if old != keep:
                old.unlink(missing_ok=True)

    def drop_partial_event(self) -> None:
        """Cut a last line left half-written by a killed process, before a resumed run appends."""
        events = self.path / "events.jsonl"
        if not events.exists():
            return
        with open(events, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    # ------------------------------------------------------------------ history
    @property
    def history_file(self) -> Path:
        return self.path / "history.csv"

    def read_history(self) -> list[dict[str, float]]:
        """The epochs' rows; none when history.csv is damaged (see `problem()`)."""
        return _lenient(run_files.read_history, self.history_file, [])

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=HISTORY_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(self.path / "history.csv", out.getvalue())

    # ------------------------------------------------------------------ state and summary
    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def summary_file(self) -> Path:
        return self.path / "summary.json"

    def read_state(self) -> dict:
        """The commit record; empty when missing or damaged."""
        return _lenient(run_files.read_state, self.state_file, {})

    def write_state(self, state: dict) -> None:
        write_json(self.state_file, state)

    def read_summary(self) -> dict:
        """The summary; empty when missing or damaged (see `problem()`)."""
        return _lenient(run_files.read_summary, self.summary_file, {})

    def write_summary(self, summary: dict) -> None:
        write_json(self.summary_file, summary)

    def problem(self) -> str | None:
        """What is wrong with the files a listing shows (summary.json, history.csv), or None."""
        try:
            run_files.read_summary(self.summary_file)
            run_files.read_history(self.history_file)
        except RunError as exc:
            return str(exc)
        return None

    def status(self) -> RunStatus | str:
        """The recorded status, `killed` for a run whose process is gone without saying so, or
        `damaged` for a summary.json that cannot be read. A status kerashp does not know (a later
        version's, or an edit) is returned as written."""
        try:
            summary = run_files.read_summary(self.summary_file)
        except RunError:
            return RunStatus.DAMAGED
        status = summary.get("status", RunStatus.UNKNOWN)
        if status == RunStatus.RUNNING and not self.held(summary.get("pid")):
            return RunStatus.KILLED
        try:
            return RunStatus(status)
        except ValueError:
            return status

    def held(self, pid: Any = None) -> bool:
        """Whether a process trains this run now: one holds its lock (`lock()`), which the kernel frees
        as the process ends, so a killed trainer left a zombie by its parent no longer counts (its pid
        would still answer a signal). Where the folder cannot be opened, `pid`'s process decides."""
        try:
            handle = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return _alive(pid)
        try:  # a shared probe for an instant; `lock()` waits that instant out rather than refusing
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(handle)
        return False

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run for this process: an exclusive `flock` on the run folder, which the kernel
        releases when the process ends however it ends. A second trainer is refused, after waiting
        LOCK_WAIT_S for a listing's `held()` probe to let go."""
        try:
            handle = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise RunError(f"{self.path}: cannot open the run folder ({exc.strerror})") from None
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(LOCK_WAIT_S / 10)
                    continue
                os.close(handle)
                pid = self.read_summary().get("pid")
                owner = f"process {pid}" if pid else "another process"
                raise RunError(f"{self.path}: still being trained by {owner}; stop it before resuming") from None
        try:
            yield
        finally:
            os.close(handle)


def _lenient(read: Callable[[Path], Any], path: Path, empty: Any) -> Any:
    try:
        return read(path)
    except RunError:
        return empty


def _alive(pid: Any) -> bool:
    """Whether process `pid` runs: it exists and is not a zombie (one that ended, not yet reaped)."""
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    try:  # "PID (name) STATE ...": the name may hold spaces and parentheses, the state follows the last ")"
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:  # gone since, or no /proc (not Linux: the signal's answer stands)
        return not Path("/proc/self/stat").exists()
    state = stat[stat.rfind(b")") + 2 :].split(b" ", 1)[0]
    return state not in (b"Z", b"X")


def list_runs(runs_dir: Path) -> list[RunDir]:
    """Run directories under `runs_dir`, oldest first."""
    try:
        folders = list(runs_dir.iterdir())
    except OSError:  # not a folder, or gone
        return []
    dated = []
    for folder in folders:
        try:  # a run deleted while the folder is listed is left out, not tripped over
            dated.append((folder.stat().st_mtime, folder.name, RunDir(folder)))
        except OSError:
            continue
    return [run for _, _, run in sorted(dated) if run.preset_file.is_file()]


class EventLogTail:
    """The records another process appends to an events.jsonl, read as they arrive: each `read()`
    returns the complete lines written since the last (a line still being written waits for the
    next read; the half line a killed process left behind, or anything not a JSON object, is skipped)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        records = []
        for line in complete.decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records
