"""One real completed run shared by the tests that damage run folders (each works on a copy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kerashp.cli import main as kerashp_main

TRAINED_EPOCHS = 2


@pytest.fixture(scope="session")
def trained(tiny_folder, tmp_path_factory) -> Path:
    """A completed run of 2 epochs (lenet5, tiny folder data, a pinned memory layout). Never change
    it: copy it."""
    runs = tmp_path_factory.mktemp("trained")
    args = [
        "train", "--preset", "lenet5", "--set", f"data.source=folder:{tiny_folder}", "--set", "train.batch_size=8",
        "--set", "data.validation=8", "--set", "train.memory_layout=contiguous", "--epochs", str(TRAINED_EPOCHS),
        "--runs-dir", str(runs),
    ]  # fmt: skip
    assert kerashp_main(args) == 0
    (run,) = list(runs.iterdir())
    return run
