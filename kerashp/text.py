"""How kerashp writes values as text: TOML values, numbers, counts, durations and folder names.

Every error message, table, epoch line and written preset goes through these, so a value reads the
same everywhere and a TOML value a user copies from an error parses back.
"""

from __future__ import annotations

import math
import re
from typing import Any

import tomli_w

FIXED_BELOW = 1e4  # larger numbers (a diverging loss) are written as 1.211e+15, not sixteen digits
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_value(value: Any) -> str:
    """`value` as one line of TOML, the form that follows `key =` (so also `--set key=...`).
    Tables are written inline. Raises TypeError for a value TOML cannot hold (None, objects)."""
    if isinstance(value, dict):
        pairs = ", ".join(f"{toml_key(key)} = {toml_value(item)}" for key, item in value.items())
        return f"{{ {pairs} }}" if pairs else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return tomli_w.dumps({"v": value}).partition("=")[2].strip()  # scalars: tomli_w's escapes and floats


def toml_key(key: Any) -> str:
    """A table key: bare where TOML allows it, else quoted."""
    if not isinstance(key, str):
        raise TypeError(f"TOML keys are strings, not {type(key).__name__}")
    return key if BARE_KEY.fullmatch(key) else toml_value(key)


def shown_value(value: Any) -> str:
    """A value in an error or a form, always one printable line: its TOML text, so it can be copied
    back, with a table shown as `{...}` (a whole table would not fit one line); Python's repr for
    anything TOML cannot hold."""
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown_value(item) for item in value) + "]"
    try:
        return printable(toml_value(value))  # TOML escapes control characters; printable the rest (U+2028)
    except TypeError:
        return printable(repr(value))


def printable(value: Any) -> Any:
    """`value` with newlines and other unprintable characters in its strings written as escapes
    (`\\n`, `\\x1b`), so an error that quotes a key or value stays one line: TOML lets quoted
    keys and strings hold them, and so does a shell argument."""
    if isinstance(value, str):
        return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    return value


def number(value: Any, digits: int = 4, group_thousands: bool = False) -> str:
    """A number as every kerashp line and table writes it: `digits` decimals, or `digits`
    significant digits in exponent form when it is tiny or huge; `-` for none. Whole numbers are
    written whole (`4,909,002` with `group_thousands`, as report tables count parameters)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if group_thousands and abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        fixed = 1e-3 <= abs(value) < FIXED_BELOW or not value or not math.isfinite(value)
        return f"{value:.{digits}f}" if fixed else f"{value:.{digits}g}"
    return str(value)


def plural(count: int, noun: str) -> str:
    """`1 epoch`, `30 epochs`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def seconds(value: float) -> str:
    """`9.8s`, `123s`: tenths only where they matter."""
    return f"{value:.1f}s" if value < 100 else f"{value:.0f}s"


def slug(text: str) -> str:
    """A name safe as a folder name (a report section, a study variant)."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_") or "section"


def parse_number(text: str) -> float | None:
    """A finite number from text kerashp wrote (a CSV cell), else None."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
