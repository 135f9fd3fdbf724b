"""`EpochTable`: one row per finished epoch, the best one starred."""

from __future__ import annotations

from textual.widgets import DataTable

from kerashp.text import number

BEST = "★"
COLUMNS = (
    ("epoch", "epoch"),
    ("loss", "loss"),
    ("acc", "accuracy"),
    ("val loss", "val_loss"),
    ("val acc", "val_accuracy"),
    ("lr", "lr"),
    ("time", "epoch_time"),
)


class EpochTable(DataTable):
    DEFAULT_CSS = """
    EpochTable { height: 1fr; }
    """

    best_epoch: int | None = None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(*(label for label, _ in COLUMNS))
        self.add_column("best", key="best")

    def show(self, rows: list[dict], best_epoch: int | None) -> None:
        """Show `rows`, adding only the new ones (a redraw of every row per epoch costs a layout pass)."""
        if not self._continues(rows):  # another run
            self.clear()
            self.best_epoch = None
        for row in rows[self.row_count :]:
            self.add_row(*(cell(key, row.get(key)) for _, key in COLUMNS), "", key=str(row.get("epoch")))
        if best_epoch != self.best_epoch:
            for epoch, mark in ((self.best_epoch, ""), (best_epoch, BEST)):
                if str(epoch) in self.rows:
                    self.update_cell(str(epoch), "best", mark)
            self.best_epoch = best_epoch
        if rows:
            self.move_cursor(row=len(rows) - 1, animate=False)

    def _continues(self, rows: list[dict]) -> bool:
        """Whether `rows` starts with the epochs already shown."""
        shown = rows[: self.row_count]
        return len(shown) == self.row_count and all(str(row.get("epoch")) in self.rows for row in shown)


def cell(key: str, value) -> str:
    """A history value as the tables show it: epoch times in seconds, rates to 3 digits."""
    if value is None:
        return "-"
    if key == "epoch":
        return str(int(value))
    if key == "epoch_time":
        return f"{value:.1f}s"
    if key == "lr":
        return f"{value:.3g}"
    return number(value)
