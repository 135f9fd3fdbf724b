"""Report tables: the final-epoch statistics of a section's variants (table.md, table.csv: the mean
over each variant's seeds, with their spread), its winner (only a significant lead wins), a
search's trials and the reference figures, as markdown and CSV text. Inputs are the rows of
`Series.stats()`; nothing here reads files or draws."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from typing import Any

from kerashp.report.sections import Trials
from kerashp.report.significance import ALPHA, TEST_NAME, Verdict, decide, spread
from kerashp.status import RunStatus
from kerashp.text import number, parse_number

# a run that diverged, failed or has not finished (running, stopped, killed) never wins
CAN_WIN = frozenset(status for status in RunStatus if status.can_win)
TABLE_COLUMNS = (
    "variant", "runs", "seeds", "status", "epochs", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
    "val_accuracy_std", "val_accuracy_ci_low", "val_accuracy_ci_high", "best_val_accuracy", "best_val_epoch",
    "test_loss", "test_accuracy", "parameters", "p_value", "winner", "run_dirs",
)  # fmt: skip
MEAN_COLUMNS = ("epochs", "train_loss", "train_accuracy", "val_loss", "best_val_accuracy", "best_val_epoch",
                "test_loss", "test_accuracy")  # fmt: skip
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


def variant_row(runs: list[dict]) -> dict[str, Any]:
    """One variant's runs (`Series.stats()` rows sharing a label, one per seed) as one row: the mean
    of each statistic over the runs that may win (all runs when none may), the spread of the final
    validation accuracy, and in `values` the accuracies a significance test compares."""
    usable = [row for row in runs if row["status"] in CAN_WIN and row["val_accuracy"] is not None]
    basis = usable or runs
    statuses = Counter(str(row["status"]) for row in runs)
    values = [row["val_accuracy"] for row in usable]
    accuracy = spread(values if usable else [row["val_accuracy"] for row in runs if row["val_accuracy"] is not None])
    means = {column: _mean([row[column] for row in basis]) for column in MEAN_COLUMNS}
    return {
        "variant": runs[0]["variant"],
        "runs": len(runs),
        "seeds": [row["seed"] for row in runs],
        "status": next(iter(statuses)) if len(statuses) == 1 else ", ".join(f"{n} {s}" for s, n in statuses.items()),
        **means,
        "val_accuracy": accuracy.mean,
        "val_accuracy_std": accuracy.std,
        "val_accuracy_ci_low": accuracy.low,
        "val_accuracy_ci_high": accuracy.high,
        "parameters": runs[0]["parameters"],
        "run_dirs": [row["run_dir"] for row in runs],
        "values": values,
    }


def _mean(values: list[Any]) -> float | None:
    present = [value for value in values if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if not present:
        return None
    mean = sum(present) / len(present)
    whole = all(isinstance(value, int) for value in present) and mean.is_integer()
    return int(mean) if whole else mean  # epochs that agree stay whole numbers


def variant_verdict(variants: list[dict]) -> Verdict:
    """Which variant leads by mean final validation accuracy, and whether its lead is a win."""
    return decide([variant["values"] for variant in variants])


def verdict_sentence(variants: list[dict], verdict: Verdict) -> str:
    """The verdict in words: the winner only when the test found a significant difference."""
    if verdict.leader is None:
        return "No winner: no completed run recorded a validation accuracy."
    leader = variants[verdict.leader]
    name, mean = md_text(leader["variant"]), statistic(leader["val_accuracy"])
    if verdict.runner_up is None:
        return f"Winner by validation accuracy: **{name}** ({_mean_text(leader)}), the only variant that completed."
    other = variants[verdict.runner_up]
    versus = f"**{name}** ({_mean_text(leader)}) vs the runner-up **{md_text(other['variant'])}** ({_mean_text(other)})"
    if verdict.significant:
        return (
            f"Winner by validation accuracy: {versus}; the difference is significant "
            f"({TEST_NAME}, p = {_p(verdict.p_value)} < {ALPHA:g})."
        )
    if verdict.reason == "tie":
        return f"No winner: **{name}** and **{md_text(other['variant'])}** tie at {mean}; a tie is never a win."
    if verdict.reason == "one seed":
        return (
            f"No winner: {versus}, but with one seed per variant no test is possible; "
            "repeat the variants with several seeds (`--seeds N`)."
        )
    if verdict.reason == "no spread":
        return f"No winner: {versus}, but every seed gave the same value, so {TEST_NAME} is undefined."
    return f"No significant difference: {versus}; {TEST_NAME}, p = {_p(verdict.p_value)} (not below {ALPHA:g})."


def _mean_text(variant: dict) -> str:
    if variant["runs"] == 1:
        return statistic(variant["val_accuracy"])
    interval = f"95% CI {statistic(variant['val_accuracy_ci_low'])} to {statistic(variant['val_accuracy_ci_high'])}"
    return f"mean {statistic(variant['val_accuracy'])} over {variant['runs']} seeds, {interval}"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def table_markdown(variants: list[dict], verdict: Verdict, number: int) -> list[str]:
    """One row per variant: the mean over its seeds of each final-epoch statistic (the best in
    bold), the spread of the validation accuracy, the winner named only when significant."""
    best = {}
    for column, _, better in SHOWN_COLUMNS:
        values = [row[column] for row in variants if row[column] is not None and row["values"]]
        if better and len(set(values)) > 1:  # bold only a value that stands out
            best[column] = better(values)
    titles = [title for column, title, _ in SHOWN_COLUMNS for title in _titles(column, title)]
    header = ["variant", "runs", *titles, "status"]
    lines = [
        f"**Table {number}.** Final-epoch training and validation statistics, the mean over each variant's seeds; "
        "test loss and accuracy are measured with the best checkpoint (by `train.monitor`). The 95% confidence "
        f"interval is Student's t over the seeds; a variant is the winner only when {TEST_NAME} finds its final "
        f"validation accuracy significantly above the runner-up's (p < {ALPHA:g}). Best value of each column in bold.",
        "",
        "| " + " | ".join(header) + " |",
        "| --- | " + " | ".join("---:" for _ in header[1:-1]) + " | --- |",
    ]
    for index, row in enumerate(variants):
        mark = " **(winner)**" if index == verdict.winner else ""
        ahead = verdict.runner_up is not None and row["val_accuracy"] > variants[verdict.runner_up]["val_accuracy"]
        if index == verdict.leader and verdict.reason == "not significant" and ahead:
            mark = " (highest mean, not significant)"
        cells = [md_text(row["variant"]) + mark, str(row["runs"])]
        for column, _, _ in SHOWN_COLUMNS:
            text = statistic(row[column])
            cells.append(f"**{text}**" if column in best and row[column] == best[column] else text)
            if column == "val_accuracy":
                cells += [statistic(row["val_accuracy_std"]), _interval(row)]
        lines.append("| " + " | ".join([*cells, md_text(row["status"])]) + " |")
    return lines


def _titles(column: str, title: str) -> list[str]:
    return [title, "val acc std", "val acc 95% CI"] if column == "val_accuracy" else [title]


def _interval(row: dict) -> str:
    low, high = row["val_accuracy_ci_low"], row["val_accuracy_ci_high"]
    return "-" if low is None else f"{statistic(low)} to {statistic(high)}"


def table_csv(variants: list[dict], verdict: Verdict) -> str:
    """Full-precision statistics, one row per variant; `seeds` and `run_dirs` as JSON lists, `winner`
    1 on the winning row (only a significant lead wins), `p_value` the test's on the leader's row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TABLE_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for index, row in enumerate(variants):
        listed = {"seeds": json.dumps(row["seeds"]), "run_dirs": json.dumps(row["run_dirs"])}  # any path, unambiguous
        p_value = verdict.p_value if index == verdict.leader else None
        extra = {"winner": int(index == verdict.winner), "p_value": p_value}
        writer.writerow({key: "" if value is None else value for key, value in {**row, **listed, **extra}.items()})
    return out.getvalue()


def trials_table(trials: Trials, number: int) -> list[str]:
    """Every trial, best first (failed and pruned trials last), with its objective and hyperparameters;
    when trials ran several executions, the objective is their mean, with its spread beside it."""
    scored = trials.scored()
    ranked = sorted(scored, key=lambda row: float(row["objective"]), reverse=trials.maximize)
    ranked += [row for row in trials.rows if row not in scored]  # failed trials last
    repeated = any(len(values) > 1 for values in trials.executions.values())
    spread_header = ["executions", "std", "95% CI"] if repeated else []
    header = ["trial", "status", md_text(trials.objective), *spread_header, *map(md_text, trials.hyperparameters)]
    caption = " The objective is the mean over each trial's executions." if repeated else ""
    lines = [
        f"**Table {number}.** Trials, best first.{caption}",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for row in ranked:
        cells = [md_text(row["trial_id"]), md_text(row["status"]), statistic(parse_number(row["objective"]))]
        if repeated:
            one = spread(trials.executions.get(row["trial_id"], []))
            interval = "-" if one.low is None else f"{statistic(one.low)} to {statistic(one.high)}"
            cells += [str(one.n), statistic(one.std), interval]
        lines.append("| " + " | ".join([*cells, *(md_text(row[name]) for name in trials.hyperparameters)]) + " |")
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
