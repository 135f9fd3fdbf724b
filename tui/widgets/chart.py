"""`LineChart`: epoch curves drawn with braille dots, readable without colour.

Each series has its own line pattern (solid, sparse dots, dashed) and its own marker glyph, so two
curves stay distinguishable on a monochrome terminal or over a slow SSH link. When there are more
points than the width can mark, every k-th point (and the last) keeps its marker, offset between
series so their markers do not cover each other. An optional reference value is a labelled
horizontal rule. Pure text: no plotting library.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from kerashp.text import number

# braille dot bits by (column, row) inside one 2x4 cell
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_BRAILLE = 0x2800
GUTTER = 8  # y labels (6 characters) and the axis
REFERENCE_RULE = "┄"
MARKER_SPACING = 2  # cells from one marker to the next, at least, once points must be thinned


@dataclass(frozen=True)
class Look:
    """How one series is drawn: a marker glyph and which dots of its line are kept."""

    marker: str
    pattern: tuple[bool, ...]
    name: str  # the line in words, for the legend ("─", "┈", "╌")

    def keeps(self, dot_index: int) -> bool:
        return self.pattern[dot_index % len(self.pattern)]


LOOKS = (
    Look("●", (True,), "─"),
    Look("×", (True, False, False), "┈"),
    Look("▲", (True, True, True, False, False), "╌"),
    Look("■", (True, False), "┈"),
    Look("◆", (True, True, False, False), "╌"),
    Look("+", (True, True, True, True, False, False), "╌"),
)


def look(index: int) -> Look:
    return LOOKS[index % len(LOOKS)]


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]] = field(default_factory=list)  # (epoch, value)


@dataclass(frozen=True)
class Reference:
    """A figure to compare against (the source study's), drawn as a horizontal rule."""

    label: str  # which figure, e.g. "val" or "test"
    value: float


def tick(value: float) -> str:
    """A y-axis label in at most 6 characters, as precise as they allow: 0.0101, 1.72, 0.0086, 9.6e-5."""
    for digits in (3, 2):
        label = f"{value:.{digits}g}"
        if len(label) <= 6 and "e" not in label:
            return label
    for digits in (1, 0):
        mantissa, _, exponent = f"{value:.{digits}e}".partition("e")
        label = f"{mantissa}e{int(exponent)}"
        if len(label) <= 6:
            break
    return label


def legend(names: list[str]) -> str:
    """`●─train ×┈val`: what each marker and line pattern stands for."""
    return " ".join(f"{look(i).marker}{look(i).name}{name}" for i, name in enumerate(names))


def titled(title: str, reference: Reference | None) -> str:
    """The chart title, naming the reference line when there is one: `accuracy ┄ val 0.677`."""
    return f"{title} {REFERENCE_RULE} {reference.label} {number(reference.value, 3)}" if reference else title


def marked(points: list, index: int, width: int) -> list:
    """The points of series `index` that get a marker: all when they fit `width` cells, else every
    k-th (shifted half a step for odd series, so two series' markers alternate) plus the last."""
    step = max(1, -(-len(points) * MARKER_SPACING // width))
    if step == 1:
        return points
    offset = step // 2 if index % 2 else 0
    chosen = points[offset::step]
    return chosen if points[-1:] == chosen[-1:] else chosen + points[-1:]


WAITING = "waiting for the first epoch…"


class LineChart(Widget):
    """Curves over epochs 1..`x_max`; call `plot` with new data (cheap: one redraw)."""

    COMPONENT_CLASSES = {
        "line-chart--axis",
        "line-chart--reference",
        "line-chart--empty",
        *(f"line-chart--series-{i}" for i in range(len(LOOKS))),
    }

    DEFAULT_CSS = """
    LineChart {
        height: 1fr;
        min-height: 5;
        & > .line-chart--axis { color: $text-muted; }
        & > .line-chart--reference { color: $success; }
        & > .line-chart--empty { color: $text-muted; text-style: italic; }
        & > .line-chart--series-0 { color: $primary; }
        & > .line-chart--series-1 { color: $accent; }
        & > .line-chart--series-2 { color: $success; }
        & > .line-chart--series-3 { color: $warning; }
        & > .line-chart--series-4 { color: $error; }
        & > .line-chart--series-5 { color: $secondary; }
    }
    """

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.title = title
        self.series: list[Series] = []
        self.reference: Reference | None = None
        self.x_max = 1
        self.border_title = title
        self.empty = WAITING  # what an empty chart says

    def plot(
        self,
        series: list[Series],
        x_max: int,
        reference: Reference | None = None,
        title: str | None = None,
        empty: str = "",
    ) -> None:
        """Draw `series`; `empty` is what to say when they have no point yet (default: waiting for one)."""
        self.series, self.x_max, self.reference = series, max(1, x_max), reference
        self.empty = empty or WAITING
        self.title = title or self.title
        self.border_title = titled(self.title, reference)
        self.border_subtitle = legend([s.name for s in series])
        self.refresh()

    @property
    def point_count(self) -> int:
        """Points of the longest series (what a test sees grow epoch by epoch)."""
        return max((len(s.points) for s in self.series), default=0)

    def render(self) -> Text:
        width, height = self.content_size
        plot_width, plot_height = width - GUTTER, height - 1
        if plot_width < 4 or plot_height < 2:
            return Text("")
        if not self.point_count:
            return Text(self.empty, style=self.get_component_rich_style("line-chart--empty"))
        return _Canvas(self, plot_width, plot_height).draw()


class _Canvas:
    """One rendering of a chart: braille cells, marker cells, the reference row, then text."""

    def __init__(self, chart: LineChart, width: int, height: int):
        self.chart, self.width, self.height = chart, width, height
        values = [y for s in chart.series for _, y in s.points]
        if chart.reference is not None:
            values.append(chart.reference.value)
        low, high = min(values), max(values)
        pad = (high - low) * 0.05 or abs(high) * 0.1 or 0.1
        # no tick below zero for values that cannot be negative (a learning rate, an accuracy)
        self.y_low, self.y_high = (low - pad if low < 0 else max(low - pad, 0.0)), high + pad
        self.x_low, self.x_high = 1, max(chart.x_max, 2)
        self.dots = [[0] * width for _ in range(height)]
        self.owner = [[-1] * width for _ in range(height)]
        self.marks: dict[tuple[int, int], int] = {}

    def _dot(self, x: float, y: float) -> tuple[int, int]:
        col = round((x - self.x_low) / (self.x_high - self.x_low) * (self.width * 2 - 1))
        row = round((self.y_high - y) / (self.y_high - self.y_low) * (self.height * 4 - 1))
        return col, row

    def _polyline(self, index: int, dots: list[tuple[int, int]]) -> None:
        """The series' line through its points; the pattern runs on across points, so short segments keep it."""
        counter = 0
        for segment, ((c0, r0), (c1, r1)) in enumerate(zip(dots, dots[1:])):
            steps = max(abs(c1 - c0), abs(r1 - r0), 1)
            for step in range(0 if segment == 0 else 1, steps + 1):  # a segment starts where the last ended
                counter += 1
                if not look(index).keeps(counter - 1):
                    continue
                col = c0 + round((c1 - c0) * step / steps)
                row = r0 + round((r1 - r0) * step / steps)
                self.dots[row // 4][col // 2] |= _DOTS[col % 2][row % 4]
                self.owner[row // 4][col // 2] = index

    def draw(self) -> Text:
        chart = self.chart
        for index, series in enumerate(chart.series):
            dots = [self._dot(x, y) for x, y in series.points]
            self._polyline(index, dots)
            for col, row in marked(dots, index, self.width):
                self.marks[(row // 4, col // 2)] = index
        reference_row = None
        if chart.reference is not None:
            reference_row = self._dot(self.x_low, chart.reference.value)[1] // 4
        return self._text(reference_row)

    def _text(self, reference_row: int | None) -> Text:
        chart = self.chart
        axis = chart.get_component_rich_style("line-chart--axis")
        reference = chart.get_component_rich_style("line-chart--reference")
        styles = [chart.get_component_rich_style(f"line-chart--series-{i}") for i in range(len(LOOKS))]
        labels = {0: self.y_high, self.height // 2: (self.y_high + self.y_low) / 2, self.height - 1: self.y_low}
        text = Text(no_wrap=True, overflow="crop")
        for row in range(self.height):
            if row in labels:
                text.append(f"{tick(labels[row]):>{GUTTER - 2}} ┤", axis)
            else:
                text.append(" " * (GUTTER - 1) + "│", axis)
            run: list[str] = []
            run_style: Style | None = None
            for col in range(self.width):
                if (row, col) in self.marks:
                    index = self.marks[(row, col)]
                    char, style = look(index).marker, styles[index % len(styles)]
                elif self.dots[row][col]:
                    char, style = chr(_BRAILLE + self.dots[row][col]), styles[self.owner[row][col] % len(styles)]
                elif row == reference_row:
                    char, style = REFERENCE_RULE, reference
                else:
                    char, style = " ", None
                if style is not run_style and run:  # one append per run of equally styled cells
                    text.append("".join(run), run_style)
                    run = []
                run.append(char)
                run_style = style
            text.append("".join(run), run_style)
            text.append("\n")
        text.append(self._x_axis(), axis)
        return text

    def _x_axis(self) -> str:
        first = str(self.x_low)
        last = str(self.x_high) if self.chart.x_max >= self.x_high else ""  # a one-epoch run has no epoch 2
        middle = "epoch"
        room = self.width - len(first) - len(last)
        if room < len(middle) + 2:
            middle = ""
        left = (room - len(middle)) // 2
        return " " * (GUTTER - 1) + "└" + first + " " * left + middle + " " * (room - left - len(middle)) + last
