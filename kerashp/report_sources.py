"""Report sources: what a report shows, collected from run directories, runs folders, studies and
searches (trials.csv), as sections of labelled series. Nothing here draws or writes."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerashp.errors import UserError
from kerashp.report_tables import md_text, number_text, parse_number
from kerashp.runs import RunDir, list_runs

LABEL_KEYS_AT_MOST = 3  # runs differing in more preset keys than this are labelled by folder name
IGNORED_PRESET_KEYS = ("description", "study", "reference")
SEARCH_CURVES = 8  # a search report draws the curves of its best trials only
TRIAL_COLUMNS = ("trial_id", "status", "objective")  # required in trials.csv, plus one column per hyperparameter
# the other columns a search may write about its trials (not hyperparameters)
TRIAL_BOOKKEEPING = (*TRIAL_COLUMNS, "run_dir", "epochs", "best_epoch", "time_s", "worker", "bracket", "round", "parent", "reason")


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
        return [row for row in self.rows if parse_number(row["objective"]) is not None]


@dataclass
class Section:
    """One part of a report: a study factor, a search or a set of runs."""

    title: str
    series: list[Series]
    folder_name: str = ""  # its subfolder when the report has several sections
    notes: list[str] = field(default_factory=list)  # markdown paragraphs shown first
    trials: Trials | None = None
    subject: str = ""  # what the figure titles name (default: the title), e.g. the study and its factor


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
    objective = md_text(trials.objective)
    notes = [f"{len(rows)} trials, {len(trials.scored())} with an objective ({objective}, "
             f"{'higher' if trials.maximize else 'lower'} is better)."]  # fmt: skip
    if ranked:
        best = number_text(float(ranked[0]["objective"]))
        notes.append(f"Best trial: **{md_text(ranked[0]['trial_id'])}** with {objective} {best}.")
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
    from kerashp.study_folder import STUDY_FILE  # not at the top: study_folder imports kerashp.report

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
