"""What a report shows: sections of labelled series (one run each; series sharing a label are one
variant's seeds, grouped by `groups`), and the section for runs named by the user. A study
(`kerashp.study`) and a search (`kerashp.search.report_section`) build their own sections from
these types. Nothing here draws or writes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerashp.config.keys import flat_keys
from kerashp.runs.folder import RunDir
from kerashp.text import parse_number

LABEL_KEYS_AT_MOST = 3  # runs differing in more preset keys than this are labelled by folder name
IGNORED_PRESET_KEYS = ("description", "study", "reference")
SEED_KEY = "seed"  # runs differing only in it are repeats of one variant, not variants


@dataclass
class Series:
    """One run as a report draws and tabulates it."""

    label: str
    run: RunDir
    history: list[dict]
    summary: dict
    preset: dict  # the resolved preset document from preset.toml

    @classmethod
    def load(cls, path: Path | str, label: str = "") -> Series:
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
            "seed": self.preset.get(SEED_KEY),
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
            "trainable_parameters": self.summary.get("trainable_parameters"),
            "run_dir": str(self.run.path),
        }


@dataclass
class Trials:
    """A search's trials.csv: one row per trial, its hyperparameters and objective."""

    rows: list[dict[str, str]]
    hyperparameters: list[str]
    objective: str
    maximize: bool
    epochs_spent: list[int] = field(default_factory=list)  # per row: epochs it trained (not its Hyperband parent's)
    importance: dict[str, float] = field(default_factory=dict)  # fANOVA importance per hyperparameter, if rated
    executions: dict[str, list[float]] = field(default_factory=dict)  # per trial id: each execution's objective

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


def groups(series: list[Series]) -> list[list[Series]]:
    """The series of each variant, in order of first appearance: series sharing a label are the
    variant's runs with different seeds."""
    grouped: dict[str, list[Series]] = {}
    for one in series:
        grouped.setdefault(one.label, []).append(one)
    return list(grouped.values())


def runs_section(paths: list[Path]) -> Section:
    """Runs named by the user, labelled by the preset keys in which they differ (not the seed:
    runs that differ only in it are one variant's repeats, and share a label); titled by the run's
    name, or by how many runs of which presets."""
    series = [Series.load(path) for path in paths]
    for one, label in zip(series, distinguishing_labels(series)):
        one.label = label
    presets = ", ".join(dict.fromkeys(one.summary.get("preset") or one.run.name for one in series))
    title = f"run {series[0].run.name}" if len(series) == 1 else f"{len(series)} runs of {presets}"
    return Section(title, series, folder_name="runs")


def hyperparameters(preset: dict[str, Any]) -> dict[str, Any]:
    """A preset's dotted keys and values, less those that describe it (description, study, reference)."""
    return {key: value for key, value in flat_keys(preset).items() if key.split(".")[0] not in IGNORED_PRESET_KEYS}


def distinguishing_labels(series: list[Series]) -> list[str]:
    """`learning_rate=0.05`-style labels from the preset keys other than the seed that differ
    between runs, so runs differing only in their seed share a label; the preset's name when no
    key differs but the seed, and the run's folder name when none or too many differ."""
    flat = [hyperparameters({"preset": one.summary.get("preset", ""), **one.preset}) for one in series]
    differing = [
        key
        for key in sorted({key for keys in flat for key in keys})
        if len({_short(keys.get(key)) for keys in flat}) > 1
    ]
    varied = [key for key in differing if key != SEED_KEY]
    if len(series) < 2 or not differing or len(varied) > LABEL_KEYS_AT_MOST:
        return [one.run.name for one in series]
    if not varied:  # repeats of one preset and overrides with different seeds
        return [str(keys.get("preset") or series[0].run.name) for keys in flat]
    return [", ".join(f"{key.split('.')[-1]}={_short(keys.get(key))}" for key in varied) for keys in flat]


def _short(value: Any) -> str:
    """A value as a label shows it: strings bare, numbers compact, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, sort_keys=True)
