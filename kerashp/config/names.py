"""The rule for a user-chosen name that becomes a folder name (a run's preset, a search, a study):
one plain path component, so no name can put a folder outside the one it belongs in."""

from __future__ import annotations

from typing import Any

from kerashp.errors import PresetError

LONGEST_NAME = 200  # a run folder adds -YYYYmmdd-HHMMSS[-N]; file names stop at 255 bytes


def check_folder_name(name: Any, source: str, key: str = "name") -> str:
    """`name` if it can safely become part of a folder name, as a preset's name (a file name) can:
    one path component, no separator, not `.` or `..`, printable; else a PresetError."""
    plain = isinstance(name, str) and 0 < len(name) <= LONGEST_NAME and name.isprintable()
    if not plain or name in (".", "..") or any(sep in name for sep in ("/", "\\")):
        shown = name
        raise PresetError(
            source,
            key,
            f"expected a plain name (no / or \\, not . or .., printable, at most "
            f"{LONGEST_NAME} characters): it becomes part of folder names",
            shown,
        )
    return name
