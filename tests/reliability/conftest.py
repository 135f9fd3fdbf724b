"""Counts the reliability suite reports at the end of a test session (kill points survived, bad
inputs tried, fuzz examples run), so the figures quoted in the README come from a real run."""

from __future__ import annotations

from collections import Counter

import pytest

COUNTS: Counter[str] = Counter()


@pytest.fixture
def tally():
    """`tally("kill points survived", 3)` adds to the totals printed after the tests."""

    def add(what: str, count: int = 1) -> None:
        COUNTS[what] += count

    return add


def pytest_terminal_summary(terminalreporter):
    if COUNTS:
        terminalreporter.section("reliability")
        for what, count in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{count:6d}  {what}")
