"""Start-up time of the light commands vs bare Python (goal: < 0.5 s more, no torch/keras import).

    python benchmarks/startup.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import sys

from common import interleaved, machine, wall_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    python = sys.executable
    medians = interleaved(
        {
            "python -c pass": wall_time([python, "-c", "pass"]),
            "kerashp --help": wall_time([python, "-m", "kerashp.cli", "--help"]),
            "kerashp presets list": wall_time([python, "-m", "kerashp.cli", "presets", "list"]),
            "kerashp presets validate lenet5_aug": wall_time([python, "-m", "kerashp.cli", "presets", "validate", "lenet5_aug"]),
        },
        args.repeats,
    )
    base = medians["python -c pass"]
    print(f"startup, median of {args.repeats} interleaved runs on {machine()}")
    for name, seconds in medians.items():
        extra = "" if name == "python -c pass" else f"  (+{seconds - base:.3f} s over bare Python)"
        print(f"  {name:<38} {seconds:.3f} s{extra}")


if __name__ == "__main__":
    main()
