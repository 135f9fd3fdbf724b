"""The screens driven by keys with Pilot (no training here: see test_training_flow.py)."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import DataTable, HelpPanel, OptionList, Static
from tui_helpers import drive, history, shown, wait_for, write_run

from kerashp.config import load_preset
from kerashp.errors import PresetError
from tui.app import KerashpApp, main
from tui.screens.compare import CompareScreen
from tui.screens.presets import PresetsScreen
from tui.screens.run_detail import RunDetailScreen
from tui.screens.runs import short_name
from tui.screens.tweak import TweakScreen
from tui.services.settings import Settings
from tui.theme import DARK, LIGHT, terminal_theme
from tui.widgets.chart import LineChart
from tui.widgets.field_row import FieldRow


def rows_by_key(screen: TweakScreen) -> dict[str, FieldRow]:
    return {row.spec.key: row for row in screen.query(FieldRow)}


def test_filter_narrows_the_list_and_details_describe_the_preset():
    app = KerashpApp(Settings(preset="lenet5"), theme=DARK)

    async def scenario(pilot):
        screen = app.screen
        assert isinstance(screen, PresetsScreen)
        await pilot.press("slash", *"resnet cifar")
        names = [option.id for option in screen.query_one(OptionList).options]
        await pilot.press("escape")  # clears the filter
        everything = [option.id for option in screen.query_one(OptionList).options]
        await pilot.press("slash", *"lenet5_aug", "enter")
        await wait_for(pilot, lambda: "lenet5_aug" in screen.summaries, what="the model summary")
        return names, everything, {w.id: shown(w) for w in screen.query("#preset-details Static")}

    names, everything, details = drive(app, scenario, size=(120, 40))
    assert names == ["resnet5m4_cifar10", "resnet5m_cifar10"]
    assert {"lenet5", "lenet5_aug", "resnet50_caltech101"} <= set(everything)
    preset = load_preset("lenet5_aug")
    assert preset["description"][:40] in details["preset-headline"]
    assert preset["study"] in details["preset-headline"] and "val_accuracy 0.677" in details["preset-headline"]
    assert "parameters" in details["preset-model"] and "MACs" in details["preset-model"]
    assert "learning_rate = 0.01" in details["preset-settings"] and "[optimizer]" in details["preset-settings"]


def test_a_preset_the_overrides_break_shows_why_instead_of_crashing():
    app = KerashpApp(Settings(overrides=("model.skip_pool=true",), preset="lenet5"), theme=DARK)

    async def scenario(pilot):
        await pilot.pause()
        headline = shown(app.screen.query_one("#preset-headline", Static))
        await pilot.press("t")  # cannot train it either
        return headline, app.live

    headline, live = drive(app, scenario)
    with_error = None
    try:
        load_preset("lenet5", ["model.skip_pool=true"])
    except PresetError as exc:
        with_error = str(exc)
    assert with_error and with_error[:60] in headline.replace("\n", " ") and live is None


def test_invalid_value_shows_the_clis_message_inline_and_blocks_training():
    app = KerashpApp(Settings(preset="lenet5"), theme=DARK)

    async def scenario(pilot):
        await pilot.press("enter")
        tweak = app.screen
        row = rows_by_key(tweak)["optimizer.learning_rate"]
        row.editor.focus()
        await pilot.press("ctrl+a", "ctrl+k", "minus", "1")
        message = shown(row.query_one(".field-message", Static))
        summary = shown(tweak.query_one("#tweak-summary", Static))
        invalid = row.has_class("-invalid") and row.has_class("-changed")
        await pilot.press("ctrl+r")
        still_editing = app.screen is tweak and app.live is None
        await pilot.press("ctrl+a", "ctrl+k", *"0.02")
        return message, summary, invalid, still_editing, row.has_class("-invalid"), shown(row.query_one(".field-message", Static))

    message, summary, invalid, still_editing, invalid_after_fix, message_after_fix = drive(app, scenario)
    assert message == "✗ --set: optimizer.learning_rate = -1: out of range; allowed: a number > 0"
    assert "1 invalid" in summary and invalid and still_editing
    assert not invalid_after_fix and message_after_fix == ""


def test_choosing_another_optimizer_shows_its_settings_only():
    app = KerashpApp(Settings(preset="lenet5"), theme=DARK)

    async def scenario(pilot):
        await pilot.press("enter")
        rows = rows_by_key(app.screen)
        before = rows["optimizer.momentum"].display, rows["optimizer.beta_1"].display
        rows["optimizer.name"].editor.value = "adam"
        await pilot.pause()
        after = rows["optimizer.momentum"].display, rows["optimizer.beta_1"].display
        return before, after, rows["optimizer.name"].has_class("-changed")

    before, after, marked = drive(app, scenario)
    assert before == (True, False) and after == (False, True) and marked


def test_save_as_a_new_preset_that_then_appears_in_the_list(preset_dir):
    app = KerashpApp(Settings(preset="lenet5"), theme=DARK)

    async def scenario(pilot):
        await pilot.press("enter")
        rows_by_key(app.screen)["train.batch_size"].editor.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"64", "ctrl+s")
        await pilot.press(*"lenet5", "enter")  # taken: the dialog says so and stays
        problem = shown(app.screen.query_one("#save-problem", Static))
        await pilot.press(*"_b64", "enter")
        title = shown(app.screen.query_one("#tweak-summary", Static))
        await pilot.press("escape")
        return problem, title, [option.id for option in app.screen.query_one(OptionList).options]

    problem, title, names = drive(app, scenario)
    assert problem == "a preset named lenet5 already exists"
    assert "Tweak lenet5_b64 · no changes yet" in title
    assert "lenet5_b64" in names
    assert load_preset("lenet5_b64")["train"]["batch_size"] == 64
    assert (preset_dir / "lenet5_b64.toml").read_text().count("=") == 2  # extends + batch_size


def test_open_a_run_and_compare_two_side_by_side(tmp_path):
    preset = load_preset("lenet5")
    write_run(tmp_path, "lenet5-20250101-000000", preset, history(4))
    write_run(tmp_path, "lenet5-20250102-000000", preset, history(6, scale=1.2))
    app = KerashpApp(Settings(runs_dir=tmp_path), theme=DARK)

    async def scenario(pilot):
        await pilot.press("3")
        table = app.screen.query_one(DataTable)
        listed = [table.get_row_at(i)[1] for i in range(table.row_count)]
        tooltip = table.tooltip
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, RunDetailScreen)
        points = detail.query_one("#accuracy-chart", LineChart).point_count
        await pilot.press("escape", "c")  # nothing selected yet: says so, stays
        stayed = not isinstance(app.screen, CompareScreen)
        await pilot.press("space", "down", "space", "c")
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        curves = [len(compare.query_one(f"#{c}", LineChart).series) for c in ("loss-chart", "accuracy-chart", "lr-chart")]
        stats = compare.query_one(DataTable)
        return listed, tooltip, points, stayed, curves, [str(c.label) for c in stats.columns.values()], stats.get_row_at(1)

    listed, tooltip, points, stayed, curves, columns, epochs_row = drive(app, scenario, size=(120, 40))
    assert listed == ["lenet5 01-02 00:00", "lenet5 01-01 00:00"]  # newest first, named short
    assert tooltip == "lenet5-20250102-000000"  # the highlighted run's full name
    assert points == 6 and stayed and curves == [2, 2, 2]
    assert columns == ["final epoch", "● 1 lenet5-20250102-000000", "× 2 lenet5-20250101-000000"]
    assert list(epochs_row) == ["epochs", "6", "4"]


def test_run_names_are_shortened_only_when_they_carry_a_stamp():
    assert short_name("resnet50_caltech101_frozen-20251231-235959-2") == "resnet50_caltech101_frozen 12-31 23:59-2"
    assert short_name("my-run") == "my-run"


def test_keys_panel_palette_and_theme_toggle():
    app = KerashpApp(Settings(preset="lenet5"), theme=DARK)

    async def scenario(pilot):
        await pilot.press("question_mark")
        panel = bool(app.screen.query(HelpPanel))
        await pilot.press("question_mark")
        hidden = not app.screen.query(HelpPanel)
        await pilot.press("ctrl+p")
        palette = isinstance(app.screen, CommandPalette)
        await pilot.press(*"light/dark", "enter")
        themed = app.theme
        await pilot.press("ctrl+t")
        return panel, hidden, palette, themed, app.theme

    panel, hidden, palette, themed, toggled = drive(app, scenario)
    assert panel and hidden and palette
    assert themed == LIGHT and toggled == DARK


def test_theme_follows_the_terminal_background():
    assert terminal_theme({"COLORFGBG": "0;15"}) == LIGHT
    assert terminal_theme({"COLORFGBG": "15;default;0"}) == DARK
    assert terminal_theme({}) == DARK
    assert terminal_theme({"COLORFGBG": "15;0"}, background=(1.0, 1.0, 0.9)) == LIGHT  # the terminal's answer wins


def test_command_line_rejects_bad_input_with_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("KERASHP_PRESET_PATH", str(tmp_path))  # main() puts user presets on the path
    assert main(["--set", "optimizer.learning_rate"]) == 2
    assert main(["--theme", "nope"]) == 2
    assert main(["--preset", "nope"]) == 2
    assert main(["--set", "foo=1"]) == 2
    assert main(["--preset", "lenet5", "--set", "optimizer.learning_rate=-1"]) == 2
    assert main(["--preset", "lenet5", "--set", f"data.source=folder:{tmp_path / 'nowhere'}"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 6
    assert errors[0].startswith("kerashp-tui: error: --set: optimizer.learning_rate: expected KEY=VALUE")
    assert errors[1].startswith("kerashp-tui: error: --theme nope: unknown theme")
    assert errors[2].startswith("kerashp-tui: error: --preset nope: unknown preset; available: ") and "lenet5" in errors[2]
    assert errors[3].startswith("kerashp-tui: error: --set: foo: unknown section or key")
    assert errors[4] == "kerashp-tui: error: --set: optimizer.learning_rate = -1: out of range; allowed: a number > 0"
    assert errors[5] == f"kerashp-tui: error: folder:{tmp_path / 'nowhere'}: no such directory"
