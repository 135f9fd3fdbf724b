"""Start-up time of the light commands, and of bad input refused, vs bare Python.

Goals: `--help`, `presets`, a bad preset and a bad data path under 1 s over bare Python without
importing torch or keras; `info` no slower than importing torch (it needs it for the devices) and
`summary` than importing keras (it builds the model).

    python benchmarks/startup.py [--repeats 7]
    python benchmarks/startup.py --against /tmp/before    # also time a checkout of an earlier commit

`--against DIR` runs each command from both checkouts in the same round (`python -m kerashp.cli`
with the checkout as the current directory imports that checkout's kerashp), so a before/after
comparison on a loaded machine sees the same load.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import interleaved, machine, wall_time

HERE = Path(__file__).resolve().parent.parent


def commands(runs_dir: str) -> dict[str, tuple[list[str], tuple[int, ...]]]:
    """Name -> (arguments, the exit codes expected: 2 for bad input)."""
    return {
        "kerashp --help": (["--help"], (0,)),
        "kerashp presets list": (["presets", "list"], (0,)),
        "kerashp presets validate lenet5_aug": (["presets", "validate", "lenet5_aug"], (0,)),
        "bad preset (train --preset lenet6)": (["train", "--preset", "lenet6", "--runs-dir", runs_dir], (2,)),
        "bad data path (folder:/nonexistent)": (
            ["train", "--preset", "lenet5", "--set", "data.source=folder:/nonexistent", "--runs-dir", runs_dir], (2,),
        ),
        "kerashp info": (["info", "--runs-dir", runs_dir], (0,)),
        "kerashp summary --preset lenet5": (["summary", "--preset", "lenet5"], (0,)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--against", type=Path, metavar="DIR", help="a checkout of an earlier commit to time alongside")
    args = parser.parse_args()
    python = sys.executable
    runs_dir = tempfile.mkdtemp(prefix="kerashp-startup-")  # a bad input must not leave a run in ./runs
    checkouts = {"": HERE} | ({" (before)": args.against.resolve()} if args.against else {})
    candidates = {"python -c pass": wall_time([python, "-c", "pass"])}
    for module in ("torch", "keras"):  # the floor of `info` (torch, for the devices) and of `summary` (keras)
        code = f"import os; os.environ['KERAS_BACKEND'] = 'torch'; import {module}"  # as kerashp runs keras
        candidates[f"python -c 'import {module}'"] = wall_time([python, "-c", code])
    for name, (argv, exit_codes) in commands(runs_dir).items():
        for label, checkout in checkouts.items():
            candidates[name + label] = wall_time([python, "-m", "kerashp.cli", *argv], checkout, exit_codes)
    medians = interleaved(candidates, args.repeats)
    base = medians["python -c pass"]
    print(f"startup, median of {args.repeats} interleaved runs on {machine()}")
    for name, seconds in medians.items():
        extra = "" if name == "python -c pass" else f"  (+{seconds - base:.3f} s over bare Python)"
        print(f"  {name:<48} {seconds:7.3f} s{extra}")


if __name__ == "__main__":
    main()
