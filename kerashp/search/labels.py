"""Hyperparameters as tables and lines show them: values as trials.csv writes them, `key=value`
pairs, and the shortest unambiguous name of each searched key (for the CLI's tables and the TUI)."""

from __future__ import annotations

from collections.abc import Sequence

from kerashp.text import number

MIN_NAME = 5  # `horizontal_flip.p`, not `p`; `optimizer.name`, not `name` (model and schedule have one too)


def shown(value) -> str:
    """A hyperparameter as trials.csv and presets write it (`true`, not Python's `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return number(value)


def value_pairs(values: dict, keys: Sequence[str] = ()) -> list[str]:
    """`key=value` pairs, those in `keys` (the space's declared order) first."""
    ordered = [key for key in keys if key in values] + [key for key in values if key not in keys]
    return [f"{key}={shown(values[key])}" for key in ordered]


def describe_values(values: dict, keys: Sequence[str] = ()) -> str:
    return "  ".join(value_pairs(values, keys))


def short_names(keys: list[str]) -> dict[str, str]:
    """Each key's shortest dotted suffix that no other key ends with (`optimizer.learning_rate` ->
    `learning_rate`), so the table stays narrow."""
    names = {}
    for key in keys:
        parts = key.split(".")
        for size in range(1, len(parts) + 1):
            name = ".".join(parts[-size:])
            ambiguous = any(other != key and (other == name or other.endswith("." + name)) for other in keys)
            if not ambiguous and len(name) >= MIN_NAME:
                break
        names[key] = name
    return names
