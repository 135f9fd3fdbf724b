"""The braille line chart: curves told apart without colour, the reference rule, growing point counts."""

from __future__ import annotations

from textual.app import App, ComposeResult
from tui_helpers import drive

from tui.widgets.chart import GUTTER, REFERENCE_RULE, LineChart, Reference, Series, legend, look, marked, tick, titled


class ChartApp(App):
    def compose(self) -> ComposeResult:
        yield LineChart("accuracy")


def rendered(series: list[Series], x_max: int, reference: Reference | None = None, size=(40, 12)) -> tuple[str, LineChart]:
    app = ChartApp()

    async def scenario(pilot):
        chart = app.query_one(LineChart)
        chart.plot(series, x_max, reference)
        await pilot.pause()
        return chart.render().plain, chart

    return drive(app, scenario, size=size)


def test_two_curves_have_different_markers_and_line_patterns():
    train = Series("train", [(1, 0.3), (2, 0.5), (3, 0.7)])
    val = Series("val", [(1, 0.2), (2, 0.35), (3, 0.4)])
    text, chart = rendered([train, val], x_max=5)
    assert text.count(look(0).marker) == 3 and text.count(look(1).marker) == 3
    assert look(0).marker != look(1).marker and look(0).pattern != look(1).pattern
    assert chart.point_count == 3
    first, second = look(0), look(1)
    assert chart.border_subtitle == legend(["train", "val"]) == f"{first.marker}{first.name}train {second.marker}{second.name}val"
    lines = text.splitlines()
    assert lines[-1].rstrip().endswith("5") and "└1" in lines[-1]  # x axis spans the planned epochs
    assert any(0x2800 < ord(ch) <= 0x28FF for ch in text)  # braille line segments between the points


def test_reference_is_a_labelled_rule_inside_the_range():
    text, chart = rendered([Series("val", [(1, 0.2), (2, 0.3)])], x_max=2, reference=Reference("test", 0.91))
    rule_rows = [line for line in text.splitlines() if REFERENCE_RULE * 5 in line]
    assert len(rule_rows) == 1
    assert chart.border_title == titled("accuracy", Reference("test", 0.91)) == "accuracy ┄ test 0.910"
    assert text.splitlines()[0].lstrip().startswith(tick(0.91 + (0.91 - 0.2) * 0.05))  # top label above the reference


def test_no_points_says_so_and_one_point_shows_its_marker():
    empty, chart = rendered([Series("train")], x_max=3)
    assert "waiting for the first epoch" in empty and chart.point_count == 0
    single, chart = rendered([Series("train", [(1, 1.5)])], x_max=3)
    assert single.count(look(0).marker) == 1 and chart.point_count == 1


def test_tick_labels_fit_six_characters():
    assert [tick(v) for v in (0.0, 0.0101, 1.718, 250.0, 9.6e-5, 12345.0)] == ["0", "0.0101", "1.72", "250", "9.6e-5", "1.2e4"]
    assert all(len(tick(v)) <= 6 for v in (1e-9, -0.00123, 0.5, 999.4, -5e6))


def test_thirty_epochs_keep_both_curves_distinguishable_at_80_columns():
    """A third of 80 columns, as each chart gets at 80x24: markers are thinned, never dropped."""
    train = Series("train", [(e, 0.3 + 0.02 * e) for e in range(1, 31)])
    val = Series("val", [(e, 0.25 + 0.015 * e) for e in range(1, 31)])
    text, chart = rendered([train, val], x_max=30, size=(24, 10))
    plot_width = 24 - GUTTER
    for index in (0, 1):
        count = text.count(look(index).marker)
        assert 3 <= count <= plot_width // 2, (index, count, text)
    assert chart.border_subtitle == legend(["train", "val"])
    assert look(0).pattern != look(1).pattern and sum(look(1).pattern) / len(look(1).pattern) <= 1 / 3  # val: sparse dots


def test_thinned_markers_alternate_between_series_and_keep_the_last_point():
    points = list(range(30))
    train, val = marked(points, 0, 16), marked(points, 1, 16)
    assert train[-1] == val[-1] == 29
    assert not set(train[:-1]) & set(val[:-1])  # offset: one series' markers never cover the other's
    assert marked(points[:5], 0, 16) == points[:5]  # few points: every one is marked


def test_axes_show_only_real_values():
    text, _ = rendered([Series("lr", [(1, 1e-4), (2, 5e-5), (3, 1e-5)])], x_max=3)
    assert not any(line.lstrip().startswith("-") for line in text.splitlines())  # no negative tick for positive values
    single, _ = rendered([Series("train", [(1, 0.5)])], x_max=1)
    assert single.splitlines()[-1].rstrip().endswith("epoch")  # no epoch 2 on a one-epoch axis
