"""The run directory: one folder per run holding everything needed to read, repeat or resume it.

    runs/<preset>-<YYYYmmdd-HHMMSS>[-N]/
        preset.toml        the resolved preset (every key, overrides applied)
        history.csv        one row per finished epoch
        events.jsonl       every event, one JSON object per line
        state.json         commit record: epochs done, last checkpoint, best so far, pid
        checkpoints/epoch-NNNN.keras   the last finished epoch (model + optimizer state)
        checkpoints/best.keras         the best epoch by the monitored metric
        summary.json       status, best epoch, final and test metrics, wall time, device, versions

Writes are atomic (temp file + rename) and `state.json` is written last at each epoch, so a run
killed at any point resumes from a consistent epoch.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import tomli_w

from kerashp.errors import RunError

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
        raise RunError(f"{exc.filename or where}: cannot write there ({exc.strerror}); pass --runs-dir DIR or free space") from None


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> dict:
    """Read a JSON file; a missing or half-written one (impossible with atomic writes, but
    a foreign file may be) reads as empty rather than crashing a listing."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@dataclass
class RunDir:
    path: Path

    # ------------------------------------------------------------------ creating and finding
    @classmethod
    def create(cls, runs_dir: Path, preset_name: str) -> "RunDir":
        """A new, unique run directory. `mkdir` is atomic, so concurrent runs never share one."""
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
    def open(cls, path: Path | str) -> "RunDir":
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
        atomic_write(self.preset_file, header + tomli_w.dumps(document))

    def read_preset_document(self) -> dict:
        import tomllib

        return tomllib.loads(self.preset_file.read_text(encoding="utf-8"))

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
    def read_history(self) -> list[dict[str, float]]:
        try:
            text = (self.path / "history.csv").read_text(encoding="utf-8")
        except OSError:
            return []
        rows = []
        for row in csv.DictReader(io.StringIO(text)):
            try:
                rows.append({k: float(v) if k != "epoch" else int(v) for k, v in row.items() if v not in ("", None)})
            except ValueError:
                continue
        return rows

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=HISTORY_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(self.path / "history.csv", out.getvalue())

    # ------------------------------------------------------------------ state and summary
    def read_state(self) -> dict:
        return read_json(self.path / "state.json")

    def write_state(self, state: dict) -> None:
        write_json(self.path / "state.json", state)

    def read_summary(self) -> dict:
        return read_json(self.path / "summary.json")

    def write_summary(self, summary: dict) -> None:
        write_json(self.path / "summary.json", summary)

    def status(self) -> str:
        """The recorded status, or `killed` for a run whose process is gone without saying so."""
        summary = self.read_summary()
        status = summary.get("status", "unknown")
        if status == "running" and not _alive(summary.get("pid")):
            return "killed"
        return status


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_runs(runs_dir: Path) -> list[RunDir]:
    """Run directories under `runs_dir`, oldest first."""
    if not runs_dir.is_dir():
        return []
    runs = [RunDir(p) for p in runs_dir.iterdir() if (p / "preset.toml").is_file()]
    return sorted(runs, key=lambda run: (run.path.stat().st_mtime, run.name))


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
