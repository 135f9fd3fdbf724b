"""Lab-report figures drawn with matplotlib (Agg, imported on first use).

Every figure tells its curves apart three ways, so it reads in colour, for colour-blind readers
(Okabe-Ito palette) and printed in grey: colour, marker, and line style (training dashed,
validation solid). Inputs are plain data (labels, history rows, numbers), never run directories.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Okabe & Ito (2008), ordered so the first colours differ most in lightness as well as hue
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
MARKERS_PER_CURVE = 12
LOG_SCALE_ABOVE = 10.0  # values spanning more than an order of magnitude are drawn on a log axis
REFERENCE_DASHES = (":", "-.", (0, (1, 3)), (0, (6, 2, 1, 2, 1, 2)))  # none is training's "--" or validation's "-"
UNUSED = -0.12  # where parallel coordinates put a hyperparameter a trial did not use
PARALLEL_COLOURS_UP_TO = 0.82  # of viridis: beyond it the yellow is too pale to see on white
TICKS_AT_MOST = 6  # a parallel axis labels every value trials had up to this many, else the extremes and the best
TICK_SPACING = 0.07  # the least distance (of the 0..1 axis) between two labelled values
TICK_HALF_WIDTH = 0.04
BAR_SPACING = 0.04  # epochs between the interval bars of a one-epoch band figure

History = Sequence[dict]


def _pyplot():
    import matplotlib  # on first use: matplotlib takes a second to import, and only a report draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"font.size": 11, "axes.titlesize": 12, "legend.fontsize": 9, "axes.grid": True, "grid.alpha": 0.3}
    )
    return plt


def style(index: int) -> dict:
    """Colour and marker of the `index`-th curve (markers cycle at a different length than colours)."""
    return {"color": PALETTE[index % len(PALETTE)], "marker": MARKERS[index % len(MARKERS)]}


def _save(plt, fig, path: Path) -> Path:
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return path


def wants_log_axis(values: Sequence[float]) -> bool:
    """The one rule for every loss (and learning-rate) axis: log when the positive values span more
    than LOG_SCALE_ABOVE, so one diverging curve (loss 30) does not squash the others (1.5-4.5) flat."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    return bool(positive) and max(positive) / min(positive) > LOG_SCALE_ABOVE


def _maybe_log(axis, values: Sequence[float]) -> None:
    if wants_log_axis(values):
        axis.set_yscale("log")


def _epoch_axis(axis) -> None:
    from matplotlib.ticker import MaxNLocator  # on first use, as _pyplot

    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # one epoch: one tick, "1"


def _column(history: History, key: str) -> tuple[list[int], list[float]]:
    rows = [row for row in history if key in row]
    return [row["epoch"] for row in rows], [row[key] for row in rows]


def curves_figure(
    path: Path,
    runs: Sequence[tuple[str, History]],
    metric: str,
    title: str,
    references: Sequence[tuple[str, float]] = (),
) -> Path:
    """`metric` per epoch for each run: training (`metric`) dashed, validation (`val_metric`) solid.

    `references` are reported figures drawn as grey horizontal lines, each in its own dash pattern
    and named in the legend (text on the plot would collide with the curves, edges and title); the
    y-range always includes them."""
    plt = _pyplot()
    from matplotlib.lines import Line2D  # on first use, as _pyplot

    fig, axis = plt.subplots(figsize=(7.5, 4.5))
    drawn: list[float] = []
    for index, (_, history) in enumerate(runs):
        look = style(index)
        for key, dashes in ((metric, "--"), (f"val_{metric}", "-")):
            epochs, values = _column(history, key)
            every = max(1, len(epochs) // MARKERS_PER_CURVE)
            axis.plot(epochs, values, linestyle=dashes, markevery=every, markersize=5, linewidth=1.6, **look)
            drawn += values
    handles = [Line2D([], [], linestyle="-", **style(i), label=label) for i, (label, _) in enumerate(runs)]
    _finish_epoch_axes(axis, metric, metric, title, drawn, references, handles)
    return _save(plt, fig, path)


def band_figure(
    path: Path,
    variants: Sequence[tuple[str, Sequence[History]]],
    metric: str,
    title: str,
    references: Sequence[tuple[str, float]] = (),
) -> Path:
    """`metric` per epoch, the mean over each variant's runs (its seeds): training dashed, validation
    solid, each in a shaded band, the 95% confidence interval of the mean (Student's t) at the
    epochs two or more runs reached. `references` as in `curves_figure`."""
    plt = _pyplot()
    from matplotlib.lines import Line2D  # on first use, as _pyplot
    from matplotlib.patches import Patch

    from kerashp.report.significance import CONFIDENCE, spread

    fig, axis = plt.subplots(figsize=(7.5, 4.5))
    drawn: list[float] = []
    for index, (_, histories) in enumerate(variants):
        look = style(index)
        for key, dashes in ((metric, "--"), (f"val_{metric}", "-")):
            by_epoch: dict[int, list[float]] = {}
            for history in histories:
                for epoch, value in zip(*_column(history, key)):
                    by_epoch.setdefault(epoch, []).append(value)
            epochs = sorted(by_epoch)
            spreads = [spread(by_epoch[epoch]) for epoch in epochs]
            means = [one.mean for one in spreads]
            if len(epochs) == 1:  # a band one epoch wide has no area: an interval bar, set beside the others
                xs: list[float] = [epochs[0] + BAR_SPACING * (2 * index + (key != metric) - len(variants) + 0.5)]
                if spreads[0].low is not None and spreads[0].high is not None:
                    bar = [spreads[0].low, spreads[0].high]
                    axis.plot(xs * 2, bar, color=look["color"], alpha=0.35, linewidth=5, linestyle=dashes)
                    drawn += bar
                axis.set_xlim(epochs[0] - 0.5, epochs[0] + 0.5)
            else:
                xs = [float(epoch) for epoch in epochs]
                banded = [(epoch, one.low, one.high) for epoch, one in zip(epochs, spreads) if one.low is not None]
                if banded:
                    band_epochs, lows, highs = zip(*banded)
                    axis.fill_between(band_epochs, lows, highs, color=look["color"], alpha=0.15, linewidth=0)
                    drawn += [*lows, *highs]
            every = max(1, len(epochs) // MARKERS_PER_CURVE)
            axis.plot(xs, means, linestyle=dashes, markevery=every, markersize=5, linewidth=1.6, **look)
            drawn += [mean for mean in means if mean is not None]
    handles: list[Any] = [
        Line2D([], [], linestyle="-", **style(i), label=f"{label} ({len(runs)} seeds)" if len(runs) > 1 else label)
        for i, (label, runs) in enumerate(variants)
    ]
    band = Patch(color="0.3", alpha=0.15, label=f"{CONFIDENCE:.0%} CI of the mean (t)")
    _finish_epoch_axes(axis, metric, f"{metric} (mean over seeds)", title, drawn, references, handles, [band])
    return _save(plt, fig, path)


def _finish_epoch_axes(
    axis,
    metric: str,
    ylabel: str,
    title: str,
    drawn: list[float],
    references: Sequence[tuple[str, float]],
    handles: list[Any],
    keys: Sequence[Any] = (),
) -> None:
    """What every per-epoch figure ends with: the reference lines, a log scale for a loss that
    spans decades, the y-range, integer epoch ticks, labels, and the legend beside the plot (the
    series' `handles`, then training/validation, `keys`, and the references)."""
    from matplotlib.lines import Line2D

    reference_handles = _reference_lines(axis, references)
    if metric == "loss":
        _maybe_log(axis, drawn)
    if references:
        _include(axis, drawn + [value for _, value in references])
    _epoch_axis(axis)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    handles = [
        *handles,
        Line2D([], [], color="0.3", linestyle="--", label="training"),
        Line2D([], [], color="0.3", linestyle="-", label="validation"),
        *keys,
        *reference_handles,
    ]
    axis.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _reference_lines(axis, references: Sequence[tuple[str, float]]) -> list:
    """Reported figures as grey horizontal lines, each in its own dash pattern; their legend handles."""
    from matplotlib.lines import Line2D  # on first use, as _pyplot

    handles = []
    for index, (label, value) in enumerate(references):
        look: dict[str, Any] = {
            "color": "0.3",
            "linestyle": REFERENCE_DASHES[index % len(REFERENCE_DASHES)],
            "linewidth": 1.4,
        }
        axis.axhline(value, **look)
        handles.append(Line2D([], [], label=label, **look))
    return handles


def _include(axis, values: list[float]) -> None:
    """A linear y-range spanning `values` with a margin, so no line sits on the plot's edge."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite or axis.get_yscale() != "linear":
        return
    low, high = min(finite), max(finite)
    margin = 0.06 * (high - low) or 0.05 * abs(high) or 0.05
    axis.set_ylim(low - margin, high + margin)


def lr_figure(path: Path, runs: Sequence[tuple[str, History]], title: str) -> Path:
    """The learning rate each run ended its epochs with."""
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(7.5, 4.0))
    drawn: list[float] = []
    for index, (label, history) in enumerate(runs):
        epochs, values = _column(history, "lr")
        axis.plot(epochs, values, label=label, markevery=max(1, len(epochs) // MARKERS_PER_CURVE), **style(index))
        drawn += values
    _maybe_log(axis, drawn)
    _epoch_axis(axis)
    axis.set_ylabel("learning rate (end of epoch)")
    axis.set_title(title)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return _save(plt, fig, path)


def objective_figure(
    path: Path, trials: Sequence[tuple[str, float]], objective: str, maximize: bool, title: str
) -> Path:
    """Each trial's objective in trial order, with the best so far as a step line."""
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(7.5, 4.0))
    positions = list(range(1, len(trials) + 1))
    values = [value for _, value in trials]
    pick = max if maximize else min
    best = [pick(values[: i + 1]) for i in range(len(values))]
    axis.plot(positions, values, linestyle="none", **style(0), label="trial")
    axis.step(positions, best, where="post", color=PALETTE[3], linestyle="--", label="best so far")
    if "loss" in objective:
        _maybe_log(axis, values)
    axis.set_xticks(
        positions,
        [label for label, _ in trials],
        rotation=45 if len(trials) > 8 else 0,
        ha="right" if len(trials) > 8 else "center",
    )
    axis.set_xlabel("trial")
    axis.set_ylabel(objective)
    axis.set_title(title)
    axis.legend(loc="best")
    return _save(plt, fig, path)


def parallel_figure(
    path: Path,
    columns: dict[str, list],
    objective: list[float],
    objective_name: str,
    maximize: bool,
    title: str,
    trial_labels: Sequence[str] = (),
) -> Path:
    """Parallel coordinates: one vertical axis per hyperparameter, then the objective; one line per
    trial coloured by its objective, the best trial drawn thickest, outlined in black and named.

    Numeric columns are scaled min..max (log when they span more than LOG_SCALE_ABOVE) and labelled
    with values trials had (all of them when few, else the extremes and the best trial's); other
    columns place their distinct values evenly. The colour map stops short of viridis' pale yellow,
    which vanishes on white paper."""
    plt = _pyplot()
    from matplotlib import cm, patheffects  # on first use, as _pyplot
    from matplotlib.colors import ListedColormap, Normalize

    axes_data = {**columns, objective_name: objective}
    best = objective.index(max(objective) if maximize else min(objective))
    scaled, ticks = {}, {}
    for name, values in axes_data.items():
        scaled[name], ticks[name] = _scale_axis(values, best)
    names = list(axes_data)
    norm = (
        Normalize(min(objective), max(objective))
        if len(set(objective)) > 1
        else Normalize(objective[0] - 1, objective[0] + 1)
    )
    darker = cm.viridis([PARALLEL_COLOURS_UP_TO * step / 255 for step in range(256)])
    colours = ListedColormap(darker if maximize else darker[::-1])
    fig, axis = plt.subplots(figsize=(max(6.0, 1.8 * len(names)), 4.5))
    order = sorted(range(len(objective)), key=lambda i: i == best)  # the best trial on top
    for trial in order:
        ys = [scaled[name][trial] for name in names]
        outline = (
            [patheffects.Stroke(linewidth=5.5, foreground="black"), patheffects.Normal()] if trial == best else None
        )
        axis.plot(
            range(len(names)),
            ys,
            color=colours(norm(objective[trial])),
            linewidth=3.0 if trial == best else 1.2,
            marker="o",
            markersize=4,
            alpha=1.0 if trial == best else 0.85,
            path_effects=outline,
            zorder=3 if trial == best else 2,
        )
    for position, name in enumerate(names):
        axis.axvline(position, color="0.2", linewidth=0.8, zorder=1)
        for y, text in ticks[name]:
            axis.plot([position - TICK_HALF_WIDTH, position], [y, y], color="0.2", linewidth=1.0, zorder=1)
            axis.annotate(
                text,
                (position, y),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                zorder=4,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
            )
    best_y = scaled[objective_name][best]
    above = best_y >= 0.5  # into the empty margin above the top or below the bottom of the axes
    axis.annotate(
        f"best: {trial_labels[best]}" if trial_labels else "best",
        (len(names) - 1, best_y),
        xytext=(-8, 9 if above else -9),
        textcoords="offset points",
        ha="right",
        va="bottom" if above else "top",
        fontsize=8,
        fontweight="bold",
        zorder=4,
        bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "black", "linewidth": 0.6},
    )
    axis.set_xticks(range(len(names)), names, rotation=20, ha="right")
    axis.set_yticks([])
    axis.set_xlim(-0.2, len(names) - 0.4)
    axis.set_ylim(UNUSED - 0.1, 1.14)
    axis.grid(False)
    axis.set_title(title)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=colours), ax=axis, label=objective_name)
    return _save(plt, fig, path)


def _scale_axis(values: list, best: int) -> tuple[list[float], list[tuple[float, str]]]:
    """Values mapped to 0..1 plus (position, text) ticks for that axis, every tick a value some
    trial had; an empty cell (a hyperparameter the trial did not use) goes below the axis, at UNUSED."""
    present = [v for v in values if v != ""]
    numbers = _as_numbers(present)
    if numbers is None:
        categories = sorted({str(v) for v in present})
        spots = {c: (i / (len(categories) - 1) if len(categories) > 1 else 0.5) for i, c in enumerate(categories)}
        place = spots.__getitem__
        ticks = [(y, c) for c, y in spots.items()]
    else:
        low, high = min(numbers), max(numbers)
        use_log = low > 0 and wants_log_axis(numbers)
        transform = math.log10 if use_log else float
        lo, hi = transform(low), transform(high)
        span = hi - lo

        def place(v) -> float:
            return (transform(float(v)) - lo) / span if span else 0.5

        distinct = sorted(set(numbers))
        # the best trial's value first, then the extremes: they win a crowded spot
        labelled = [float(values[best])] if values[best] != "" else []
        labelled += [low, high, *(distinct if len(distinct) <= TICKS_AT_MOST else ())]
        ticks = _spaced([(place(v), f"{v:.3g}") for v in labelled])
    if len(present) < len(values):
        ticks.append((UNUSED, "unused"))
    return [place(v) if v != "" else UNUSED for v in values], ticks


def _spaced(ticks: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The ticks, earlier ones first, leaving out any that would overprint one already kept."""
    kept: list[tuple[float, str]] = []
    for y, text in ticks:
        if all(abs(y - other) >= TICK_SPACING for other, _ in kept):
            kept.append((y, text))
    return kept


def _as_numbers(values: list) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def best_so_far_figure(
    path: Path, objectives: Sequence[float | None], spent: Sequence[int], objective: str, maximize: bool, title: str
) -> Path:
    """A search's best objective so far against trials run and against epochs spent (both in trial
    order; a trial without an objective spends its epochs and leaves the best as it was)."""
    plt = _pyplot()
    fig, (by_trial, by_epoch) = plt.subplots(1, 2, figsize=(9.0, 3.6), sharey=True)
    pick = max if maximize else min
    best: list[float | None] = []
    for value in objectives:
        earlier = best[-1] if best else None
        best.append(value if earlier is None else earlier if value is None else pick(earlier, value))
    epochs = [sum(spent[: i + 1]) for i in range(len(spent))]
    shown = [i for i, value in enumerate(best) if value is not None]  # from the first trial with an objective on
    values = [value for value in best if value is not None]
    for axis, xs, label in (
        (by_trial, [i + 1 for i in shown], "trials run"),
        (by_epoch, [epochs[i] for i in shown], "epochs spent"),
    ):
        axis.step(xs, values, where="post", color=PALETTE[0], marker="o", markersize=3)
        axis.set_xlabel(label)
    if "loss" in objective:
        _maybe_log(by_trial, values)
    by_trial.set_ylabel(f"best {objective} so far")
    fig.suptitle(title)
    return _save(plt, fig, path)


def importance_figure(path: Path, shares: dict[str, float], title: str) -> Path:
    """Each hyperparameter's importance as a horizontal bar, the largest on top."""
    plt = _pyplot()
    keys = list(shares)[::-1]
    fig, axis = plt.subplots(figsize=(7.0, 0.9 + 0.45 * len(keys)))
    axis.barh(keys, [shares[key] for key in keys], color=PALETTE[0])
    for position, key in enumerate(keys):
        axis.text(shares[key], position, f" {shares[key]:.2f}", va="center")
    axis.set_xlim(0, max(1.0, max(shares.values()) * 1.15))
    axis.set_xlabel("importance (fANOVA: share of the objective's variance)")
    axis.set_title(title)
    axis.grid(axis="y", visible=False)
    return _save(plt, fig, path)
