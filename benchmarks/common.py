"""Helpers shared by the benchmarks: interleaved repeats and medians, so ratios compare like with like."""

from __future__ import annotations

import platform
import statistics
import subprocess
import time
from typing import Callable


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def interleaved(candidates: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Run each candidate once per round, `repeats` rounds, and return the median of each.

    Interleaving spreads machine noise (another process, thermal state) evenly over candidates.
    """
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, measure in candidates.items():
            samples[name].append(measure())
    return {name: statistics.median(values) for name, values in samples.items()}


def wall_time(command: list[str]) -> Callable[[], float]:
    def measure() -> float:
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started

    return measure
