"""Short trials: `kerashp tune` vs a plain KerasTuner script, trials per hour (goal: kerashp >= 1.2x).

A search is many short trainings, so per-trial fixed costs (data, the layout probe, model build,
per-epoch checkpoints, test evaluation, events) weigh as much as the training step. Both sides
run the same job as their own process, alternately, `--repeats` times, and the medians of wall
time are compared: a random search over the learning rate alone (log-uniform 1e-3..0.3) of
LeNet-5 with batch norm (SGD, Nesterov momentum 0.9, L2 1e-4 on kernels, batch 128), `--trials`
trials of `--epochs` epochs on the shared cifar10-mini, 10% of the training images held out for
validation, the objective val_accuracy.

- kerashp: `python -m kerashp.cli tune --preset FILE` (a preset extending `lenet5` with that
  space), with everything a kerashp trial keeps: a run folder per trial, per-epoch checkpoints
  (resumable), events, the test-set evaluation of the best epoch, records and trials.csv.
- plain: the script a Keras user would write (this file with `--plain`): decode the folder into
  NumPy arrays with Pillow, build the model with keras.layers (channels_last), and
  `keras_tuner.RandomSearch(...).search(x, y, validation_data=...)`, stock `fit`.

Then one more kerashp search runs in-process with timers around its parts (`--breakdown`): where
a trial's seconds go, each part counted without the parts inside it.

    python benchmarks/search_overhead.py [--trials 4] [--epochs 3] [--repeats 3] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import machine

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT.parent / "shared" / "data" / "cifar10-mini"
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)  # the lenet5 preset's fixed normalisation
LEARNING_RATES = (1e-3, 0.3)
PRESET = """extends = "lenet5"
[data]
source = "folder:{data}"
[search]
algorithm = "random"
objective = "val_accuracy"
direction = "max"
max_trials = {trials}
[search.space]
"optimizer.learning_rate" = {{ type = "float", min = {low}, max = {high}, log = true }}
"""


def environment() -> dict[str, str]:
    """The children's environment: kerashp from this checkout (installed or not), Keras on torch."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "KERAS_BACKEND": "torch", "NO_ALBUMENTATIONS_UPDATE": "1"}


def timed_child(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)}: exit code {done.returncode}\n{done.stderr[-3000:]}")
    return seconds


def write_preset(work: Path, data: Path, trials: int) -> Path:
    preset = work / "lenet5_lr_search.toml"
    low, high = LEARNING_RATES
    preset.write_text(PRESET.format(data=data, trials=trials, low=low, high=high), encoding="utf-8")
    return preset


# ----------------------------------------------------------------------------------- the plain script


def plain_search(data: Path, trials: int, epochs: int, work: Path) -> None:
    """What a Keras user would write for this job, with nothing of kerashp."""
    import keras
    import keras_tuner
    import numpy as np
    from PIL import Image

    classes = sorted(p.name for p in (data / "train").iterdir() if p.is_dir())
    files = [(f, label) for label, name in enumerate(classes) for f in sorted((data / "train" / name).iterdir())]
    images = np.stack([np.asarray(Image.open(f).convert("RGB")) for f, _ in files])
    x = ((images.astype("float32") / 255.0 - np.float32(MEAN)) / np.float32(STD)).astype("float32")
    y = keras.utils.to_categorical([label for _, label in files], len(classes))
    order = np.random.default_rng(0).permutation(len(x))
    held_out = len(x) // 10
    validation, training = order[:held_out], order[held_out:]

    def build(hp):
        l2 = keras.regularizers.L2(1e-4)
        model = keras.Sequential([keras.Input(x.shape[1:])])
        for filters in (6, 16):
            model.add(keras.layers.Conv2D(filters, 5, use_bias=False, kernel_regularizer=l2))
            model.add(keras.layers.BatchNormalization())
            model.add(keras.layers.ReLU())
            model.add(keras.layers.MaxPooling2D())
        model.add(keras.layers.Flatten())
        for units in (120, 84):
            model.add(keras.layers.Dense(units, use_bias=False, kernel_regularizer=l2))
            model.add(keras.layers.BatchNormalization())
            model.add(keras.layers.ReLU())
        model.add(keras.layers.Dense(len(classes), kernel_regularizer=l2))
        rate = hp.Float("learning_rate", *LEARNING_RATES, sampling="log")
        model.compile(
            optimizer=keras.optimizers.SGD(rate, momentum=0.9, nesterov=True),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    tuner = keras_tuner.RandomSearch(
        build, objective="val_accuracy", max_trials=trials, seed=0, directory=str(work), project_name="plain"
    )
    tuner.search(
        x[training],
        y[training],
        validation_data=(x[validation], y[validation]),
        epochs=epochs,
        batch_size=128,
        verbose=0,
    )


# ----------------------------------------------------------------------------------- kerashp's breakdown


class Timers:
    """Wall time per part, each part without the parts called inside it (a stack of open timers)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.stack: list[list[float]] = []  # [started, seconds spent in inner parts]
        self.missing: list[str] = []  # parts whose function this checkout does not have (renamed, moved)

    def wrap(self, owner, name: str, part: str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{name} ({part})")
            return

        def timed(*args, **kwargs):
            self.stack.append([time.perf_counter(), 0.0])
            try:
                return original(*args, **kwargs)
            finally:
                started, inner = self.stack.pop()
                spent = time.perf_counter() - started
                self.seconds[part] += spent - inner
                self.calls[part] += 1
                if self.stack:
                    self.stack[-1][1] += spent

        setattr(owner, name, timed)


def breakdown(preset_file: Path, epochs: int, work: Path) -> dict:
    """One kerashp search in this process with its parts timed; seconds per part (JSON-ready)."""
    import keras

    from kerashp.config import load_preset
    from kerashp.runs.folder import RunDir
    from kerashp.search.directory import SearchDir
    from kerashp.search.runner import run_search
    from kerashp.training import checkpoints, feeds, recorder, run

    timers = Timers()
    timers.wrap(run, "_load_feeds", "data: load, split, normalise")
    timers.wrap(feeds.Feeds, "save", "run folder: split and normalisation")
    timers.wrap(run, "_memory_layout", "layout decision (probe)")
    timers.wrap(run, "build_compiled_model", "model: build, compile, accelerate")
    timers.wrap(keras.Model, "fit", "fit: training steps and validation")
    timers.wrap(recorder, "atomic_save", "epoch checkpoint (.keras save)")
    timers.wrap(recorder, "atomic_copy", "best checkpoint copy")
    for name in ("write_history", "write_state", "write_summary", "write_preset", "append_event"):
        timers.wrap(RunDir, name, "run files and events")
    timers.wrap(run, "load_checkpoint", "test: load best checkpoint")
    timers.wrap(run, "_evaluate", "test: evaluate")
    timers.wrap(checkpoints, "committed_state", "run files and events")
    preset = load_preset(str(preset_file), [f"train.epochs={epochs}"])
    trials = preset["search"]["max_trials"]
    searched = time.perf_counter()
    run_search(preset, SearchDir.prepare(work / "breakdown", preset), [])
    total = time.perf_counter() - searched
    parts = dict(timers.seconds)
    parts["search: tuner, records, the rest"] = total - sum(parts.values())
    return {"trials": trials, "search": total, "parts": parts, "calls": dict(timers.calls), "missing": timers.missing}


# ----------------------------------------------------------------------------------- the comparison


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=MINI, help="ImageFolder dataset (default: shared cifar10-mini)")
    parser.add_argument("--plain", type=Path, metavar="WORK", help=argparse.SUPPRESS)  # the plain script's process
    parser.add_argument("--breakdown", type=Path, metavar="WORK", help=argparse.SUPPRESS)  # the timed search's
    args = parser.parse_args()
    if args.plain:
        plain_search(args.data, args.trials, args.epochs, args.plain)
        return
    if args.breakdown:
        sys.path.insert(0, str(ROOT))
        result = breakdown(write_preset(args.breakdown, args.data, args.trials), args.epochs, args.breakdown)
        print(json.dumps(result | {"process_to_search": time.perf_counter() - STARTED - result["search"]}))
        return

    print(
        f"search_overhead on {machine()}: {args.trials} trials x {args.epochs} epochs of LeNet-5 on {args.data}, "
        f"{args.repeats} interleaved repeats (load average {os.getloadavg()[0]:.1f})"
    )
    walls: dict[str, list[float]] = {"kerashp": [], "plain": []}
    job = ["--data", str(args.data), "--trials", str(args.trials), "--epochs", str(args.epochs)]
    with tempfile.TemporaryDirectory(prefix="search-overhead-") as temp:
        work = Path(temp)
        preset = str(write_preset(work, args.data, args.trials))
        for repeat in range(args.repeats):
            tune = ["tune", "--preset", preset, "--dir", str(work / f"kerashp-{repeat}"), "--epochs", str(args.epochs)]
            walls["kerashp"].append(timed_child([sys.executable, "-m", "kerashp.cli", *tune]))
            walls["plain"].append(
                timed_child([sys.executable, __file__, "--plain", str(work / f"plain-{repeat}"), *job])
            )
        breakdown_run = [sys.executable, __file__, "--breakdown", str(work), *job]
        done = subprocess.run(breakdown_run, env=environment(), capture_output=True, text=True, check=True)
        timed = json.loads(done.stdout.strip().splitlines()[-1])
    per_hour = {side: args.trials * 3600 / statistics.median(values) for side, values in walls.items()}
    for side, values in walls.items():
        print(
            f"  {side:<8} {statistics.median(values):6.1f} s  ({per_hour[side]:5.0f} trials/h)  "
            f"samples {[round(v, 1) for v in values]}"
        )
    print(
        f"  kerashp / plain, trials per hour: {per_hour['kerashp'] / per_hour['plain']:.2f}  "
        f"(load average now {os.getloadavg()[0]:.1f})"
    )
    trials = timed["trials"]
    print(f"  where a kerashp trial's time goes (one timed search in-process, {trials} trials, seconds per trial):")
    print(f"    {'imports and set-up (once per search)':<44} {timed['process_to_search']:6.2f} in all")
    for part, seconds in sorted(timed["parts"].items(), key=lambda item: -item[1]):
        calls = timed["calls"].get(part)
        print(f"    {part:<44} {seconds / trials:6.2f}" + (f"   ({calls} calls)" if calls else ""))
    print(f"    {'trial in all':<44} {timed['search'] / trials:6.2f}")
    for missing in timed["missing"]:
        print(f"    (not broken out here: {missing})")


if __name__ == "__main__":
    main()
