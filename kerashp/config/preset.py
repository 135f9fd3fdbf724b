"""The resolved preset: every key with its default filled in, read as `preset["data"]["source"]` or
`preset.data.source`."""

from __future__ import annotations

from typing import Any

from kerashp.config.keys import walk

OVERRIDES = "__overrides__"  # where apply_override records which keys came from --set

ORIGINS = "__origins__"  # where _load_chain records which file of an `extends` chain gave each key


class Preset(dict):
    """A resolved preset: a dict, with `preset.optimizer.learning_rate` style access for reading."""

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return Preset(value) if isinstance(value, dict) else value

    @property
    def name(self) -> str:
        return self.get("name", "")

    def get_path(self, dotted: str) -> Any:
        return walk(self, dotted.split("."))
