"""What the screens ask of the app, as messages: the app owns the one live run and the one search.

A screen posts one of these and it bubbles up to `KerashpApp`, which decides (one run at a time) and
acts; screens never call the app's methods.
"""

from __future__ import annotations

from textual.message import Message
from textual.screen import Screen

from kerashp.config import Preset
from tui.services.search_process import SearchProcess


class TrainPreset(Message):
    """Train `preset` and show the dashboard; refused while another run is live."""

    def __init__(self, preset: Preset, close: Screen | None = None) -> None:
        super().__init__()
        self.preset = preset
        self.close = close  # the screen asking, closed once the run starts (the tweak editor gives way)


class StopRun(Message):
    """Stop the live run after its current batch (it ends `stopped`, at its last finished epoch)."""


class TogglePause(Message):
    """Pause the live run, or resume it."""


class StartSearch(Message):
    """Run `process` (a `kerashp tune`) in the background."""

    def __init__(self, process: SearchProcess) -> None:
        super().__init__()
        self.process = process
