"""Presets: find them, follow `extends`, apply `--set`, validate against the schema.

`load_preset` gives a `Preset` with every key resolved. The schema (`schema`, `fields`) and the model
table (`model_table`) say what a preset may hold; none of it imports torch or keras, so a preset is
checked in milliseconds, before anything heavy loads.
"""

from kerashp.config.files import (
    PRESET_PATH_ENV,
    available_presets,
    find_preset,
    portable,
    preset_dirs,
    preset_toml,
    read_toml,
)
from kerashp.config.loading import apply_override, deep_merge, load_preset, parse_override
from kerashp.config.preset import Preset
from kerashp.config.validation import validate

__all__ = [
    "PRESET_PATH_ENV", "Preset", "apply_override", "available_presets", "deep_merge", "find_preset", "load_preset",
    "parse_override", "portable", "preset_dirs", "preset_toml", "read_toml", "validate",
]  # fmt: skip
