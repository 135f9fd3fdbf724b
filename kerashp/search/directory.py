"""The search directory: everything a search needs to be read, resumed or joined by workers.

    <search>/
        search.toml        the resolved preset the search started from, [search] included
        tuner/             the KerasTuner project (oracle.json, trial_*/trial.json, <tuner id>.json)
        trials/<id>/       one folder per trial: record.json and its kerashp run directories
        trials.csv         one row per trial (rebuilt from the records)
        events.jsonl       what the search reported (trial started / ended), one JSON object per line
        logs/              worker output when `--local-workers` starts them

Running the same command again finds `search.toml` and continues; a different preset in the same
directory is refused rather than mixed in. Only `search.max_trials` (to extend a search) and
`search.prune` (median stopping, which decides only when a trial stops) may change.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerashp.config import Preset, portable, preset_toml, read_toml, validate
from kerashp.config.names import check_folder_name
from kerashp.errors import RunError, UserError
from kerashp.runs.folder import atomic_write
from kerashp.search.records import TrialRecord, is_trial_id, read_record, trial_order, trials_csv

PROJECT = "tuner"
LAYOUT = ("search.toml", PROJECT, "trials", "trials.csv", "events.jsonl", "logs")
CHANGEABLE = ("search.max_trials", "search.prune")


@dataclass
class SearchDir:
    path: Path

    @classmethod
    def prepare(cls, path: Path, preset: Preset, overwrite: bool = False) -> SearchDir:
        """Create the directory for `preset`, or reopen it when it holds the same search."""
        search = cls(Path(path))
        check_folder_name(preset.name, "preset")
        if overwrite:
            search.remove()
        if not search.preset_file.is_file() and search.path.is_dir() and search._foreign_entries():
            raise UserError(f"{search.path}: exists and is not a kerashp search directory (no search.toml)")
        search.path.mkdir(parents=True, exist_ok=True)
        with search._lock():  # workers started together prepare it one at a time
            if search.preset_file.is_file():
                _check_same(search.read_preset(), portable(preset), search.path)
            search.trials.mkdir(exist_ok=True)
            document = {key: value for key, value in preset.items() if key != "name"}
            header = f"# Search of preset '{preset.name}': the resolved preset, [search] included.\n"
            atomic_write(search.preset_file, preset_toml(document, header + f"name = {json.dumps(preset.name)}\n"))
        return search

    @classmethod
    def open(cls, path: Path | str) -> SearchDir:
        search = cls(Path(path))
        if not search.preset_file.is_file():
            raise RunError(f"{search.path}: not a kerashp search directory (no search.toml)")
        return search

    def remove(self) -> None:
        """Delete an earlier search here; refuse anything that is not one."""
        if not self.path.exists():
            return
        if not self.preset_file.is_file():
            raise UserError(f"{self.path}: not a kerashp search directory (no search.toml); not removing it")
        shutil.rmtree(self.path)

    def _foreign_entries(self) -> list[str]:
        """Entries a search never writes (hidden files are its lock and temporary files)."""
        return [e.name for e in self.path.iterdir() if e.name not in LAYOUT and not e.name.startswith(".")]

    # ------------------------------------------------------------------ layout
    @property
    def preset_file(self) -> Path:
        return self.path / "search.toml"

    @property
    def trials(self) -> Path:
        return self.path / "trials"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    def trial_dir(self, trial_id: str) -> Path:
        """A trial's folder inside trials/. Ids come over the network (a chief hands them to its
        workers), so anything but a plain trial id, or a trial folder that is a link, is refused."""
        if not is_trial_id(trial_id):
            raise RunError(f"trial id {json.dumps(trial_id)[:40]}: expected digits, as KerasTuner numbers trials")
        folder = self.trials / trial_id
        if folder.is_symlink():
            raise RunError(f"{folder}: a link; a trial's folder must be a folder inside the search")
        return folder

    def read_preset(self) -> Preset:
        """search.toml, checked as any preset is; its `name` becomes part of the trials' run folder
        names, so it must be a plain name."""
        document = read_toml(self.preset_file)
        name = check_folder_name(document.pop("name", self.path.name), str(self.preset_file))
        preset = validate(document, source=str(self.preset_file))
        preset["name"] = name
        return preset

    # ------------------------------------------------------------------ records
    def write_record(self, record: TrialRecord) -> None:
        folder = self.trial_dir(record.trial_id)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "record.json", record.dumps())

    def records(self) -> list[TrialRecord]:
        """Every trial's record, checked (kerashp.search.records.read_record); a record removed
        while they are read is left out."""
        found = []
        for path in self.trials.glob("*/record.json"):
            try:
                found.append(read_record(path))
            except RunError:
                if path.exists():
                    raise
        return sorted(found, key=trial_order)

    def write_table(self) -> list[TrialRecord]:
        """Rebuild trials.csv from every record; the lock keeps concurrent workers from losing a row."""
        with self._lock():
            records = self.records()
            atomic_write(self.path / "trials.csv", trials_csv(records, list(self.read_preset()["search"]["space"])))
        return records

    def append_event(self, event: dict) -> None:
        with self._lock(), open(self.path / "events.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, default=str) + "\n")

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.path / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _check_same(stored: Preset, preset: Preset, path: Path) -> None:
    if stored.name != preset.name:
        raise UserError(
            f"{path}: holds a search of preset '{stored.name}', not '{preset.name}'; "
            "pass --overwrite to start over or --dir for a new search"
        )
    key = next((key for key in _differences(dict(stored), dict(preset)) if key not in CHANGEABLE), None)
    if key is not None:
        raise UserError(
            f"{path}: holds a search with a different {key}; pass --overwrite to start over or --dir for a new search"
        )


def _differences(old: Any, new: Any, prefix: str = "") -> Iterator[str]:
    """The dotted keys of the values that differ, in sorted order (all of them: a changeable
    one must not hide another change after it)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if key != "name":
                yield from _differences(old.get(key), new.get(key), f"{prefix}{key}.")
    elif old != new:
        yield prefix.rstrip(".")
