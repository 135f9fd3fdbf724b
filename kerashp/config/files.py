"""Preset files: where they are found, how they are read, and how kerashp writes one to be run again."""

from __future__ import annotations

import copy
import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from kerashp.errors import PresetError
from kerashp.text import printable

Document = TypeVar("Document", bound=dict[str, Any])  # a plain document, or a Preset: the copy is of its type

PRESET_PATH_ENV = "KERASHP_PRESET_PATH"


def preset_dirs() -> list[Path]:
    """Where presets are looked up: $KERASHP_PRESET_PATH entries, then the bundled presets."""
    dirs = [Path(p) for p in os.environ.get(PRESET_PATH_ENV, "").split(os.pathsep) if p]
    package = Path(__file__).resolve().parents[1]  # kerashp/
    for bundled in (package / "presets", package.parent / "presets"):  # wheel, then source checkout
        if bundled.is_dir():
            dirs.append(bundled)
            break
    return dirs


def available_presets() -> dict[str, Path]:
    """Preset name -> file, earlier directories shadowing later ones."""
    found: dict[str, Path] = {}
    for directory in reversed(preset_dirs()):
        for path in sorted(directory.glob("*.toml")):
            found[path.stem] = path
    return dict(sorted(found.items()))


def find_preset(name_or_path: str, extending: Path | None = None) -> Path:
    """A preset given by path (anything with a slash or a .toml suffix) or by name. For the `extends`
    of the file `extending`, its own folder is searched first and the file itself is skipped, so
    sibling presets find each other and `my/lenet5.toml` can extend the bundled `lenet5`."""
    folder = extending.parent if extending is not None else None
    if looks_like_path(name_or_path):
        candidates = [Path(name_or_path)]
        if folder is not None:
            candidates.insert(0, folder / name_or_path)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise PresetError(printable(name_or_path), "", "no such preset file", has_value=False)
    itself = extending.resolve() if extending is not None else None
    folders = ([folder] if folder is not None else []) + preset_dirs()
    found = [
        candidate for candidate in (directory / f"{name_or_path}.toml" for directory in folders) if candidate.is_file()
    ]
    others = [candidate for candidate in found if candidate.resolve() != itself]
    if others or found:  # only itself: `extends` names the file it is in, a cycle the loader reports
        return (others or found)[0]
    presets = available_presets()
    close = difflib.get_close_matches(name_or_path, presets, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"available: {', '.join(presets)}"
    raise PresetError("preset", printable(name_or_path), f"unknown preset; {hint}", has_value=False)


def looks_like_path(name_or_path: str) -> bool:
    return name_or_path.endswith(".toml") or os.sep in name_or_path or "/" in name_or_path


def portable(document: Document) -> Document:
    """A copy of a preset (or of the part of one a file writes) whose paths work from any directory:
    a relative `folder:PATH` source and an `extends` given by path are made absolute from the current
    directory, which is where they were read from. For every preset written to be run again."""
    document = copy.deepcopy(document)
    data = document.get("data")
    source = data.get("source") if isinstance(data, dict) else None
    if isinstance(data, dict) and isinstance(source, str) and source.startswith("folder:"):
        data["source"] = "folder:" + str(Path(source.removeprefix("folder:")).expanduser().resolve())
    parent = document.get("extends")
    if isinstance(parent, str) and looks_like_path(parent):
        document["extends"] = str(Path(parent).expanduser().resolve())
    return document


def preset_toml(document: dict, header: str = "") -> str:
    """The text of a preset file kerashp writes to be run again (`kerashp train --preset FILE`):
    `header` (comment lines), then the document as TOML with its paths made portable."""
    return header + tomli_w.dumps(portable(document))


def read_toml(path: Path) -> dict:
    """The TOML document at `path`; text that is not UTF-8, or holds an integer too long for
    Python to read (over 4300 digits), is a syntax error like any other, not a traceback."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(str(path), "", f"TOML syntax error: {printable(str(exc))}", has_value=False) from None
    except UnicodeDecodeError as exc:
        problem = f"TOML syntax error: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        raise PresetError(str(path), "", problem, has_value=False) from None
    except ValueError as exc:
        raise PresetError(str(path), "", f"TOML syntax error: {first_clause(exc)}", has_value=False) from None
    except OSError as exc:
        raise PresetError(str(path), "", f"cannot read: {exc.strerror}", has_value=False) from None


def first_clause(exc: Exception) -> str:
    """Python's message without its advice to programmers ("...; use sys.set_int_max_str_digits()")."""
    return printable(str(exc).split(";")[0])
