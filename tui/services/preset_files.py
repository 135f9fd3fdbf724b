"""Saving a tweaked preset as a new preset file: `extends = "<base>"` plus only the changed keys.

User presets live in the first directory of `$KERASHP_PRESET_PATH`, or `./presets-user/`, which
`kerashp-tui` puts on that path so a saved preset is found by name, by the TUI and by
`kerashp train --preset NAME` run from the same directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kerashp.config import PRESET_PATH_ENV, available_presets, load_preset, preset_toml
from kerashp.errors import UserError
from kerashp.runs.folder import atomic_write
from tui.services.tweak_fields import overrides_for

DEFAULT_USER_DIR = Path("presets-user")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def user_preset_dir(environ=os.environ) -> Path:
    entries = [p for p in environ.get(PRESET_PATH_ENV, "").split(os.pathsep) if p]
    return Path(entries[0]) if entries else DEFAULT_USER_DIR


def put_user_presets_on_path(environ=os.environ) -> None:
    """Make `./presets-user/` a preset directory when the user has not named one."""
    if not environ.get(PRESET_PATH_ENV):
        environ[PRESET_PATH_ENV] = str(DEFAULT_USER_DIR)


def check_name(name: str) -> str:
    """Why `name` cannot be a new preset's name, or "" when it can."""
    if not NAME_PATTERN.fullmatch(name):
        return "a name uses letters, digits, _ . - and starts with a letter or digit"
    if name in available_presets():
        return f"a preset named {name} already exists"
    return ""


def save_variant(base: str, name: str, edits: dict[str, str]) -> Path:
    """Write `<user dir>/<name>.toml` extending `base` with `edits` (key -> TOML text); returns it."""
    problem = check_name(name)
    if problem:
        raise UserError(f"preset name {name!r}: {problem}")
    edited = load_preset(base, overrides_for(edits))
    document: dict = {"extends": base}
    for key in edits:
        path = _stored_path(edited, key.split("."))
        _put(document, path, edited.get_path(".".join(path)))
    directory = user_preset_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.toml"
    header = f"# {name}: {base} with {len(edits)} change(s), saved by kerashp-tui\n"
    atomic_write(target, preset_toml(document, header))
    load_preset(str(target))  # what was written must load
    return target


def _stored_path(preset: dict, parts: list[str]) -> list[str]:
    """Where an edit is written: a key inside a list (a transform's p) writes the whole list,
    because `extends` replaces lists rather than merging them."""
    node = preset
    for depth, part in enumerate(parts):
        if isinstance(node, list):
            return parts[:depth]
        node = node[part]
    return parts


def _put(document: dict, path: list[str], value) -> None:
    for part in path[:-1]:
        document = document.setdefault(part, {})
    document[path[-1]] = value
