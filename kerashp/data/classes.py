"""Class names as a preset writes them, matched to the data's own spelling. tfds calls Caltech101's
background class `background_google` and the study's folder `BACKGROUND_Google`; a preset written
for one must work on the other, so names match case-insensitively (an exact match first)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from kerashp.errors import DataError

SHOWN_CLASSES = 8  # names a message lists before "..."


class DataWarning(UserWarning):
    """A preset's data settings adapted to data they were not written for (said once, in one line)."""


def excluded_classes(wanted: Sequence[str], class_names: Sequence[str], source: str) -> list[str]:
    """The data's spelling of each class in `wanted` (data.exclude_classes); one it lacks is warned
    of and left out, not refused: a preset for Caltech101 runs on a folder without its background."""
    found: list[str] = []
    missing: list[str] = []
    for name in wanted:
        same = [known for known in class_names if known == name] or [
            known for known in class_names if known.casefold() == name.casefold()
        ]
        if len(same) > 1:
            raise DataError(f"data.exclude_classes: '{name}' matches {', '.join(same)} in {source}; write one exactly")
        if same:
            found.append(same[0])
        else:
            missing.append(name)
    if missing:
        shown = ", ".join(class_names[:SHOWN_CLASSES]) + (", ..." if len(class_names) > SHOWN_CLASSES else "")
        warnings.warn(  # one line for every caller (checks, glance, loading), so it is said once
            f"data.exclude_classes: {', '.join(missing)} not in {source} ({len(class_names)} classes: {shown}); "
            "nothing to exclude for it",
            DataWarning,
            stacklevel=1,
        )
    return found
