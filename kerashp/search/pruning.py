"""Median stopping for random, Bayesian and grid searches (KerasTuner has no such rule; Hyperband
gets early stopping from its brackets instead).

A trial is stopped after epoch k when its objective at epoch k is worse than the median of the
earlier completed trials' objective at epoch k, once at least `min_trials` of them reached epoch k.
The comparison uses one epoch's value, so a resumed trial is judged exactly as an unbroken one.
"""

from __future__ import annotations

import statistics

from kerashp.control import RunControl
from kerashp.events import EpochEnded, Event

MIN_TRIALS = 3  # earlier trials that must have reached an epoch before it can prune


class MedianStopping:
    """A training listener for one trial; `reason` says why it stopped the run (None if it did not)."""

    def __init__(
        self,
        objective: str,
        direction: str,
        earlier: list[list[float]],
        control: RunControl,
        min_trials: int = MIN_TRIALS,
    ):
        self.objective, self.direction, self.control, self.min_trials = objective, direction, control, min_trials
        self.earlier = [curve for curve in earlier if curve]
        self.reason: str | None = None

    def __call__(self, event: Event) -> None:
        if not isinstance(event, EpochEnded) or event.epoch >= event.epochs or self.reason:
            return  # after the last epoch there is nothing left to save
        value = event.metrics.get(self.objective)
        reference = [curve[event.epoch - 1] for curve in self.earlier if len(curve) >= event.epoch]
        if value is None or len(reference) < self.min_trials:
            return
        median = statistics.median(reference)
        if value < median if self.direction == "max" else value > median:
            relation = "<" if self.direction == "max" else ">"
            self.reason = (
                f"pruned after epoch {event.epoch}: {self.objective} {value:.4g} {relation} "
                f"median {median:.4g} of {len(reference)} earlier trials"
            )
            self.control.stop()
