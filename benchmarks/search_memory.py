"""Memory over a search: resident set size after each of N tiny trials (goal: flat after warm-up).

KerasTuner searches are known to grow from trial to trial when models and sessions are kept
alive; kerashp clears the Keras session and collects garbage after every trial. This runs a real
random search of `lenet5_search` in this process on a small generated image folder and prints the
current and peak RSS after each trial.

    python benchmarks/search_memory.py [--trials 20] [--data DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

from common import machine

ROOT = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    """Current resident set size, from /proc (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--data", type=Path, help="an image folder (default: a generated 4-class one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="search-memory-"))
    if args.data is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from conftest import write_image_folder

        args.data = write_image_folder(work / "images")

    from kerashp.config import load_preset
    from kerashp.search.directory import SearchDir
    from kerashp.search.events import TrialEnded
    from kerashp.search.runner import run_search

    overrides = [f"data.source=folder:{args.data}", "data.validation=8", "train.epochs=1", f"search.max_trials={args.trials}"]
    preset = load_preset("lenet5_search", overrides)
    samples: list[tuple[str, float, float]] = []

    def measure(event) -> None:
        if isinstance(event, TrialEnded):
            samples.append((event.record["trial_id"], rss_mib(), peak_mib()))
            print(f"  trial {samples[-1][0]:>3}  {event.record['status']:<9}  rss {samples[-1][1]:7.1f} MiB  "
                  f"peak {samples[-1][2]:7.1f} MiB", flush=True)

    print(f"search memory, {args.trials} trials of lenet5_search (1 epoch each) on {machine()}")
    print(f"  before the search: rss {rss_mib():.1f} MiB")
    run_search(preset, SearchDir.prepare(work / "search", preset), [measure])
    warm = samples[min(4, len(samples) - 1)]
    print(f"peak RSS {samples[-1][2]:.1f} MiB; RSS after trial {warm[0]} {warm[1]:.1f} MiB, after the last "
          f"{samples[-1][1]:.1f} MiB ({samples[-1][1] - warm[1]:+.1f} MiB over {len(samples) - 1 - samples.index(warm)} trials)")


if __name__ == "__main__":
    main()
