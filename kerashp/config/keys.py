"""Dotted preset keys: `optimizer.learning_rate`, `search.space."model.hidden".values`,
`augment.transforms.vertical_flip.p` (a list entry by name or position), split and followed."""

from __future__ import annotations

import tomllib
from typing import Any


def split_key(key: str) -> list[str]:
    """A dotted key's parts, TOML-style: `search.space."optimizer.learning_rate".max` has four."""
    try:
        node, parts = tomllib.loads(f"{key} = 0"), []
        while isinstance(node, dict) and len(node) == 1:
            part, node = next(iter(node.items()))
            parts.append(part)
        return parts
    except tomllib.TOMLDecodeError:
        return key.split(".")


def flat_keys(document: dict, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to values, tables walked down (a list, such as the transforms, is one value)."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat |= flat_keys(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def quoted_part(part: str) -> str:
    """A key part as validation spells it: with a dot inside, in quotes."""
    return f'"{part}"' if "." in part else part


def key_names(document: dict, parts: list[str]) -> tuple[str, ...]:
    """`augment.transforms.0.p` as validation may spell it: by the entry's name
    (`augment.transforms.vertical_flip.p`) or, for an entry that is not a table, by position."""
    by_name: list[Any] = []  # an entry's `name` may be any value, shown with str()
    by_index: list[str] = []
    node: Any = document  # a table, a list or a value, as the walk goes down
    for part in parts:
        if isinstance(node, list):
            index = list_index(node, part)
            node = node[index]
            by_name.append(node.get("name", part) if isinstance(node, dict) else part)
            by_index.append(str(index))
        else:
            node = node.get(part) if isinstance(node, dict) else None
            by_name.append(quoted_part(part))
            by_index.append(quoted_part(part))
    return ".".join(map(str, by_name)), ".".join(by_index)


def list_index(items: list, part: str) -> int:
    """Address list entries by position (`transforms.0`) or by their name (`transforms.vertical_flip`)."""
    if part.isdecimal():  # not isdigit: "²" is a digit that int() cannot read
        index = int(part)
        if index >= len(items):
            raise IndexError(part)
        return index
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == part:
            return index
    raise KeyError(part)


def walk(node: Any, parts: list[str], create: bool = False) -> Any:
    for part in parts:
        if isinstance(node, list):
            node = node[list_index(node, part)]
        elif isinstance(node, dict):
            if part not in node:
                if not create:
                    raise KeyError(part)
                node[part] = {}
            node = node[part]
        else:
            raise TypeError(part)
    return node
