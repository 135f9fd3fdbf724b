"""Where a kerashp run spends host time: cProfile of `kerashp.training.run.train` after a warm-up
run in the same process (so data decoding and the layout decision are not counted), the way the
GPU figures in README.md were found. On a GPU, host time the step waits on shows up as time in
copies and conversions; what is left is Python the GPU does not hide.

    python benchmarks/profile_run.py [--model lenet5|resnet20] [--precision float32|mixed_bfloat16]
        [--batch-size 512] [--epochs 4] [--data DIR] [--out profile.txt]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from step_throughput import MINI, OVERRIDES, kerashp_preset  # noqa: E402

from kerashp.training.run import train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", choices=list(OVERRIDES), default="lenet5")
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--data", default=str(MINI))
    parser.add_argument("--out", type=Path, default=Path("profile.txt"))
    args = parser.parse_args()

    def preset(epochs: int):
        return kerashp_preset(args.model, f"folder:{args.data}", args.batch_size, epochs, args.precision)

    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory() as runs:
        train(preset(1), Path(runs) / "warm-up")
        profiler.enable()
        result = train(preset(args.epochs), Path(runs) / "measured")
        profiler.disable()
        times = [row["epoch_time"] for row in result.run.read_history()]
    print(f"{args.model}, {args.precision}, batch {args.batch_size}: epoch times {times} s")
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(70)
    args.out.write_text(text.getvalue())
    print(f"profile: {args.out}")


if __name__ == "__main__":
    main()
