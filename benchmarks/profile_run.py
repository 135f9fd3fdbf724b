"""Where a kerashp run spends host time: cProfile of `kerashp.training.run.train` after a warm-up
run in the same process (so data decoding and the layout decision are not counted), the way the
GPU figures in README.md were found. On a GPU, host time the step waits on shows up as time in
copies and conversions; what is left is Python the GPU does not hide.

With `--trace T.json.gz` the measured run is recorded by `torch.profiler` instead (CPU, and CUDA
where present): a Chrome/Perfetto trace with every thread's operators and the GPU's kernels, which
shows what cProfile cannot, such as which thread waits and when the GPU idles. It prints the
operators by their own host time, and the time between batches and the time the feed took each
(from the DataLoader's `enumerate(DataLoader)` marks), medians.

    python benchmarks/profile_run.py [--model lenet5|resnet20] [--precision float32|mixed_bfloat16]
        [--batch-size 512] [--epochs 4] [--data DIR] [--out profile.txt] [--trace T.json.gz]
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from step_throughput import MINI, OVERRIDES, kerashp_preset  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from kerashp.training.run import train  # noqa: E402

BATCH_MARK = "enumerate(DataLoader)"  # torch's record of each batch Keras's DataLoader hands over


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", choices=list(OVERRIDES), default="lenet5")
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--data", default=str(MINI))
    parser.add_argument("--out", type=Path, default=Path("profile.txt"))
    parser.add_argument("--trace", type=Path, help="record the run with torch.profiler into this .json(.gz) trace")
    args = parser.parse_args()

    def preset(epochs: int):
        return kerashp_preset(args.model, f"folder:{args.data}", args.batch_size, epochs, args.precision)

    with tempfile.TemporaryDirectory() as runs:
        train(preset(1), Path(runs) / "warm-up")
        if args.trace:
            result = traced(lambda: train(preset(args.epochs), Path(runs) / "measured"), args.trace)
        else:
            profiler = cProfile.Profile()
            profiler.enable()
            result = train(preset(args.epochs), Path(runs) / "measured")
            profiler.disable()
        times = [row["epoch_time"] for row in result.run.read_history()]
    print(f"{args.model}, {args.precision}, batch {args.batch_size}: epoch times {times} s")
    if args.trace:
        return
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(70)
    args.out.write_text(text.getvalue())
    print(f"profile: {args.out}")


def traced(run, trace: Path):
    """`run()` under torch.profiler; the trace written to `trace`, and its summary printed."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as recording:
        result = run()
    print(recording.key_averages().table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=60))
    with tempfile.TemporaryDirectory() as scratch:
        plain = Path(scratch) / "trace.json"
        recording.export_chrome_trace(str(plain))
        marks = sorted(
            (event["ts"], event["dur"])
            for event in json.loads(plain.read_text())["traceEvents"]
            if event.get("ph") == "X" and event.get("name", "").startswith(BATCH_MARK)
        )
        with plain.open("rb") as source, (gzip.open if trace.suffix == ".gz" else open)(trace, "wb") as target:
            shutil.copyfileobj(source, target)
    if len(marks) > 1:
        between = [(later - earlier) / 1e3 for (earlier, _), (later, _) in zip(marks, marks[1:])]
        print(f"{len(marks)} batches: {statistics.median(between):.2f} ms apart, the feed took "
              f"{statistics.median(duration / 1e3 for _, duration in marks):.2f} ms (medians; an epoch's end "
              f"falls between two batches); trace: {trace}")
    return result


if __name__ == "__main__":
    main()
