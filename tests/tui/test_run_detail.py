"""The run screen reads a run's preset.toml only to draw the reported figures: any damage to it
leaves the charts without a reference line, never a crash."""

from __future__ import annotations

import pytest

from kerashp.runs.folder import RunDir
from tui.screens.run_detail import run_reference


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[reference]\nval_accuracy = 0.62\n', {"val_accuracy": 0.62}),
        ("reference = 3\n", {}),  # not a table: dict(3) raised TypeError past the old except
        ('reference = "ab"\n', {}),
        ("[reference\n", {}),  # not TOML
        (b"\xff\xfe", {}),  # not UTF-8
        (None, {}),  # gone since the listing
    ],
)
def test_a_run_reference_is_its_presets_table_or_nothing(tmp_path, text, expected):
    run = RunDir(tmp_path)
    if isinstance(text, bytes):
        run.preset_file.write_bytes(text)
    elif text is not None:
        run.preset_file.write_text(text)
    assert run_reference(run) == expected
