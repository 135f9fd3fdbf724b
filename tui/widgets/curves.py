"""`Curves`: the three charts every run view shares (loss, accuracy, learning rate).

One run shows training and validation curves plus the preset's reported figure; several runs
(the comparison view) show one curve per run of the validation metrics.
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal

from kerashp.config.fields import is_number
from tui.widgets.chart import LineChart, Reference, Series

# which `[reference]` figure a chart compares against, in order of preference
REFERENCE_KEYS = {
    "accuracy": ("val_accuracy", "test_accuracy", "train_accuracy"),
    "loss": ("val_loss", "test_loss", "train_loss"),
}


def reference_for(reference: dict, metric: str) -> Reference | None:
    """The figure the source study reported for `metric`, as a chart reference line."""
    for key in REFERENCE_KEYS[metric]:
        if is_number(reference.get(key)):
            return Reference(key.split("_")[0], float(reference[key]))
    return None


def series(rows: list[dict], key: str, name: str) -> Series:
    points = [(row["epoch"], row[key]) for row in rows if key in row and math.isfinite(row[key])]
    return Series(name, points)


class Curves(Horizontal):
    """Loss, accuracy and learning-rate charts side by side."""

    DEFAULT_CSS = """
    Curves { height: 1fr; }
    Curves > LineChart { width: 1fr; border: round $panel-lighten-2; border-title-color: $text; }
    Curves > LineChart:focus { border: round $primary; }
    """

    def compose(self) -> ComposeResult:
        yield LineChart("loss", id="loss-chart")
        yield LineChart("accuracy", id="accuracy-chart")
        yield LineChart("learning rate", id="lr-chart")

    def _charts(self) -> tuple[LineChart, LineChart, LineChart]:
        return (
            self.query_one("#loss-chart", LineChart),
            self.query_one("#accuracy-chart", LineChart),
            self.query_one("#lr-chart", LineChart),
        )

    def show_run(self, rows: list[dict], epochs: int, reference: dict, empty: str = "") -> None:
        """One run: training vs validation, the reported figure as a reference line; `empty`: what
        charts without a point say (default: that they wait for the first epoch)."""
        loss, accuracy, lr = self._charts()
        loss.plot(
            [series(rows, "loss", "train"), series(rows, "val_loss", "val")],
            epochs,
            reference_for(reference, "loss"),
            "loss",
            empty,
        )
        accuracy.plot(
            [series(rows, "accuracy", "train"), series(rows, "val_accuracy", "val")],
            epochs,
            reference_for(reference, "accuracy"),
            "accuracy",
            empty,
        )
        lr.plot([series(rows, "lr", "lr")], epochs, empty=empty)

    def show_runs(self, runs: list[list[dict]]) -> None:
        """Several runs overlaid, numbered 1, 2, ...: one curve per run of each validation metric and
        the learning rate."""
        loss, accuracy, lr = self._charts()
        epochs = max((int(rows[-1]["epoch"]) for rows in runs if rows), default=1)
        numbered = list(enumerate(runs, start=1))
        loss.plot([series(rows, "val_loss", str(n)) for n, rows in numbered], epochs, title="val loss")
        accuracy.plot([series(rows, "val_accuracy", str(n)) for n, rows in numbered], epochs, title="val accuracy")
        lr.plot([series(rows, "lr", str(n)) for n, rows in numbered], epochs)
