"""Training throughput with the TUI attached vs headless `train()` (goal: ratio >= 0.95).

All train the same preset on the same data, interleaved, several times:
  headless  kerashp.training.run.train(preset, runs_dir) with no listeners, on this process's main thread,
            as `kerashp train` runs it;
  tui       the real app, headless (App.run_test), started with `t` on the preset: the run trains in
            the app's child process, every event goes to the dashboard, which redraws as it goes;
  thread    for reference, train() on a plain thread of this process, as a thread worker would run
            it (the TUI does not: PyTorch's speed off the main thread depends on the machine's load).
Throughput is training images per second over the epochs after the first (the first pays for
warm-up), from the epoch times each run records in history.csv. tui/headless is the goal figure.

    python benchmarks/tui_overhead.py [--data ../shared/data/cifar10-mini] [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
from pathlib import Path

import numpy as np
from common import interleaved, machine

DEFAULT_DATA = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-mini")
PRESET = "lenet5"


def throughput(run_dir: Path) -> float:
    """Training images per second over every epoch but the first."""
    from kerashp.runs.folder import RunDir

    run = RunDir(run_dir)
    images = len(np.load(run.path / "split.npz")["train"])
    times = [row["epoch_time"] for row in run.read_history()[1:]]
    return images * len(times) / sum(times)


def headless(settings) -> float:
    from kerashp.training.run import train

    result = train(settings.load(PRESET), settings.runs_dir)
    return throughput(result.run.path)


def on_a_thread(settings) -> float:
    result = {}
    worker = threading.Thread(target=lambda: result.update(speed=headless(settings)))
    worker.start()
    worker.join()
    return result["speed"]


def with_tui(settings) -> float:
    from tui.app import KerashpApp

    app = KerashpApp(settings, theme="textual-dark")

    async def drive() -> Path:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("t")
            while app.live is None or not app.live.ended:
                await asyncio.sleep(0.5)  # the app runs meanwhile; the harness stays out of its way
            assert app.live.status == "completed", app.live.message
            return Path(app.live.run_dir)

    return throughput(asyncio.run(drive()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="an ImageFolder dataset (folder:PATH source)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is not timed)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is warm-up")

    from kerashp.backend import use_torch_backend
    from tui.services.settings import Settings

    use_torch_backend()
    import kerashp.training.run  # noqa: F401  import Keras once, outside the timings

    with tempfile.TemporaryDirectory() as runs:
        overrides = (f"data.source=folder:{args.data}", f"train.epochs={args.epochs}", "train.evaluate_test=false")
        settings = Settings(Path(runs), overrides, preset=PRESET)
        candidates = {"headless": headless, "tui": with_tui, "thread": on_a_thread}
        medians = interleaved({name: lambda run=run: run(settings) for name, run in candidates.items()}, args.repeats)
    print(f"TUI overhead: {PRESET} on {args.data}, {args.epochs} epochs, "
          f"median of {args.repeats} interleaved runs on {machine()}")
    for name, images_per_second in medians.items():
        print(f"  {name:<9} {images_per_second:8.1f} images/s")
    print(f"  ratio tui/headless {medians['tui'] / medians['headless']:.3f} (goal >= 0.95)")
    print(f"  ratio thread/headless {medians['thread'] / medians['headless']:.3f} (why the TUI trains in a process)")


if __name__ == "__main__":
    main()
