"""Reading a run folder back. Every file kerashp reads from a run (`state.json`, `summary.json`,
`normalization.json`, `history.csv`, `preset.toml`, checkpoints) comes through here: a reader
returns well-formed data (right types, values in range) or raises one `RunError` naming the file
and what is wrong with it. A run folder is untrusted: anyone may have edited, cut or replaced it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kerashp.config import Preset, read_toml, validate
from kerashp.errors import RunError

Check = Callable[[Any], str | None]  # a problem with a value, or None when it is fine

LARGEST_COUNT = 10**9
LARGEST_PID = 2**31 - 1  # os.kill takes a C int
LARGEST_SECONDS = 1e11  # a timestamp or a duration; far beyond any real one


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= LARGEST_COUNT
    return None if ok else f"expected a whole number from 0 to {LARGEST_COUNT}"


def _pid(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= LARGEST_PID
    return None if ok else f"expected a process id from 1 to {LARGEST_PID}"


def _seconds(value: Any) -> str | None:
    ok = _number(value) and math.isfinite(value) and 0 <= value <= LARGEST_SECONDS
    return None if ok else "expected a number of seconds, 0 or more"


def _score(value: Any) -> str | None:
    return None if value is None or _number(value) else "expected a number or null"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "expected a string"


def _table(value: Any) -> str | None:
    return None if isinstance(value, dict) else "expected an object"


def _metrics(value: Any) -> str | None:
    """`{"val_accuracy": 0.5, ...}`: names to numbers (null for a metric not measured yet)."""
    if not isinstance(value, dict):
        return "expected an object of metric names to numbers"
    bad = next((key for key, number in value.items() if _score(number)), None)
    return None if bad is None else f"{bad}: expected a number or null"


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


SUMMARY_FIELDS: dict[str, Check] = {
    **dict.fromkeys(("status", "preset", "device", "memory_layout", "error"), _text),
    **dict.fromkeys(("epochs", "epochs_done", "parameters", "trainable_parameters", "diverged_at_epoch"), _count),
    **dict.fromkeys(("wall_time", "wall_time_before", "started", "finished"), _seconds),
    **dict.fromkeys(("best", "final", "test"), _metrics),
    "best_epoch": _optional(_count),
    "last_finite": _optional(_metrics),
    "pid": _pid,
    "versions": _table,
}
STATE_FIELDS: dict[str, Check] = {
    "epochs_done": _count,
    "best_epoch": _optional(_count),
    "best_value": _score,
    "wall_time": _seconds,
    "model": _table,
}


def read_object(path: Path) -> dict:
    """The JSON object in `path`; anything else (missing, cut short, not UTF-8, a list) is a RunError."""
    text = _read_text(path)
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RunError(f"{path}: not valid JSON ({str(exc).splitlines()[0][:80]})") from None
    if not isinstance(document, dict):
        raise RunError(f"{path}: holds a JSON {type(document).__name__}, not an object")
    return document


def _read_text(path: Path) -> str:
    """The UTF-8 text in `path`; missing, unreadable or not UTF-8 is a RunError."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except OSError as exc:
        raise RunError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise RunError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})") from None


def _checked(path: Path, document: dict, fields: dict[str, Check], required: tuple[str, ...] = ()) -> dict:
    for key in required:
        if key not in document:
            raise RunError(f"{path}: {key}: missing")
    for key, check in fields.items():
        problem = check(document[key]) if key in document else None
        if problem:
            raise RunError(f"{path}: {key} = {json.dumps(document[key])[:40]}: {problem}")
    return document


def read_summary(path: Path) -> dict:
    """summary.json; a run that never wrote one (killed while starting) reads as `{}`."""
    if not path.exists():
        return {}
    return _checked(path, read_object(path), SUMMARY_FIELDS)


def read_state(path: Path) -> dict:
    """state.json, the commit record: epochs done, best epoch and value, wall time, model table."""
    state = _checked(path, read_object(path), STATE_FIELDS, required=("epochs_done",))
    best = state.get("best_epoch")
    if best is not None and not 1 <= best <= state["epochs_done"]:
        raise RunError(f"{path}: best_epoch = {best}: expected 1 to epochs_done ({state['epochs_done']})")
    return state


def read_normalization(path: Path) -> dict:
    """normalization.json: the per-channel mean and std the run began with."""
    stats = read_object(path)
    for key in ("mean", "std"):
        values = stats.get(key)
        if (
            not isinstance(values, list)
            or len(values) not in (1, 3)
            or not all(_number(v) and math.isfinite(v) and (key == "mean" or v > 0) for v in values)
        ):
            allowed = "finite numbers" if key == "mean" else "numbers above 0"
            raise RunError(f"{path}: {key}: expected a list of 1 or 3 {allowed}")
    return stats


def read_history(path: Path) -> list[dict[str, float]]:
    """history.csv: one row per finished epoch, numbered 1, 2, 3... with numeric metrics."""
    if not path.exists():
        return []
    text = _read_text(path)
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise RunError(f"{path}: not valid CSV ({exc})") from None
    return [_history_row(path, number, row) for number, row in enumerate(rows, start=1)]


def _history_row(path: Path, number: int, row: dict) -> dict[str, float]:
    where = f"{path}: row {number}"
    if None in row or None in row.values():
        raise RunError(f"{where}: expected one value per column of the header")
    parsed: dict[str, float] = {}
    for key, value in row.items():
        if value == "":
            continue  # a metric not measured (no validation split)
        try:
            parsed[key] = int(value) if key == "epoch" else float(value)
        except ValueError:
            raise RunError(f"{where}: {key} = {value[:20]!r}: expected a number") from None
    if parsed.get("epoch") != number:
        raise RunError(f"{where}: epoch = {row.get('epoch')!r}: expected {number} (rows are epochs 1, 2, 3...)")
    return parsed


def read_preset(path: Path) -> Preset:
    """preset.toml, checked as any preset is (kerashp.config), its errors naming the run's file."""
    return validate(read_toml(path), source=str(path))


CHECKPOINT_MEMBERS = ("config.json", "model.weights.h5")


def check_checkpoint(path: Path) -> None:
    """A `.keras` checkpoint that exists and has the parts Keras saves (loading may still refuse it)."""
    if not path.is_file():
        raise RunError(f"{path}: missing")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise RunError(f"{path}: not a Keras checkpoint (not a .keras zip archive)") from None
    absent = [name for name in CHECKPOINT_MEMBERS if name not in names]
    if absent:
        raise RunError(f"{path}: not a Keras checkpoint (no {' or '.join(absent)} inside)")
