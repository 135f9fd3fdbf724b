"""What the app was started with: where runs go and the `--set` overrides applied to every preset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kerashp.config import Preset, load_preset


@dataclass(frozen=True)
class Settings:
    runs_dir: Path = Path("runs")
    overrides: tuple[str, ...] = ()  # e.g. ("data.source=folder:/data/cifar10-mini",)
    preset: str = ""  # the preset highlighted at start

    def load(self, name: str, extra: tuple[str, ...] | list[str] = ()) -> Preset:
        """The preset with the app-wide overrides, then `extra` ones, applied (raises PresetError)."""
        return load_preset(name, [*self.overrides, *extra])
