"""A bad option is one line and exit 2, like any other bad input; every `--help` fits 80 columns."""

from __future__ import annotations

import argparse

import pytest

from kerashp.cli import build_parser, main


def all_parsers(parser: argparse.ArgumentParser):
    """`kerashp`'s parser and every (sub)subcommand's, e.g. `kerashp data prepare`'s."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases map to one parser
                yield from all_parsers(sub)


@pytest.mark.parametrize(
    "argv, line",
    [
        (["train", "--preset", "lenet5", "--bogus"], "kerashp train: error: unrecognized arguments: --bogus"),
        (["tune", "--max-trials", "x"], "kerashp tune: error: argument --max-trials: expected a whole number >= 1"),
        (["data", "prepare"], "kerashp data prepare: error: the following arguments are required: name"),
        (["data", "prepare", "mnist", "extra"], "kerashp data prepare: error: unrecognized arguments: extra"),
        (["summary", "--preset", "lenet5", "--input-shape", "3"], "kerashp summary: error: argument --input-shape"),
        (["nope"], "kerashp: error: argument COMMAND: invalid choice: 'nope'"),
        ([], "kerashp: error: the following arguments are required: COMMAND"),
    ],
)
def test_a_bad_option_is_one_line_naming_the_subcommand_and_exit_2(argv, line, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(line), captured.err
    assert captured.err.count("\n") == 1 and "usage:" not in captured.err


def test_every_help_fits_80_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal's width
    parsers = list(all_parsers(build_parser()))
    assert {"kerashp", "kerashp data prepare", "kerashp augment-preview"} <= {p.prog for p in parsers}
    for parser in parsers:
        too_wide = [line for line in parser.format_help().splitlines() if len(line) > 80]
        assert not too_wide, f"{parser.prog} --help:\n" + "\n".join(too_wide)
