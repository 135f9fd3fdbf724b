"""Reports: the figures and final-epoch tables of a study, of a search's trials, or of any runs.

A report has sections (one study factor, one search, one set of runs). Each section's folder gets
`loss.png`, `accuracy.png`, `lr.png` (only when the runs' learning-rate curves differ), `table.md`
and `table.csv`; a search section adds `objective.png` and `parallel.png`. `report.md` at the top
ties the sections together and names each section's winner; `report.html` is the same page with
the figures inline, one file to open or send.

This module draws and writes; what is shown comes in as sections (`sections`), tables are made in
`tables` and the HTML page in `pages`.

Runs sharing a label are one variant's seeds: the tables show their mean, spread and 95% confidence
interval, the figures their mean curve in a shaded band. The winner is the variant with the highest
mean final-epoch validation accuracy over its completed runs (a diverged run's last weights are not
usable; a run still training, stopped or killed has not finished), and only when Welch's t-test
finds it significantly above the runner-up (`significance`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from kerashp.report import figures
from kerashp.report.pages import markdown_to_html
from kerashp.report.sections import Section, Series, Trials, groups
from kerashp.report.tables import (
    md_text,
    reference_table,
    table_csv,
    table_markdown,
    trials_table,
    variant_row,
    variant_verdict,
    verdict_sentence,
)
from kerashp.runs.folder import atomic_write
from kerashp.text import parse_number, slug

# every figure a section may draw
FIGURES = ("loss.png", "accuracy.png", "lr.png", "objective.png", "best_so_far.png", "importance.png", "parallel.png")


def write_report(root: Path, title: str, sections: list[Section], intro=(), compare_reference: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if len(sections) > 1:  # each section in a subfolder: nothing at the top is current
        _remove(root, [*FIGURES, "table.md", "table.csv"])
    lines = [f"# {md_text(title[:1].upper() + title[1:])}", "", *_paragraphs(intro)]
    numbers = _Numbers()
    for index, section in enumerate(sections, start=1):
        folder = root
        if len(sections) > 1:
            folder = root / (section.folder_name or f"{index}-{slug(section.title)}")
            lines += [f"## {md_text(section.title[:1].upper() + section.title[1:])}", ""]
        lines += _write_section(section, folder, root, numbers, compare_reference)
    text = "\n".join(lines).rstrip() + "\n"
    atomic_write(root / "report.md", text)
    atomic_write(root / "report.html", markdown_to_html(title, text, root, numbers.drawn))
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
    drawn = [(plot_text(one.label), one.history) for one in section.series if one.history]
    repeated = [
        (plot_text(runs[0].label), [one.history for one in runs if one.history]) for runs in groups(section.series)
    ]
    subject = plot_text(section.subject or section.title)
    if drawn:
        reported = _reference_lines(section.series) if compare_reference else []
        for metric in ("loss", "accuracy"):
            title = f"{metric.capitalize()} per epoch: {subject}"
            references = reported if metric == "accuracy" else []  # the reported figures are accuracies
            if len(repeated) < len(drawn):  # a variant ran with several seeds: its mean and band
                path = figures.band_figure(folder / f"{metric}.png", repeated, metric, title, references)
                caption = (
                    f"Training (dashed) and validation (solid) {metric} per epoch, the mean over each variant's "
                    "seeds; shaded: the 95% confidence interval of the mean."
                )
            else:
                path = figures.curves_figure(folder / f"{metric}.png", drawn, metric, title, references)
                caption = f"Training (dashed) and validation (solid) {metric} per epoch."
            lines += _figure(path, root, numbers, caption)
        if learning_rates_differ([history for _, history in drawn]):
            firsts = [(label, histories[0]) for label, histories in repeated if histories]  # seeds share a schedule
            path = figures.lr_figure(folder / "lr.png", firsts, f"Learning rate per epoch: {subject}")
            lines += _figure(path, root, numbers, "Learning rate at the end of each epoch.")
    if rows:
        variants = [variant_row([one.stats() for one in runs]) for runs in groups(section.series)]
        verdict = variant_verdict(variants)
        table = table_markdown(variants, verdict, next(numbers.tables))
        atomic_write(folder / "table.md", "\n".join(table) + "\n")
        atomic_write(folder / "table.csv", table_csv(variants, verdict))
        lines += [*table, "", verdict_sentence(variants, verdict), ""]
    if section.trials and section.trials.scored():
        lines += _trial_figures(section.trials, section.title, folder, root, numbers)
    if compare_reference:
        stated = [one.preset.get("reference", {}) for one in section.series]
        lines += reference_table(stated, rows, next(numbers.tables))
    _remove(folder, [name for name in FIGURES if folder / name not in numbers.drawn])
    return lines


def learning_rates_differ(histories: list[list[dict]]) -> bool:
    """Whether any epoch that every run reached ended with different learning rates: runs that
    only stopped at different epochs (a diverged or shorter run) followed the same schedule."""
    rates = [{row["epoch"]: row["lr"] for row in history if "lr" in row} for history in histories]
    shared = set.intersection(*(set(one) for one in rates)) if rates else set()
    return any(len({one[epoch] for one in rates}) > 1 for epoch in shared)


def plot_text(text: str) -> str:
    """A user's name as matplotlib shows it literally: `$` would start mathtext (and a bad formula
    fails the whole report), and a legend leaves out labels that start with `_`."""
    text = str(text).replace("$", r"\$")
    return f" {text}" if text.startswith("_") else text


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


def _trial_figures(trials: Trials, section_title: str, folder: Path, root: Path, numbers: _Numbers) -> list[str]:
    scored = trials.scored()
    objectives = [float(row["objective"]) for row in scored]
    lines = []
    objective, title = plot_text(trials.objective), plot_text(section_title)
    points = [(plot_text(row["trial_id"]), value) for row, value in zip(scored, objectives)]
    path = figures.objective_figure(
        folder / "objective.png", points, objective, trials.maximize, f"Objective per trial: {title}"
    )
    lines += _figure(path, root, numbers, f"{md_text(trials.objective)} of each trial in order, and the best so far.")
    if trials.epochs_spent:
        path = figures.best_so_far_figure(
            folder / "best_so_far.png",
            [parse_number(row["objective"]) for row in trials.rows],
            trials.epochs_spent,
            objective,
            trials.maximize,
            f"Best so far: {title}",
        )
        lines += _figure(path, root, numbers, "The best objective so far against trials run and epochs spent.")
    if trials.importance:
        path = figures.importance_figure(
            folder / "importance.png",
            {plot_text(key): share for key, share in trials.importance.items()},
            f"Parameter importance: {title}",
        )
        caption = "How much each hyperparameter mattered (fANOVA over the completed trials)."
        lines += _figure(path, root, numbers, caption)
    if trials.hyperparameters:
        columns = {plot_text(name): [plot_text(row[name]) for row in scored] for name in trials.hyperparameters}
        path = figures.parallel_figure(folder / "parallel.png", columns, objectives, objective, trials.maximize,
                                       f"Hyperparameters vs {objective}: {title}",
                                       [plot_text(f"trial {row['trial_id']}") for row in scored])  # fmt: skip
        lines += _figure(
            path,
            root,
            numbers,
            "Each trial's hyperparameters and objective; the best trial is drawn thickest, outlined in black.",
        )
    return [*lines, *trials_table(trials, next(numbers.tables))]


def _reference_lines(series: list[Series]) -> list[tuple[str, float]]:
    """The accuracies the presets' source studies reported, once each, for the accuracy figure."""
    lines: dict[tuple[str, float], None] = {}
    for one in series:
        reference = one.preset.get("reference", {})
        epochs = f", {reference['epochs']} epochs" if "epochs" in reference else ""
        for key in ("train_accuracy", "val_accuracy"):
            if isinstance(reference.get(key), (int, float)):
                name = one.summary.get("preset", "")
                label = plot_text(f"reported {key.replace('_accuracy', '')} acc ({name}{epochs})")
                lines[(label, float(reference[key]))] = None
    return list(lines)
