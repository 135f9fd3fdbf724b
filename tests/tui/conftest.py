"""Fixtures for driving the real app: settings that point every run at tiny generated data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.services.settings import Settings

TINY = ("train.batch_size=8", "data.validation=8", "train.epochs=2")


@pytest.fixture
def tiny_settings(tiny_folder: Path, tmp_path: Path) -> Settings:
    return Settings(tmp_path / "runs", (f"data.source=folder:{tiny_folder}", *TINY), preset="lenet5")
