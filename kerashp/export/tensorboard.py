"""Runs, searches and studies as TensorBoard event files: per-epoch scalars for every run and the
HParams plugin's data, so `tensorboard --logdir OUT` shows the hyperparameter table and the
parallel-coordinates view (KerasTuner writes these only on the TensorFlow backend).

    <out>/
        kerashp-export.json              what was exported and when; marks the folder as an export
        events.out.tfevents.*            the HParams experiment: every hyperparameter and metric
        <source>/<run>/events.out.tfevents.*   one session per run: its hyperparameters, one scalar
                                         per history.csv column per epoch, its best and test figures

A session's hyperparameters are a search trial's values (its record.json, the search space's keys),
or, for runs and study variants, the preset keys whose values differ among the exported runs.
Everything is read through the validating readers, and the export is written beside `out` and
swapped in only when complete, so a refused or failed export leaves `out` as it was.

Written with tensorboard's own record writer and summary protos, not its `EventFileWriter`: that
opens files through `tensorboard.compat.tf`, which imports TensorFlow whenever it is installed (it
is, for tfds), and kerashp keeps TensorFlow out of its processes.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import summary_v2 as hp
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.summary.writer.record_writer import RecordWriter

from kerashp.errors import UserError
from kerashp.export.sources import source_kind
from kerashp.report.sections import hyperparameters
from kerashp.runs import files as run_files
from kerashp.runs.folder import RunDir, list_runs, write_json
from kerashp.search.results import SearchResults
from kerashp.study.folder import StudyFolder
from kerashp.text import slug, toml_value

MARKER = "kerashp-export.json"
FILE_VERSION = "brain.Event:2"  # what TensorBoard expects as an event file's first record
HParam = bool | int | float | str  # the value types the HParams plugin holds
Progress = Callable[[int, int], None]  # (sessions written, sessions in all)


@dataclass
class Session:
    """One run as the HParams plugin sees it: a folder of scalars with its hyperparameters."""

    name: str  # its folder under the export, e.g. "lenet5-lr/trial-3"
    group: str | None  # a search trial's executions share one; None: grouped by equal hyperparameters
    hparams: dict[str, Any]
    history: list[dict[str, float]]
    summary: dict

    def final_metrics(self) -> dict[str, float]:
        """The figures a run has once, at its end: the best value of the monitored metric, and the
        test set's (a metric not measured is left out)."""
        final = {f"best/{name}": value for name, value in (self.summary.get("best") or {}).items()}
        final |= {f"test/{name}": value for name, value in (self.summary.get("test") or {}).items()}
        return {tag: value for tag, value in final.items() if value is not None}

    def tags(self) -> list[str]:
        columns = [key for row in self.history for key in row if key != "epoch"]
        return list(dict.fromkeys([*columns, *self.final_metrics()]))


def export_tensorboard(
    paths: Sequence[Path], out: Path, overwrite: bool = False, progress: Progress | None = None
) -> list[Session]:
    """Export every run, search trial and study variant under `paths` into `out`; returns the
    sessions written. Checks `out` and reads every source before anything is written."""
    out = Path(os.path.abspath(out))
    check_out(out, overwrite)
    sessions = read_sessions(paths)
    if not sessions:
        raise UserError(f"{', '.join(map(str, paths))}: no runs to export yet")

    def write(folder: Path) -> None:
        _write_events(folder, [_event(time.time(), experiment_summary(sessions))])
        for done, session in enumerate(sessions, start=1):
            _write_events(folder / session.name, session_events(session))
            if progress:
                progress(done, len(sessions))
        write_json(folder / MARKER, {"format": "tensorboard", "sources": [str(p) for p in paths],
                                     "sessions": len(sessions), "created": time.time()})  # fmt: skip

    try:
        _swap_in(out, write)
    except OSError as exc:
        raise UserError(f"{exc.filename or out}: cannot write the export there ({exc.strerror})") from None
    return sessions


def check_out(out: Path, overwrite: bool) -> None:
    """`out` must be new, empty or an earlier export (replaced only with `overwrite`): an export never
    mixes with, or deletes, files it did not write."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(f"{out}: a file, not a folder; choose another --out")
    if (out / MARKER).is_file():
        if not overwrite:
            raise UserError(f"{out}: holds an earlier export; pass --overwrite to replace it, or choose another --out")
    elif any(out.iterdir()):
        raise UserError(f"{out}: not empty and not a kerashp export (no {MARKER}); choose a new or empty --out")


# ---------------------------------------------------------------------------------------- reading


def read_sessions(paths: Sequence[Path]) -> list[Session]:
    """Every run under `paths`, in order, named uniquely by its source and folder."""
    sessions: list[Session] = []
    by_preset: list[tuple[Session, dict[str, Any]]] = []  # runs and study variants: hparams follow
    for path in paths:
        kind, source = source_kind(path), slug(Path(os.path.abspath(path)).name)
        if kind == "search":
            sessions += _search_sessions(path, source)
            continue
        named = _study_runs(path, source) if kind == "study" else _loose_runs(path, kind, source)
        for name, run in named:
            preset, session = _read_run(run, name, group=None, hparams={})
            by_preset.append((session, hyperparameters(preset)))
            sessions.append(session)
    taken: set[str] = set()
    for session in sessions:
        session.name = _unique(session.name, taken)
    keys = _differing([flat for _, flat in by_preset])
    for session, flat in by_preset:
        session.hparams = {key: flat[key] for key in keys if key in flat}
    _harmonise(sessions)
    return sessions


def _search_sessions(path: Path, source: str) -> list[Session]:
    """One session per execution of each trial (search.toml and every record.json checked)."""
    results = SearchResults.load(path)
    sessions = []
    for record in sorted(results.records, key=lambda record: record.number):
        for execution, run in enumerate(record.runs, start=1):
            name = f"{source}/trial-{record.trial_id}" + (f"/execution-{execution}" if len(record.runs) > 1 else "")
            group = f"{source} trial {record.trial_id}"
            sessions.append(_read_run(results.search.path / run, name, group, record.hyperparameters)[1])
    return sessions


def _study_runs(path: Path, source: str) -> list[tuple[str, Path]]:
    """Each variant's runs that exist (one per seed), named by their folder in the study (`1.2-lr=0.05`,
    or `1.2-lr=0.05/seed-1000` when the study has several seeds)."""
    study = StudyFolder.open(path)
    return [
        (f"{source}/{run.folder.removeprefix('runs/')}", study.path / run.run_dir)
        for factor in study.factors
        for variant in factor["variants"]
        for run in variant.runs
        if run.run_dir
    ]


def _loose_runs(path: Path, kind: str, source: str) -> list[tuple[str, Path]]:
    if kind == "run":
        return [(source, path)]
    return [(f"{source}/{slug(run.name)}", run.path) for run in list_runs(path)]


def _read_run(path: Path, name: str, group: str | None, hparams: dict[str, Any]) -> tuple[dict, Session]:
    """A run's preset, history and summary through the validating readers (one RunError otherwise)."""
    run = RunDir.open(path)
    preset = run_files.read_preset(run.preset_file)
    history = run_files.read_history(run.history_file)
    summary = run_files.read_summary(run.summary_file)
    return preset, Session(name, group, dict(hparams), history, summary)


def _differing(flats: list[dict[str, Any]]) -> list[str]:
    """The keys whose values are not the same in every preset (or missing from some)."""
    keys = sorted({key for flat in flats for key in flat})
    return [key for key in keys if len({toml_value(flat.get(key, "")) for flat in flats}) > 1]


def _unique(name: str, taken: set[str]) -> str:
    unique, count = name, 1
    while unique in taken:
        count += 1
        unique = f"{name}-{count}"
    taken.add(unique)
    return unique


def _harmonise(sessions: list[Session]) -> None:
    """Give each hyperparameter one type in every session, as the HParams plugin needs: booleans,
    numbers, or else strings (a list or a mix of types as its TOML text)."""
    for key in dict.fromkeys(key for session in sessions for key in session.hparams):
        values = [session.hparams[key] for session in sessions if key in session.hparams]
        if all(isinstance(v, bool) for v in values) or all(_is_number(v) for v in values):
            continue
        for session in sessions:
            if key in session.hparams and not isinstance(session.hparams[key], str):
                session.hparams[key] = toml_value(session.hparams[key])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------- writing


def experiment_summary(sessions: list[Session]) -> Summary:
    """The HParams experiment: each hyperparameter with the values the sessions took, and each metric."""
    hparams = []
    for key in dict.fromkeys(key for session in sessions for key in session.hparams):
        values = [session.hparams[key] for session in sessions if key in session.hparams]
        hparams.append(hp.HParam(key, _domain(values)))
    tags = dict.fromkeys(tag for session in sessions for tag in session.tags())
    return hp.hparams_config_pb(hparams, [hp.Metric(tag) for tag in tags], time_created_secs=time.time())


def _domain(values: list[HParam]) -> hp.Domain | None:
    if all(_is_number(v) for v in values):
        finite = [number for number in map(float, values) if math.isfinite(number)]
        return hp.RealInterval(min(finite), max(finite)) if finite else None
    return hp.Discrete(sorted(set(values)))  # all booleans or all strings (harmonised)


def session_events(session: Session) -> list[Event]:
    """The session's hyperparameters, then each epoch's scalars at its time, then its final figures."""
    start = session.summary.get("started") or time.time()
    events = [_event(start, hp.hparams_pb(session.hparams, trial_id=session.group, start_time_secs=start))]
    wall, step = start, 0
    for row in session.history:
        wall, step = wall + row.get("epoch_time", 0.0), int(row["epoch"])
        events += [_event(wall, scalar_pb(tag, value), step) for tag, value in row.items() if tag != "epoch"]
    events += [_event(wall, scalar_pb(tag, value), step) for tag, value in session.final_metrics().items()]
    return events


def _event(wall_time: float, summary: Summary, step: int = 0) -> Event:
    return Event(wall_time=wall_time, step=step, summary=summary)


def _write_events(folder: Path, events: Iterable[Event]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"events.out.tfevents.{int(time.time())}.kerashp", "wb") as handle:
        records = RecordWriter(handle)
        records.write(Event(wall_time=time.time(), file_version=FILE_VERSION).SerializeToString())
        for event in events:
            records.write(event.SerializeToString())


def _swap_in(out: Path, write: Callable[[Path], None]) -> None:
    """Write the export into a hidden folder beside `out`, then rename it into place (an earlier
    export there is renamed aside first and deleted last), so `out` is never half written."""
    staging, aside = (out.with_name(f".{out.name}.{os.getpid()}.{part}") for part in ("tmp", "old"))
    shutil.rmtree(staging, ignore_errors=True)  # left by a killed export that had this process id
    staging.mkdir(parents=True)
    try:
        write(staging)
        if out.exists():
            out.rename(aside)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)
