"""Helpers shared by the benchmarks: interleaved repeats and medians, so ratios compare like with like."""

from __future__ import annotations

import platform
import statistics
import subprocess
import time
from pathlib import Path
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


def wall_time(command: list[str], cwd: Path | None = None, exit_codes: tuple[int, ...] = (0,)) -> Callable[[], float]:
    """Seconds `command` takes; an exit code outside `exit_codes` (say 2 for bad input timed on purpose) fails."""

    def measure() -> float:
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - started
        if done.returncode not in exit_codes:
            raise SystemExit(f"{' '.join(command)}: exit code {done.returncode}\n{done.stderr}")
        return seconds

    return measure
