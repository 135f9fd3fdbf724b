"""Search algorithms side by side at the same budget (epochs spent): random, bayesian, hyperband,
tpe and bohb, each over several seeds, on two objectives.

- synthetic: the real oracles (`kerashp.search.tuner.build_oracle` on a preset) driven through
  KerasTuner's oracle API (`create_trial`, `update_trial`, `end_trial`), with no training. The space
  has every type a preset can search: a log-scale float (learning rate), a linear float (momentum),
  an int (batch size), a string choice (optimizer), a list-valued choice (`model.hidden`) and a
  bool (batch norm). Each configuration's value rises with the epochs it gets towards its own
  asymptote (a badly set learning rate also learns slower), so Hyperband's and BOHB's budgets mean
  something; the optimum is known (0.9 at lr 1e-2, momentum 0.9, batch 64, [100, 50], sgd, batch
  norm), and the table gives the median regret (0.9 minus the best value found) at the budget.
- real: `mlp_cifar10` on the CIFAR-10 subset through kerashp's search engine (`run_search`, which
  `kerashp tune` calls), searching its L2 strength (log) and depth (list choice) as the MLP study
  did; the table gives the median best validation accuracy. Hyperband gets one iteration of its
  brackets, bohb as many trials, and the others as many full-length trials as that costs, rounded
  up (their budget is the larger by under one trial).

Every algorithm gets the same budget of epochs; an epoch a Hyperband trial continues from its
parent is not counted twice. The figure shows the best so far against the epochs spent: the median
over seeds and the band from the 25th to the 75th percentile.

    python benchmarks/search_algorithms.py synthetic [--seeds 15] [--budget 270]
    python benchmarks/search_algorithms.py real [--seeds 3] [--data ../shared/data/cifar10-mini]
    python benchmarks/search_algorithms.py synthetic --quick    # a smoke run: 2 seeds, small budget
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from common import machine

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT.parent / "shared" / "data" / "cifar10-mini"
ALGORITHMS = ("random", "bayesian", "hyperband", "tpe", "bohb")
Curve = list[tuple[int, float]]  # (epochs spent, best value so far), one point per finished trial

# ---------------------------------------------------------------------------------------- synthetic

SYNTHETIC_SPACE = """
"optimizer.learning_rate" = { type = "float", min = 1e-4, max = 1.0, log = true }
"optimizer.momentum" = { type = "float", min = 0.0, max = 0.99 }
"train.batch_size" = { type = "int", min = 16, max = 256 }
"optimizer.name" = ["sgd", "adam", "adagrad"]
"model.hidden" = [[50, 30], [100, 50], [200, 100, 50], [50, 30, 20, 20, 10]]
"model.batch_norm" = { type = "bool" }
"""
HIDDEN_COST = {(50, 30): 0.06, (100, 50): 0.0, (200, 100, 50): 0.03, (50, 30, 20, 20, 10): 0.1}
OPTIMIZER_COST = {"sgd": 0.0, "adam": 0.03, "adagrad": 0.08}
BEST = 0.9  # the asymptote at the optimum
CHANCE = 0.1  # where every configuration starts (ten classes)


def asymptote(values: dict) -> float:
    """What a configuration reaches with unlimited epochs: BEST less a cost per hyperparameter."""
    lr = (math.log10(values["optimizer.learning_rate"]) + 2) / 4  # 0 at 1e-2, -0.5 and 0.5 at the ends
    momentum = (values["optimizer.momentum"] - 0.9) / 0.99
    batch = (math.log2(values["train.batch_size"]) - 6) / 4
    cost = 1.2 * lr**2 + 0.15 * momentum**2 + 0.1 * batch**2
    cost += HIDDEN_COST[tuple(values["model.hidden"])] + OPTIMIZER_COST[values["optimizer.name"]]
    return BEST - cost - (0.0 if values["model.batch_norm"] else 0.03)


def synthetic_value(values: dict, epochs: int) -> float:
    """The objective after `epochs` epochs, rising from CHANCE towards the configuration's asymptote."""
    tau = 1 + 3 * abs(math.log10(values["optimizer.learning_rate"]) + 2) / 4
    return CHANCE + (asymptote(values) - CHANCE) * (1 - math.exp(-epochs / tau))


def synthetic_preset(algorithm: str, seed: int, max_epochs: int, factor: int, work: Path):
    from kerashp.config import load_preset
    from kerashp.search.space import check_search

    file = work / "synthetic.toml"
    file.write_text(
        f'seed = {seed}\n[model]\nname = "mlp"\nhidden = [50, 30]\n[train]\nepochs = {max_epochs}\n'
        f'[search]\nalgorithm = "{algorithm}"\nmax_trials = 10000\nmax_epochs = {max_epochs}\nfactor = {factor}\n'
        f"[search.space]\n{SYNTHETIC_SPACE}"
    )
    preset = load_preset(str(file))
    check_search(preset)
    return preset


def drive_synthetic(algorithm: str, seed: int, budget: int, max_epochs: int, factor: int, work: Path) -> Curve:
    """One search of the synthetic objective by the real oracle, until `budget` epochs are spent."""
    from kerashp.search.space import active_values
    from kerashp.search.tuner import build_oracle

    preset = synthetic_preset(algorithm, seed, max_epochs, factor, work)
    oracle = build_oracle(preset)
    if algorithm == "hyperband":
        oracle.hyperband_iterations = math.inf  # build_oracle runs one iteration; a budget may need more
    oracle._set_project_dir(str(work / f"{algorithm}-{seed}"), "oracle")
    oracle.verbose = 0  # no KerasTuner table per trial
    space, spent, best, curve = preset["search"]["space"], 0, -math.inf, []
    while spent < budget:
        trial = oracle.create_trial("bench")
        if trial.status != "RUNNING":
            break
        values = trial.hyperparameters.values
        epochs, initial = int(values.get("tuner/epochs", max_epochs)), int(values.get("tuner/initial_epoch", 0))
        score = synthetic_value(active_values(trial.hyperparameters, space), epochs)
        oracle.update_trial(trial.trial_id, {"val_accuracy": score})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        spent, best = spent + epochs - initial, max(best, score)
        curve.append((spent, best))
    return curve


# ---------------------------------------------------------------------------------------- real


def real_search(algorithm: str, seed: int, args, work: Path) -> Curve:
    """One `mlp_cifar10` search through kerashp's search engine; the best validation accuracy so far
    after each trial, against the epochs trained."""
    from kerashp.config import load_preset
    from kerashp.search.directory import SearchDir
    from kerashp.search.events import TrialEnded, TrialStarted
    from kerashp.search.runner import run_search
    from kerashp.search.space import check_search

    full_trials = math.ceil(args.hyperband_epochs / args.max_epochs)
    # the preset's cyclic learning rate climbs for 5 epochs (2,250 steps of CIFAR-10's 45,000 images at
    # batch 100); on a subset, the same 5 epochs, or the rate never leaves 1e-5 in a short trial
    train_images = sum(1 for _ in (args.data / "train").glob("*/*")) - args.validation
    trials = {"hyperband": 1, "bohb": args.hyperband_trials}.get(algorithm, full_trials)
    overrides = [
        f"data.source=folder:{args.data}", f"data.validation={args.validation}", "augment.transforms=[]",
        "train.memory_layout=contiguous", f"train.epochs={args.max_epochs}", f"seed={seed}",
        f"search.algorithm={algorithm}", f"search.max_trials={trials}", f"search.max_epochs={args.max_epochs}",
        f"search.factor={args.factor}", f"search.startup_trials={args.startup_trials}",
        f"schedule.half_cycle_steps={5 * math.ceil(train_images / 100)}",
    ]  # fmt: skip
    preset = load_preset("mlp_cifar10", overrides)
    check_search(preset)
    started: dict[str, int] = {}
    spent, best, curve = 0, -math.inf, []

    def listen(event) -> None:
        nonlocal spent, best
        if isinstance(event, TrialStarted):
            started[event.record["trial_id"]] = event.initial_epoch
        elif isinstance(event, TrialEnded):
            record = event.record
            spent += record["epochs"] - started.get(record["trial_id"], 0)
            if record["objective"] is not None:
                best = max(best, record["objective"])
            curve.append((spent, best))

    run_search(preset, SearchDir.prepare(work / f"{algorithm}-{seed}", preset), [listen])
    return curve


# ---------------------------------------------------------------------------------------- results


def best_at(curve: Curve, budget: float) -> float:
    """The best value found with at most `budget` epochs spent (-inf before the first trial ends)."""
    return max((best for spent, best in curve if spent <= budget), default=-math.inf)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def figure(curves: dict[str, list[Curve]], budget: int, ylabel: str, regret: bool, file: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = list(range(1, budget + 1))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for algorithm, runs in curves.items():
        if not runs:
            continue
        points = []
        for epochs in grid:
            values = [best_at(curve, epochs) for curve in runs]
            if all(math.isfinite(v) for v in values):
                points.append((epochs, *quartiles([BEST - v if regret else v for v in values])))
        if points:
            x, low, mid, high = zip(*points)
            ax.plot(x, mid, label=algorithm)
            ax.fill_between(x, low, high, alpha=0.2)
    if regret:
        ax.set_yscale("log")
    ax.set(xlabel="epochs spent", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(file, dpi=110)
    plt.close(fig)


def table(curves: dict[str, list[Curve]], budget: int, regret: bool) -> str:
    name = "regret (0.9 - best)" if regret else "best val_accuracy"
    lines = [f"| algorithm | median {name} | 25-75% | trials (median) |", "| --- | --- | --- | --- |"]
    for algorithm, runs in curves.items():
        if not runs:
            continue
        finals = [best_at(curve, budget) for curve in runs]
        q1, median, q3 = quartiles([BEST - v if regret else v for v in finals])
        if regret:
            q1, q3 = q3, q1  # a low regret is the good end
        counted = statistics.median(sum(1 for spent, _ in curve if spent <= budget) for curve in runs)
        lines.append(f"| {algorithm} | {median:.4f} | {min(q1, q3):.4f} - {max(q1, q3):.4f} | {counted:g} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("objective", choices=("synthetic", "real"))
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=ALGORITHMS)
    parser.add_argument("--seeds", type=int, help="seeds per algorithm (default: 15 synthetic, 3 real)")
    parser.add_argument("--budget", type=int, default=270, help="synthetic: epochs per search (default 270)")
    parser.add_argument("--max-epochs", type=int, help="a full trial's epochs (default: 9 synthetic, 3 real)")
    parser.add_argument("--factor", type=int, default=3, help="Hyperband's and BOHB's reduction factor")
    parser.add_argument("--startup-trials", type=int, help="tpe's random trials first (default: 10 synthetic, 2 real)")
    parser.add_argument("--data", type=Path, default=MINI, help="real: the image folder (cifar10-mini)")
    parser.add_argument("--per-class", type=int, help="real: train on the first N images per class (test: N / 5)")
    parser.add_argument("--out", type=Path, default=Path("search-algorithms"), help="folder for the figure and table")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 seeds and a small budget")
    args = parser.parse_args()
    real = args.objective == "real"
    args.seeds = args.seeds or (2 if args.quick else 3 if real else 15)  # 5 synthetic seeds spread more than the algorithms differ
    args.max_epochs = args.max_epochs or (3 if real else 9)
    args.startup_trials = args.startup_trials or (2 if real else 10)
    if args.quick:
        args.budget = min(args.budget, 60)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"search-algorithms-{args.objective}-"))
    args.validation = max(100, (args.per_class or 500) * 10 // 5)  # a fifth of the training images
    if real and args.per_class:
        args.data = subset(args.data, args.per_class, work / "data")
    if real:
        args.hyperband_trials, args.hyperband_epochs = hyperband_iteration(args.max_epochs, args.factor)
        args.budget = max(args.hyperband_epochs, math.ceil(args.hyperband_epochs / args.max_epochs) * args.max_epochs)
    print(f"{machine()}; {args.objective}, budget {args.budget} epochs, {args.seeds} seeds", flush=True)

    curves: dict[str, list[Curve]] = {algorithm: [] for algorithm in args.algorithms}
    for seed in range(args.seeds):  # algorithms alternate within a seed, so machine load falls on all alike
        for algorithm in args.algorithms:
            started = time.perf_counter()
            if real:
                curve = real_search(algorithm, seed, args, work)
            else:
                curve = drive_synthetic(algorithm, seed, args.budget, args.max_epochs, args.factor, work)
            curves[algorithm].append(curve)
            print(f"  seed {seed} {algorithm:<9} {len(curve):3d} trials, {curve[-1][0]:4d} epochs, "
                  f"best {curve[-1][1]:.4f}  ({time.perf_counter() - started:.1f} s)", flush=True)  # fmt: skip
            result = write_results(curves, seed + 1, args)  # after each search: a long run can be cut short
    print(textwrap.indent(result, "  "))
    print(f"figure: {args.out / f'{args.objective}.png'}")


def write_results(curves: dict[str, list[Curve]], seeds: int, args) -> str:
    """The figure, the table (returned) and the curves (JSON) of the seeds run so far."""
    regret = args.objective == "synthetic"
    ylabel = "regret (0.9 - best value so far)" if regret else "best val_accuracy so far"
    title = f"{args.objective}: median and 25-75% over {seeds} seeds"
    figure(curves, args.budget, ylabel, regret, args.out / f"{args.objective}.png", title)
    result = table(curves, args.budget, regret)
    (args.out / f"{args.objective}.md").write_text(result + "\n")
    (args.out / f"{args.objective}.json").write_text(json.dumps(curves) + "\n")
    return result


def subset(data: Path, per_class: int, into: Path) -> Path:
    """An image folder with the first `per_class` training images of each class of `data` (and a
    fifth as many test images), copied: for a machine too loaded to search on all of them."""
    import shutil

    for split, count in (("train", per_class), ("test", max(1, per_class // 5))):
        for folder in sorted((data / split).iterdir()):
            (into / split / folder.name).mkdir(parents=True)
            for image in sorted(folder.iterdir())[:count]:
                shutil.copy(image, into / split / folder.name / image.name)
    return into


def hyperband_iteration(max_epochs: int, factor: int) -> tuple[int, int]:
    """Trials and epochs of one iteration of KerasTuner's Hyperband brackets (an epoch a trial
    continues from its parent counted once)."""
    import keras_tuner

    oracle = keras_tuner.oracles.HyperbandOracle(
        keras_tuner.Objective("val_accuracy", "max"), max_epochs=max_epochs, factor=factor
    )
    trials = epochs = 0
    for bracket in range(oracle._get_num_brackets()):
        for round_ in range(bracket + 1):
            size, before = oracle._get_size(bracket, round_), oracle._get_epochs(bracket, round_ - 1) if round_ else 0
            trials, epochs = trials + size, epochs + size * (oracle._get_epochs(bracket, round_) - before)
    return trials, epochs


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
