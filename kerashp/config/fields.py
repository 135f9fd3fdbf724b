"""Typed preset fields: each knows its default, checks a value and says what is allowed.

`check` returns the (possibly coerced) value or raises `ValueError` whose text completes the
sentence "<key> = <value>: ...", so every schema error reads the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _too_big_for_float(value: Any) -> bool:
    """TOML integers have no size limit; one past float range would make `math.isfinite` raise
    OverflowError instead of the usual one-line error."""
    try:
        float(value)
    except OverflowError:
        return True
    return False


@dataclass(frozen=True)
class Field:
    default: Any
    doc: str = ""

    def check(self, value: Any) -> Any:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def allowed(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


@dataclass(frozen=True)
class Float(Field):
    """A real number in [lo, hi]; `lo_open`/`hi_open` exclude the bound."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def allowed(self) -> str:
        if self.lo is None and self.hi is None:
            return "a number"
        if self.hi is None:
            return f"a number {'>' if self.lo_open else '>='} {self.lo:g}"
        if self.lo is None:
            return f"a number {'<' if self.hi_open else '<='} {self.hi:g}"
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        return f"a number in {left}{self.lo:g}, {self.hi:g}{right}"

    def check(self, value: Any) -> float:
        if not is_number(value):
            raise ValueError(f"expected {self.allowed()}")
        if _too_big_for_float(value):
            raise ValueError(f"out of range; allowed: {self.allowed()}")
        if not math.isfinite(value):
            raise ValueError(f"expected {self.allowed()}")
        too_low = self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo))
        too_high = self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi))
        if too_low or too_high:
            raise ValueError(f"out of range; allowed: {self.allowed()}")
        return float(value)


# No count, size or seed kerashp takes comes near this; TOML integers are unbounded, and a huge one
# would otherwise pass validation and fail deep inside numpy or torch.
INT_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class Int(Field):
    lo: int | None = None
    hi: int | None = None

    def allowed(self) -> str:
        if self.hi is None:
            return "an integer" if self.lo is None else f"an integer >= {self.lo}"
        return f"an integer in [{self.lo}, {self.hi}]"

    def check(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"expected {self.allowed()}")
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ValueError(f"out of range; allowed: {self.allowed()}")
        if abs(value) > INT_LIMIT:
            raise ValueError(f"out of range; allowed: {self.allowed()}, at most {INT_LIMIT:,} in size")
        return value


@dataclass(frozen=True)
class Bool(Field):
    def allowed(self) -> str:
        return "true or false"

    def check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value


@dataclass(frozen=True)
class Str(Field):
    def allowed(self) -> str:
        return "a string"

    def check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected {self.allowed()}")
        return value


# tensorflow-datasets' own name syntax (tensorflow_datasets.core.naming._NAME_REG): `[namespace:]name`,
# then optionally `/config`, `:version` (1.2.3, * for any part) and `/key=value,...` builder arguments
TFDS_NAME = re.compile(r"([\w\-]+:)?[a-zA-Z]\w*(/[\w+\-.]+)?(:(\d+|\*)(\.(\d+|\*)){2})?(/(\w+=[^,]+,?)+)?")


@dataclass(frozen=True)
class DataSource(Field):
    """`tfds:NAME` or `folder:PATH`, its syntax checked here so a typo is refused with the preset;
    whether the folder exists is checked before training (kerashp.data.check_preset_data)."""

    def allowed(self) -> str:
        return 'tfds:NAME (e.g. "tfds:cifar10", "tfds:mnist:3.0.1") or folder:PATH'

    def check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected {self.allowed()}")
        kind, colon, target = value.partition(":")
        if not colon or kind not in ("tfds", "folder"):
            raise ValueError(f"expected {self.allowed()}")
        if kind == "folder" and not target.strip():
            raise ValueError("expected folder:PATH with a folder after the colon")
        if kind == "tfds" and not TFDS_NAME.fullmatch(target):
            raise ValueError("not a tfds dataset name: expected NAME[/CONFIG][:VERSION], e.g. tfds:cifar10")
        return value


@dataclass(frozen=True)
class Choice(Field):
    choices: tuple[str, ...] = ()

    def allowed(self) -> str:
        return "one of " + ", ".join(self.choices)

    def check(self, value: Any) -> str:
        if value not in self.choices:
            raise ValueError(f"unknown value; allowed: {', '.join(self.choices)}")
        return value


@dataclass(frozen=True)
class Numbers(Field):
    """A list of numbers, each checked by `item`, with a length from `lengths` (empty = any)."""

    item: Field = field(default_factory=lambda: Float(0.0))
    lengths: tuple[int, ...] = ()
    ascending: bool = False

    def allowed(self) -> str:
        size = " or ".join(str(n) for n in self.lengths) if self.lengths else "any number of"
        order = ", ascending" if self.ascending else ""
        return f"a list of {size} values, each {self.item.allowed()}{order}"

    def check(self, value: Any) -> list:
        if not isinstance(value, list):
            raise ValueError(f"expected {self.allowed()}")
        if self.lengths and len(value) not in self.lengths:
            raise ValueError(f"wrong length; expected {self.allowed()}")
        try:
            checked = [self.item.check(v) for v in value]
        except ValueError:
            raise ValueError(f"expected {self.allowed()}") from None
        if self.ascending and checked != sorted(checked):
            raise ValueError(f"expected {self.allowed()}")
        return checked


@dataclass(frozen=True)
class Strings(Field):
    """A list of strings (class names, for instance)."""

    def allowed(self) -> str:
        return "a list of strings"

    def check(self, value: Any) -> list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"expected {self.allowed()}")
        return list(value)


@dataclass(frozen=True)
class FractionOrCount(Field):
    """A fraction in [0, 1) of a split, or an absolute count >= 1 (like `random_split([40000, 10000])`)."""

    def allowed(self) -> str:
        return "a fraction in [0, 1) or a whole count >= 1"

    def check(self, value: Any) -> float | int:
        # nan passes both comparisons below, so it is refused here explicitly
        if not is_number(value) or value < 0 or (isinstance(value, float) and math.isnan(value)):
            raise ValueError(f"expected {self.allowed()}")
        if value >= 1:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"expected {self.allowed()}")
            return int(value)
        return float(value)


@dataclass(frozen=True)
class Scalar(Field):
    """A free number or string (used by `[reference]`, which records what a study reported)."""

    def allowed(self) -> str:
        return "a number or a string"

    def check(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"expected {self.allowed()}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected {self.allowed()} (a finite one)")
        return value
