"""Reports: the figures and final-epoch tables of a study, of a search's trials, or of any runs.

A report has sections (one study factor, one search, one set of runs). Each section's folder gets
`loss.png`, `accuracy.png`, `lr.png` (only when the runs' learning-rate curves differ), `table.md`
and `table.csv`; a search section adds `objective.png` and `parallel.png`. `report.md` at the top
ties the sections together and names each section's winner; `report.html` is the same page with
the figures inline, one file to open or send.

The winner is the run with the highest final-epoch validation accuracy among runs that neither
diverged nor failed (a diverged run's last weights are not usable), as the studies compared them.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote

from kerashp import figures
from kerashp.errors import UserError
from kerashp.runs import RunDir, atomic_write, list_runs

NOT_WINNERS = ("diverged", "failed")
TABLE_COLUMNS = (
    "variant", "status", "epochs", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
    "best_val_accuracy", "best_val_epoch", "test_loss", "test_accuracy", "parameters", "winner", "run_dir",
)  # fmt: skip
# (column, header, which value is best) for table.md; None: not compared
SHOWN_COLUMNS = (
    ("train_loss", "train loss", min),
    ("train_accuracy", "train acc", max),
    ("val_loss", "val loss", min),
    ("val_accuracy", "val acc", max),
    ("best_val_accuracy", "best val acc", max),
    ("best_val_epoch", "best epoch", None),
    ("test_loss", "test loss", min),
    ("test_accuracy", "test acc", max),
)
# a preset's [reference] key -> the measured statistic it is compared with
REFERENCE_MEASURES = {
    "train_accuracy": "train_accuracy",
    "val_accuracy": "val_accuracy",
    "test_accuracy": "test_accuracy",
    "parameters": "parameters",
    "epochs": "epochs",
}
LABEL_KEYS_AT_MOST = 3  # runs differing in more preset keys than this are labelled by folder name
IGNORED_PRESET_KEYS = ("description", "study", "reference")
FIGURES = ("loss.png", "accuracy.png", "lr.png", "objective.png", "parallel.png")  # every figure a section may draw
SEARCH_CURVES = 8  # a search report draws the curves of its best trials only
TRIAL_COLUMNS = ("trial_id", "status", "objective")  # required in trials.csv, plus one column per hyperparameter
# the other columns a search may write about its trials (not hyperparameters)
TRIAL_BOOKKEEPING = (*TRIAL_COLUMNS, "run_dir", "epochs", "best_epoch", "time_s", "worker", "bracket", "round", "parent", "reason")


# ---------------------------------------------------------------------------------------- what is reported


@dataclass
class Series:
    """One run as a report draws and tabulates it."""

    label: str
    run: RunDir
    history: list[dict]
    summary: dict
    preset: dict  # the resolved preset document from preset.toml

    @classmethod
    def load(cls, path: Path | str, label: str = "") -> "Series":
        run = RunDir.open(path)
        return cls(label or run.name, run, run.read_history(), run.read_summary(), run.read_preset_document())

    def stats(self) -> dict[str, Any]:
        """Final-epoch statistics (the last history row), best validation epoch and test figures."""
        last = self.history[-1] if self.history else {}
        validated = [row for row in self.history if "val_accuracy" in row]
        best = max(validated, key=lambda row: row["val_accuracy"], default={})  # the earliest on ties
        test = self.summary.get("test") or {}
        return {
            "variant": self.label,
            "status": self.run.status(),
            "epochs": last.get("epoch"),
            "train_loss": last.get("loss"),
            "train_accuracy": last.get("accuracy"),
            "val_loss": last.get("val_loss"),
            "val_accuracy": last.get("val_accuracy"),
            "best_val_accuracy": best.get("val_accuracy"),
            "best_val_epoch": best.get("epoch"),
            "test_loss": test.get("loss"),
            "test_accuracy": test.get("accuracy"),
            "parameters": self.summary.get("parameters"),
            "run_dir": str(self.run.path),
        }


@dataclass
class Trials:
    """A search's trials.csv: one row per trial, its hyperparameters and objective."""

    rows: list[dict[str, str]]
    hyperparameters: list[str]
    objective: str
    maximize: bool

    def scored(self) -> list[dict[str, str]]:
        return [row for row in self.rows if _number(row["objective"]) is not None]


@dataclass
class Section:
    """One part of a report: a study factor, a search or a set of runs."""

    title: str
    series: list[Series]
    folder_name: str = ""  # its subfolder when the report has several sections
    notes: list[str] = field(default_factory=list)  # markdown paragraphs shown first
    trials: Trials | None = None
    subject: str = ""  # what the figure titles name (default: the title), e.g. the study and its factor


def pick_winner(rows: list[dict]) -> int | None:
    """Index of the row with the highest final validation accuracy among usable runs."""
    usable = [i for i, row in enumerate(rows) if row["status"] not in NOT_WINNERS and row["val_accuracy"] is not None]
    return max(usable, key=lambda i: rows[i]["val_accuracy"], default=None)


def winner_sentence(rows: list[dict], winner: int | None) -> str:
    if winner is None:
        return "No winner: no run that neither diverged nor failed recorded a validation accuracy."
    row = rows[winner]
    test = f"; test accuracy {_num(row['test_accuracy'])}" if row["test_accuracy"] is not None else ""
    return (
        f"Winner by validation accuracy: **{row['variant']}** with {_num(row['val_accuracy'])} at the final epoch "
        f"(best {_num(row['best_val_accuracy'])} at epoch {row['best_val_epoch']}{test})."
    )


# ---------------------------------------------------------------------------------------- finding sources


def runs_section(paths: list[Path]) -> Section:
    """Runs named by the user, labelled by the preset keys in which they differ; titled by the run's
    name, or by how many runs of which presets."""
    series = [Series.load(path) for path in paths]
    for one, label in zip(series, distinguishing_labels(series)):
        one.label = label
    presets = ", ".join(dict.fromkeys(one.summary.get("preset") or one.run.name for one in series))
    title = f"run {series[0].run.name}" if len(series) == 1 else f"{len(series)} runs of {presets}"
    return Section(title, series, folder_name="runs")


def distinguishing_labels(series: list[Series]) -> list[str]:
    """`learning_rate=0.05`-style labels from the preset keys that differ between runs; the run's
    folder name when none or too many differ. Labels stay unique."""
    flat = [_flatten({"preset": one.summary.get("preset", ""), **one.preset}) for one in series]
    differing = [
        key
        for key in sorted({key for keys in flat for key in keys})
        if key.split(".")[0] not in IGNORED_PRESET_KEYS and len({_short(keys.get(key)) for keys in flat}) > 1
    ]
    if len(series) < 2 or not differing or len(differing) > LABEL_KEYS_AT_MOST:
        return [one.run.name for one in series]
    labels = [", ".join(f"{key.split('.')[-1]}={_short(keys.get(key))}" for key in differing) for keys in flat]
    return [label if labels.count(label) == 1 else f"{label} ({one.run.name})" for label, one in zip(labels, series)]


def search_section(path: Path) -> Section:
    """A search directory: its trials.csv, its settings and the run directories of its trials."""
    trials_file = path / "trials.csv"
    with open(trials_file, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames or []
    missing = [column for column in TRIAL_COLUMNS if column not in header]
    if missing:
        raise UserError(f"{trials_file}: missing column(s) {', '.join(missing)}; expected {', '.join(TRIAL_COLUMNS)} and one per hyperparameter")
    series_by_trial = {}
    for row in rows:
        run_path = _trial_run(path, row)
        if run_path is not None:
            series_by_trial[row["trial_id"]] = Series.load(run_path, f"trial {row['trial_id']}")
    search = _search_settings(path, list(series_by_trial.values()))
    hyperparameters = [c for c in header if c not in TRIAL_BOOKKEEPING and any(row[c] for row in rows)]
    trials = Trials(rows, hyperparameters, search.get("objective", "objective"), search.get("direction", "max") == "max")
    ranked = sorted(trials.scored(), key=lambda row: float(row["objective"]), reverse=trials.maximize)
    shown = [series_by_trial[row["trial_id"]] for row in ranked if row["trial_id"] in series_by_trial][:SEARCH_CURVES]
    notes = [f"{len(rows)} trials, {len(trials.scored())} with an objective ({trials.objective}, "
             f"{'higher' if trials.maximize else 'lower'} is better)."]  # fmt: skip
    if ranked:
        notes.append(f"Best trial: **{ranked[0]['trial_id']}** with {trials.objective} {_num(float(ranked[0]['objective']))}.")
    if len(shown) < len(series_by_trial):
        notes.append(f"The curves and table show the best {len(shown)} trials.")
    name = path.resolve().name
    return Section(f"search {name}", shown, folder_name=slug(name), notes=notes, trials=trials)


def _trial_run(search_dir: Path, row: dict[str, str]) -> Path | None:
    """A trial's (first) run directory: its `run_dir` cell, relative to the search directory or
    absolute, or else the first run in `trials/<trial_id>/`; None when there is none."""
    if row.get("run_dir"):
        for candidate in (search_dir / row["run_dir"], Path(row["run_dir"])):
            if (candidate / "preset.toml").is_file():
                return candidate
        return None
    runs = list_runs(search_dir / "trials" / row["trial_id"])
    return runs[0].path if runs else None


def _search_settings(path: Path, series: list[Series]) -> dict:
    """The search's [search] table: from search.toml, else from a trial run's resolved preset."""
    if (path / "search.toml").is_file():
        from kerashp.config import read_toml

        return read_toml(path / "search.toml").get("search", {})
    return series[0].preset.get("search", {}) if series else {}


def source_kind(path: Path) -> str:
    """study (study.json), search (trials.csv), run (preset.toml) or runs (a folder of runs)."""
    from kerashp.study import STUDY_FILE  # study.py writes its reports through this module

    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    for kind, marker in (("study", STUDY_FILE), ("search", "trials.csv"), ("run", "preset.toml")):
        if (path / marker).is_file():
            return kind
    if list_runs(path):
        return "runs"
    raise UserError(f"{path}: not a run, runs folder, study or search (no preset.toml, study.json or trials.csv)")


def collect(paths: list[Path]) -> tuple[str, list[str], list[Section], Path]:
    """Title, introduction, sections and default output folder for any mix of runs, runs folders,
    studies and searches."""
    from kerashp.study import study_content

    sections: list[Section] = []
    intro: list[str] = []
    loose: list[Path] = []
    titles = []
    kinds = [source_kind(path) for path in paths]
    for path, kind in zip(paths, kinds):
        if kind == "study":
            title, study_intro, study_sections = study_content(path)
            titles.append(title)
            if len(paths) == 1:
                intro = study_intro
            elif study_sections:
                study_sections[0].notes[:0] = study_intro
                for section in study_sections:  # two studies may vary the same key
                    section.folder_name = f"{slug(path.name)}-{section.folder_name}"
            sections += study_sections
        elif kind == "search":
            sections.append(search_section(path))
            titles.append(sections[-1].title)
        else:
            loose += [path] if kind == "run" else [run.path for run in list_runs(path)]
    if loose:
        sections.insert(0, runs_section(loose))
        titles.insert(0, sections[0].title)
    title = titles[0] if len(titles) == 1 else "Report: " + ", ".join(titles)
    return title, intro, sections, _default_out(paths, kinds)


def _default_out(paths: list[Path], kinds: list[str]) -> Path:
    """A single study is reported in its own folder, a single search in its `report/`; anything
    else under ./reports/."""
    if kinds == ["study"]:
        return paths[0]
    if kinds == ["search"]:
        return paths[0] / "report"
    more = f"-and-{len(paths) - 1}-more" if len(paths) > 1 else ""
    return Path("reports") / f"{slug(paths[0].resolve().name)}{more}"


def report(paths: list[Path], out: Path | None = None, compare_reference: bool = False) -> Path:
    """Write the report for `paths`; returns report.md's path."""
    title, intro, sections, default_out = collect(paths)
    return write_report(out or default_out, title, sections, intro, compare_reference)


# ---------------------------------------------------------------------------------------- writing


def write_report(root: Path, title: str, sections: list[Section], intro=(), compare_reference: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if len(sections) > 1:  # each section in a subfolder: nothing at the top is current
        _remove(root, [*FIGURES, "table.md", "table.csv"])
    lines = [f"# {title[:1].upper()}{title[1:]}", "", *_paragraphs(intro)]
    numbers = _Numbers()
    for index, section in enumerate(sections, start=1):
        folder = root
        if len(sections) > 1:
            folder = root / (section.folder_name or f"{index}-{slug(section.title)}")
            lines += [f"## {section.title[:1].upper()}{section.title[1:]}", ""]
        lines += _write_section(section, folder, root, numbers, compare_reference)
    text = "\n".join(lines).rstrip() + "\n"
    atomic_write(root / "report.md", text)
    atomic_write(root / "report.html", markdown_to_html(title, text, root))
    return root / "report.md"


class _Numbers:
    """Figure and table numbers running through a whole report, as in a lab report, and the
    figure files drawn (any other figure file in a section's folder is stale)."""

    def __init__(self) -> None:
        self.figures: Iterator[int] = itertools.count(1)
        self.tables: Iterator[int] = itertools.count(1)
        self.drawn: set[Path] = set()


def _write_section(section: Section, folder: Path, root: Path, numbers: _Numbers, compare_reference: bool) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    lines = _paragraphs(section.notes)
    rows = [one.stats() for one in section.series]
    drawn = [(one.label, one.history) for one in section.series if one.history]
    subject = section.subject or section.title
    if drawn:
        references = _reference_lines(section.series) if compare_reference else []
        for metric in ("loss", "accuracy"):
            path = figures.curves_figure(folder / f"{metric}.png", drawn, metric, f"{metric.capitalize()} per epoch: {subject}",
                                         references if metric == "accuracy" else ())  # fmt: skip
            lines += _figure(path, root, numbers, f"Training (dashed) and validation (solid) {metric} per epoch.")
        if learning_rates_differ([history for _, history in drawn]):
            path = figures.lr_figure(folder / "lr.png", drawn, f"Learning rate per epoch: {subject}")
            lines += _figure(path, root, numbers, "Learning rate at the end of each epoch.")
    if rows:
        winner = pick_winner(rows)
        table = table_markdown(rows, winner, next(numbers.tables))
        atomic_write(folder / "table.md", "\n".join(table) + "\n")
        atomic_write(folder / "table.csv", table_csv(rows, winner))
        lines += [*table, "", winner_sentence(rows, winner), ""]
    if section.trials and section.trials.scored():
        lines += _trial_figures(section, folder, root, numbers)
    if compare_reference:
        lines += _reference_table(section.series, rows, next(numbers.tables))
    _remove(folder, [name for name in FIGURES if folder / name not in numbers.drawn])
    return lines


def learning_rates_differ(histories: list[list[dict]]) -> bool:
    """Whether any epoch that every run reached ended with different learning rates: runs that
    only stopped at different epochs (a diverged or shorter run) followed the same schedule."""
    rates = [{row["epoch"]: row["lr"] for row in history if "lr" in row} for history in histories]
    shared = set.intersection(*(set(one) for one in rates)) if rates else set()
    return any(len({one[epoch] for one in rates}) > 1 for epoch in shared)


def _remove(folder: Path, names) -> None:
    """Delete what an earlier report drew there and this one did not (a resumed study, fewer sections)."""
    for name in names:
        (folder / name).unlink(missing_ok=True)


def _figure(path: Path, root: Path, numbers: _Numbers, caption: str) -> list[str]:
    number = next(numbers.figures)
    numbers.drawn.add(path)
    return [f"![Figure {number}]({path.relative_to(root).as_posix()})", "", f"*Figure {number}. {caption}*", ""]


def _paragraphs(texts) -> list[str]:
    return [line for text in texts for line in (text, "")]


def table_markdown(rows: list[dict], winner: int | None, number: int) -> list[str]:
    """Final-epoch statistics, best value of each column in bold, winner named."""
    best = {}
    for column, _, better in SHOWN_COLUMNS:
        values = [row[column] for row in rows if row[column] is not None and row["status"] not in NOT_WINNERS]
        if better and len(set(values)) > 1:  # bold only a value that stands out
            best[column] = better(values)
    header = ["variant", *(title for _, title, _ in SHOWN_COLUMNS), "status"]
    lines = [
        f"**Table {number}.** Final-epoch training and validation statistics; test loss and accuracy are measured with "
        "the best checkpoint (by `train.monitor`). Best value of each column in bold.",
        "",
        "| " + " | ".join(header) + " |",
        "| --- | " + " | ".join("---:" for _ in SHOWN_COLUMNS) + " | --- |",
    ]
    for index, row in enumerate(rows):
        variant = row["variant"].replace("|", "\\|") + (" **(winner)**" if index == winner else "")
        cells = []
        for column, _, _ in SHOWN_COLUMNS:
            text = _num(row[column])
            cells.append(f"**{text}**" if column in best and row[column] == best[column] else text)
        lines.append("| " + " | ".join([variant, *cells, row["status"]]) + " |")
    return lines


def table_csv(rows: list[dict], winner: int | None) -> str:
    """Full-precision final-epoch statistics; `winner` is 1 on the winning row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for index, row in enumerate(rows):
        writer.writerow({key: "" if value is None else value for key, value in row.items()} | {"winner": int(index == winner)})
    return out.getvalue()


def _trial_figures(section: Section, folder: Path, root: Path, numbers: _Numbers) -> list[str]:
    trials = section.trials
    scored = trials.scored()
    objectives = [float(row["objective"]) for row in scored]
    lines = []
    path = figures.objective_figure(folder / "objective.png", [(row["trial_id"], value) for row, value in zip(scored, objectives)],
                                    trials.objective, trials.maximize, f"Objective per trial: {section.title}")  # fmt: skip
    lines += _figure(path, root, numbers, f"{trials.objective} of each trial in order, and the best so far.")
    if trials.hyperparameters:
        columns = {name: [row[name] for row in scored] for name in trials.hyperparameters}
        path = figures.parallel_figure(folder / "parallel.png", columns, objectives, trials.objective, trials.maximize,
                                       f"Hyperparameters vs {trials.objective}: {section.title}",
                                       [f"trial {row['trial_id']}" for row in scored])  # fmt: skip
        lines += _figure(path, root, numbers, "Each trial's hyperparameters and objective; the best trial is drawn thickest, outlined in black.")
    ranked = sorted(scored, key=lambda row: float(row["objective"]), reverse=trials.maximize)
    ranked += [row for row in trials.rows if row not in scored]  # failed trials last
    header = ["trial", "status", trials.objective, *trials.hyperparameters]
    lines += [
        f"**Table {next(numbers.tables)}.** Trials, best first.",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for row in ranked:
        cells = [row["trial_id"], row["status"], _num(_number(row["objective"])), *(row[name] for name in trials.hyperparameters)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return [*lines, ""]


# ---------------------------------------------------------------------------------------- references


def _reference_lines(series: list[Series]) -> list[tuple[str, float]]:
    """The accuracies the presets' source studies reported, once each, for the accuracy figure."""
    lines: dict[tuple[str, float], None] = {}
    for one in series:
        reference = one.preset.get("reference", {})
        epochs = f", {reference['epochs']} epochs" if "epochs" in reference else ""
        for key in ("train_accuracy", "val_accuracy"):
            if isinstance(reference.get(key), (int, float)):
                name = one.summary.get("preset", "")
                lines[(f"reported {key.replace('_accuracy', '')} acc ({name}{epochs})", float(reference[key]))] = None
    return list(lines)


def _reference_table(series: list[Series], rows: list[dict], number: int) -> list[str]:
    lines = [f"**Table {number}.** Figures the presets' source studies reported, next to the measured ones.", ""]
    body, notes = [], {}
    for one, row in zip(series, rows):
        for key, reported in one.preset.get("reference", {}).items():
            if isinstance(reported, str):  # a caveat, such as which runs of the study a figure came from
                notes[f"- {row['variant']}: {key}: {reported}"] = None
                continue
            measured = row.get(REFERENCE_MEASURES.get(key, ""))
            difference = measured - reported if isinstance(measured, (int, float)) and isinstance(reported, (int, float)) else None
            cells = [row["variant"].replace("|", "\\|"), key, _num(reported), _num(measured), _num(difference)]
            body.append("| " + " | ".join(cells) + " |")
    notes = [*notes, ""] if notes else []
    if not body:
        return [*lines[:-1], "", "The presets of these runs state no reference figures.", "", *notes]
    return [*lines, "| run | figure | reported | measured | measured - reported |", "| --- | --- | ---: | ---: | ---: |", *body, "", *notes]


# ---------------------------------------------------------------------------------------- formats


def markdown_to_html(title: str, markdown: str, root: Path) -> str:
    """report.md as one HTML page with its PNG figures inlined as data URIs."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)

    def inline(match: re.Match) -> str:
        data = base64.b64encode((root / unquote(match.group(1))).read_bytes()).decode("ascii")
        return f'<img src="data:image/png;base64,{data}"'

    body = re.sub(r'<img src="([^"]+\.png)"', inline, body)
    return HTML_PAGE.format(title=html.escape(title), body=body)


HTML_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }}
img {{ max-width: 100%; }}
table {{ border-collapse: collapse; margin: 0.5rem 0; }}
th, td {{ border: 1px solid #bbb; padding: 0.25rem 0.6rem; }}
th {{ background: #f2f2f2; }}
code {{ background: #f2f2f2; padding: 0 0.2rem; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}" if value and abs(value) < 1e-3 else f"{value:.4f}"
    return str(value)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _short(value: Any) -> str:
    """A value as a label shows it: strings bare, numbers compact, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, sort_keys=True)


def _flatten(document: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def slug(text: str) -> str:
    """A name safe as a folder name."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_") or "section"
