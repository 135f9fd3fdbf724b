"""Property: whatever happens to one file of a run folder (cut short, deleted, replaced by another
JSON type, re-encoded, given values out of range), `kerashp runs`, the TUI's runs rows,
`kerashp report` and `kerashp train --resume` print no traceback, and the resume loses no
checkpoint or history row that was there before it.

One real run is trained once and copied per example. The resume runs every check and every write
it makes before training; training itself is replaced by a stub, so an example takes seconds."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kerashp.cli import main as kerashp_main
from kerashp.runs.folder import list_runs
from kerashp.runs.listing import run_row

pytestmark = pytest.mark.e2e

FILES = (
    "state.json", "summary.json", "history.csv", "preset.toml", "events.jsonl", "normalization.json",
    "checkpoints/epoch-0002.keras", "checkpoints/best.keras",
)  # fmt: skip
BAD_VALUES = (-1, 0, 10**30, 1e30, -1e300, "2", "", [], {}, None, True, 2.5)


def out_of_range(data: st.DataObject, path: Path) -> bytes:
    """One value of the file replaced by one of the wrong type or out of range."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        document = json.loads(text)
        key = data.draw(st.sampled_from(sorted(document)))
        document[key] = data.draw(st.sampled_from(BAD_VALUES))
        return json.dumps(document).encode()
    if path.suffix == ".csv":
        lines = text.splitlines()
        row = data.draw(st.integers(1, len(lines) - 1))
        cells = lines[row].split(",")
        cells[data.draw(st.integers(0, len(cells) - 1))] = data.draw(st.sampled_from(["-1", "abc", "", "1e999", "7"]))
        lines[row] = ",".join(cells)
        return "\n".join(lines).encode() + b"\n"
    old = data.draw(st.sampled_from(["epochs = 2", 'name = "lenet5"', "batch_size = 8"]))
    new = data.draw(st.sampled_from(["epochs = -3", 'name = "nope"', "batch_size = 1e9", "batch_size = [1]"]))
    return text.replace(old, old.split(" = ")[0] + new[new.index(" = "):]).encode()


@st.composite
def corruption(draw: st.DrawFn):
    return draw(st.sampled_from(FILES)), draw(st.sampled_from(("truncate", "delete", "json type", "encoding", "range")))


def corrupt(data: st.DataObject, run: Path, name: str, kind: str) -> None:
    path = run / name
    raw = path.read_bytes()
    if kind == "delete":
        path.unlink()
    elif kind == "truncate":
        path.write_bytes(raw[: data.draw(st.integers(0, max(0, len(raw) - 1)))])
    elif kind == "json type":
        path.write_text(json.dumps(data.draw(st.sampled_from([[1], "text", 3, None, [{"epochs_done": 2}]]))))
    elif kind == "encoding":
        at = data.draw(st.integers(0, len(raw)))
        path.write_bytes(raw[:at] + b"\xff\xfe\x80" + raw[at:])
    elif path.suffix == ".keras":
        path.write_bytes(raw[:100] + b"\0" * 100 + raw[200:])
    else:
        path.write_bytes(out_of_range(data, path))


def kept(run: Path) -> dict[str, bytes]:
    """The checkpoints and history rows a resume must not lose."""
    files = {p.name: p.read_bytes() for p in (run / "checkpoints").glob("*.keras")}
    history = run / "history.csv"
    if history.exists():
        files["history.csv"] = history.read_bytes()
    return files


def cli(*args: str) -> tuple[int, str]:
    """Run the CLI in this process; its exit code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = kerashp_main(list(args))
    return code, err.getvalue()


def no_training(run, *args, **kwargs):
    """In place of training: every check and write before it has happened."""
    from kerashp.status import RunStatus
    from kerashp.training.run import RunResult

    return RunResult(run, RunStatus.COMPLETED, {})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), damage=corruption())
def test_a_damaged_run_folder_never_gives_a_traceback_nor_loses_what_it_holds(trained, data, damage, tally):
    with tempfile.TemporaryDirectory() as scratch:
        runs = Path(scratch) / "runs"
        run = Path(shutil.copytree(trained, runs / trained.name))
        corrupt(data, run, *damage)

        code, err = cli("runs", "--runs-dir", str(runs))
        assert code == 0 and "Traceback" not in err, err
        for listed in list_runs(runs):
            run_row(listed)  # the TUI's runs screen shows these rows

        code, err = cli("report", str(runs), "--out", str(Path(scratch) / "report"))
        assert code in (0, 2) and "Traceback" not in err and err.count("\n") <= 1, err

        before = kept(run)
        with mock.patch("kerashp.training.run._execute", no_training):
            code, err = cli("train", "--resume", str(run), "--epochs", "3")
        assert code in (0, 2) and "Traceback" not in err and err.count("\n") <= 1, err
        after = kept(run)
        lost = {name for name in before if name not in after}
        changed = {name for name in before.keys() & after.keys() if before[name] != after[name]}
        if code == 0:  # resumed: best.keras may be recopied from the committed epoch, as after a kill
            changed.discard("best.keras")
        assert not lost and not changed, f"{damage}: resume (exit {code}) lost {lost}, changed {changed}: {err}"
    tally(f"run folder corruptions survived ({damage[1]})")
