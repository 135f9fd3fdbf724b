"""Rich rendering of training events for the headless CLI: a progress bar per epoch, a line per
epoch, and a final table, every line within 80 columns. Into a file or a pipe (not a terminal) it
writes no progress bar, so a log holds only plain, greppable lines. It only consumes events; it
never reaches into the engine."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from kerashp import events as ev
from kerashp.status import RunStatus
from kerashp.text import number, plural, seconds

EPOCH_LEGEND = "loss and acc per epoch: training/validation"
COLOURS: dict[str, str] = {
    RunStatus.COMPLETED: "green",
    RunStatus.DIVERGED: "red",
    RunStatus.INTERRUPTED: "yellow",
    RunStatus.STOPPED: "yellow",
}  # any other ending is red


def epoch_metrics(metrics: dict) -> str:
    """`loss 2.1245/2.4354  acc 0.2476/0.1760`: training/validation pairs (EPOCH_LEGEND), so an
    epoch line fits 80 columns."""
    loss, acc = (f"{number(metrics.get(key))}/{number(metrics.get(f'val_{key}'))}" for key in ("loss", "accuracy"))
    return f"loss {loss}  acc {acc}"


class ConsoleView:
    """A listener: call it with each event. Paths are printed unwrapped (soft wrap), so they copy
    and paste whole; `resume_hint=False` leaves the resume command to a caller that owns the run
    (a study resumes its variants itself)."""

    def __init__(self, console: Console | None = None, resume_hint: bool = True):
        self.console = console or Console(highlight=False)
        self.resume_hint = resume_hint
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            transient=True,
        )
        self.task: TaskID | None = None

    def __call__(self, event: ev.Event) -> None:
        handler = getattr(self, f"on_{type(event).__name__}", None)
        if handler:
            handler(event)

    def _bar(self, description: str, total: int, status: str = "") -> None:
        if not self.console.is_terminal:  # a log file gets no bar (its leftovers were blank lines)
            return
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(description, total=total, status=status)
        else:
            self.progress.reset(self.task, total=total, description=description, status=status)

    def close_bar(self) -> None:
        """Close the progress bar, if one is open (a stopped run leaves one mid-epoch)."""
        if self.task is not None:
            self.progress.stop()
            self.progress.remove_task(self.task)
            self.task = None

    def on_Progress(self, event: ev.Progress) -> None:
        self._bar(event.what, event.total)
        if self.task is not None:
            self.progress.update(self.task, completed=event.done)
        if event.done >= event.total:
            self.close_bar()

    def on_RunStarted(self, event: ev.RunStarted) -> None:
        resumed = f", resuming after epoch {event.initial_epoch}" if event.initial_epoch else ""
        self.console.print(
            f"[bold]{escape(event.preset)}[/]: {event.parameters:,} parameters on {event.device}\n"
            f"  {plural(event.epochs, 'epoch')} of {plural(event.steps_per_epoch, 'step')}{resumed}\n"
            f"  run: {escape(str(event.run_dir))}\n  {EPOCH_LEGEND}",
            soft_wrap=True,
        )

    def on_EpochStarted(self, event: ev.EpochStarted) -> None:
        self._bar(f"epoch {event.epoch}/{event.epochs}", event.steps)

    def on_BatchEnded(self, event: ev.BatchEnded) -> None:
        if self.task is not None:
            status = f"loss {event.loss:.4f}  acc {event.accuracy:.4f}"
            self.progress.update(self.task, completed=event.step, status=status)

    def on_EpochEnded(self, event: ev.EpochEnded) -> None:
        self.close_bar()
        m = event.metrics
        star = " [green]*best[/]" if event.best else ""
        self.console.print(
            f"epoch {event.epoch:>3}/{event.epochs}  {epoch_metrics(m)}  lr {m.get('lr', 0):.3g}  "
            f"{seconds(m.get('epoch_time', 0))}{star}",
            soft_wrap=True,
        )

    def on_Evaluated(self, event: ev.Evaluated) -> None:
        self.close_bar()

    def on_RunFinished(self, event: ev.RunFinished) -> None:
        self.close_bar()
        s = event.summary
        colour = COLOURS.get(event.status, "red")
        self.console.print(
            f"[{colour}]{event.status}[/]  {escape(str(event.run_dir))}", soft_wrap=True
        )  # not a table title: that wraps
        table = Table()
        for column in ("", "loss", "accuracy"):
            table.add_column(column, justify="right" if column else "left")
        final = s.get("final", {})
        table.add_row("train (final epoch)", number(final.get("loss")), number(final.get("accuracy")))
        table.add_row("validation (final epoch)", number(final.get("val_loss")), number(final.get("val_accuracy")))
        test = s.get("test")
        if test:
            best = f"test (best epoch {s.get('best_epoch')})"
            table.add_row(best, number(test.get("loss")), number(test.get("accuracy")))
        self.console.print(table)
        if event.status == RunStatus.DIVERGED:
            last = s.get("last_finite") or {}
            lines = [
                f"[red]loss became NaN/inf in epoch {s.get('diverged_at_epoch')}[/]; finished epochs are in history.csv"
            ]
            if last:
                lines.append(
                    f"  last finite: epoch {last['epoch']} batch {last['batch']}, "
                    f"loss {number(last['loss'])}, accuracy {number(last['accuracy'])}"
                )
            self.console.print("\n".join(lines), soft_wrap=True)
        elif event.status in (RunStatus.INTERRUPTED, RunStatus.STOPPED) and self.resume_hint:
            self.console.print(
                f"[yellow]{event.status}[/]: resume with  kerashp train --resume {escape(str(event.run_dir))}",
                soft_wrap=True,
            )
        self.console.print(f"wall time {s.get('wall_time', 0):.1f}s")

    def on_RunFailed(self, event: ev.RunFailed) -> None:
        self.close_bar()
