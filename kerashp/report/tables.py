"""Report tables: the final-epoch statistics of a section's runs (table.md, table.csv), its winner,
a search's trials and the reference figures, as markdown and CSV text. Inputs are the rows of
`Series.stats()`; nothing here reads files or draws."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from kerashp.report.sections import Trials
from kerashp.status import RunStatus
from kerashp.text import number, parse_number

# a run that diverged, failed or has not finished (running, stopped, killed) never wins
CAN_WIN = frozenset(status for status in RunStatus if status.can_win)
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
    "parameters": "trainable_parameters",  # as the studies counted them; the total is shown beside
    "epochs": "epochs",
}
# what could turn a name into markup: HTML, links, images, code, emphasis (an `_` between letters
# cannot), table cells
MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<>&|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_text(value: Any) -> str:
    """A name a user chose (a run, trial, variant, preset, hyperparameter) as literal markdown text,
    on one line: what a name holds is shown, never rendered as HTML, a link or an image."""
    return MARKDOWN_SPECIAL.sub(lambda match: "\\" + match.group(0), " ".join(str(value).split()))


def md_code(value: Any) -> str:
    """A user's text (an override, a preset key) as an inline code span, however many backticks it holds."""
    text = " ".join(str(value).split())
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def statistic(value: Any) -> str:
    """A statistic as tables show it: kerashp's number format, counts with thousands separators."""
    return number(value, group_thousands=True)


def pick_winner(rows: list[dict]) -> int | None:
    """Index of the row with the highest final validation accuracy among completed runs."""
    usable = [i for i, row in enumerate(rows) if row["status"] in CAN_WIN and row["val_accuracy"] is not None]
    return max(usable, key=lambda i: rows[i]["val_accuracy"], default=None)


def winner_sentence(rows: list[dict], winner: int | None) -> str:
    if winner is None:
        return "No winner: no completed run recorded a validation accuracy."
    row = rows[winner]
    test = f"; test accuracy {statistic(row['test_accuracy'])}" if row["test_accuracy"] is not None else ""
    return (
        f"Winner by validation accuracy: **{md_text(row['variant'])}** with {statistic(row['val_accuracy'])} "
        "at the final epoch "
        f"(best {statistic(row['best_val_accuracy'])} at epoch {row['best_val_epoch']}{test})."
    )


def table_markdown(rows: list[dict], winner: int | None, number: int) -> list[str]:
    """Final-epoch statistics, best value of each column in bold, winner named."""
    best = {}
    for column, _, better in SHOWN_COLUMNS:
        values = [row[column] for row in rows if row[column] is not None and row["status"] in CAN_WIN]
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
        variant = md_text(row["variant"]) + (" **(winner)**" if index == winner else "")
        cells = []
        for column, _, _ in SHOWN_COLUMNS:
            text = statistic(row[column])
            cells.append(f"**{text}**" if column in best and row[column] == best[column] else text)
        lines.append("| " + " | ".join([variant, *cells, md_text(row["status"])]) + " |")
    return lines


def table_csv(rows: list[dict], winner: int | None) -> str:
    """Full-precision final-epoch statistics; `winner` is 1 on the winning row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for index, row in enumerate(rows):
        writer.writerow(
            {key: "" if value is None else value for key, value in row.items()} | {"winner": int(index == winner)}
        )
    return out.getvalue()


def trials_table(trials: Trials, number: int) -> list[str]:
    """Every trial, best first (failed and pruned trials last), with its objective and hyperparameters."""
    scored = trials.scored()
    ranked = sorted(scored, key=lambda row: float(row["objective"]), reverse=trials.maximize)
    ranked += [row for row in trials.rows if row not in scored]  # failed trials last
    header = ["trial", "status", *map(md_text, [trials.objective, *trials.hyperparameters])]
    lines = [
        f"**Table {number}.** Trials, best first.",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for row in ranked:
        cells = [md_text(row["trial_id"]), md_text(row["status"]), statistic(parse_number(row["objective"])),
                 *(md_text(row[name]) for name in trials.hyperparameters)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _measured(key: str, measured: Any, row: dict) -> str:
    """A measured figure; for parameters the trainable count, with Keras's total (batch-norm moving
    statistics included) beside it."""
    if key != "parameters":
        return statistic(measured)
    return f"{statistic(measured)} trainable ({statistic(row.get('parameters'))} in all)"


def reference_table(references: list[dict], rows: list[dict], number: int) -> list[str]:
    """Each run's preset's [reference] figures next to the measured ones; its texts as notes below."""
    lines = [f"**Table {number}.** Figures the presets' source studies reported, next to the measured ones.", ""]
    body: list[str] = []
    notes: dict[str, None] = {}  # each caveat once, in order
    for reference, row in zip(references, rows):
        for key, reported in reference.items():
            if isinstance(reported, str):  # a caveat, such as which runs of the study a figure came from
                notes[f"- {md_text(row['variant'])}: {md_text(key)}: {md_text(reported)}"] = None
                continue
            measured = row.get(REFERENCE_MEASURES.get(key, ""))
            difference = (
                measured - reported
                if isinstance(measured, (int, float)) and isinstance(reported, (int, float))
                else None
            )
            cells = [md_text(row["variant"]), md_text(key), md_text(statistic(reported)), _measured(key, measured, row),
                     statistic(difference)]  # fmt: skip
            body.append("| " + " | ".join(cells) + " |")
    caveats = [*notes, ""] if notes else []
    if not body:
        return [*lines[:-1], "", "The presets of these runs state no reference figures.", "", *caveats]
    return [
        *lines,
        "| run | figure | reported | measured | measured - reported |",
        "| --- | --- | ---: | ---: | ---: |",
        *body,
        "",
        *caveats,
    ]
