"""`RunProgress`: one line, `epoch 5/10 ━━━━━━━━╸━━━━━━ 20/50 · eta 0:08 · run left 1:10`, and `RunStatusLine`.

Batch events arrive several times a second while training runs, so these lines are drawn by
`render` and redrawn with a plain `refresh()`: no layout pass, no child widgets, nothing animated.
That keeps what the interface takes from training's share of the interpreter small.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from kerashp.status import RunStatus
from kerashp.text import number
from tui.services.live import ENDED, LiveRun, LiveStatus, duration

STATUS_MARK = {RunStatus.RUNNING: "▶", LiveStatus.PAUSED: "⏸", LiveStatus.STOPPING: "■", LiveStatus.STARTING: "…"}
STYLED_STATUSES = (*ENDED, LiveStatus.PAUSED)  # each sets a class of the same name, which colours the line


def progress_parts(live: LiveRun) -> tuple[str, float, str]:
    """(what is going on, fraction done, counts and time left)."""
    if live.activity:
        done, total = live.progress
        return live.activity, done / total if total else 0.0, f"{done}/{total}" if total else ""
    if live.epoch:
        timing = "" if live.ended else f" · eta {duration(live.epoch_eta())} · run left {duration(live.run_eta())}"
        return f"epoch {live.epoch}/{live.epochs}", live.step / max(live.steps, 1), f"{live.step}/{live.steps}{timing}"
    return live.status, 0.0, ""


def status_text(live: LiveRun) -> Text:
    if live.ended:
        return Text(live.message, style="bold")
    line = Text()
    line.append(f"{STATUS_MARK.get(live.status, '')} {live.status}", style="bold")
    if live.status == LiveStatus.PAUSED:
        line.append(" — space resumes, s stops")
    elif live.loss is not None:
        line.append(f" · batch loss {number(live.loss)} · acc {number(live.accuracy)}")
    return line


class RunProgress(Widget):
    COMPONENT_CLASSES = {"run-progress--done", "run-progress--left"}
    DEFAULT_CSS = """
    RunProgress {
        height: 1;
        & > .run-progress--done { color: $primary; }
        & > .run-progress--left { color: $panel-lighten-2; }
    }
    """

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.parts: tuple[str, float, str] = ("", 0.0, "")

    def show(self, live: LiveRun) -> None:
        self.parts = progress_parts(live)
        self.refresh()

    def render(self) -> Text:
        what, fraction, detail = self.parts
        width = max(0, self.content_size.width - len(what) - len(detail) - 2)
        filled = round(width * min(max(fraction, 0.0), 1.0))
        line = Text(f"{what} ", no_wrap=True, overflow="crop")
        line.append("━" * filled, self.get_component_rich_style("run-progress--done"))
        line.append("━" * (width - filled), self.get_component_rich_style("run-progress--left"))
        line.append(f" {detail}")
        return line


class RunStatusLine(Widget):
    """The run's state in words (and colour, by class): running, paused, or how it ended.

    How it ended is shown whole, wrapped over as many lines as it takes: the end of a message
    (the run's path to resume, the remedy for an error) is the part the user needs.
    """

    DEFAULT_CSS = """
    RunStatusLine { height: auto; color: $text-muted; }
    RunStatusLine.-completed { color: $success; }
    RunStatusLine.-stopped, RunStatusLine.-paused, RunStatusLine.-interrupted { color: $warning; }
    RunStatusLine.-diverged, RunStatusLine.-failed { color: $error; }
    """

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.text = Text("")
        self._status: RunStatus | LiveStatus | None = None

    def show(self, live: LiveRun) -> None:
        self.text = status_text(live)
        if live.status != self._status:  # a class change restyles, a wrapped ending takes lines: only then
            self._status = live.status
            for state in STYLED_STATUSES:
                self.set_class(live.status == state, f"-{state}")
            self.refresh(layout=True)
        else:
            self.refresh()

    def render(self) -> Text:
        return self.text
