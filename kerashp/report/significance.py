"""Spread over repeated seeds and whether the best variant really is better.

A variant trained with several seeds has a mean, a standard deviation and a 95% confidence interval
of its mean (Student's t: few seeds, unknown variance). The best mean is called the winner only
when Welch's t-test (no equal-variance assumption) finds its difference from the runner-up
significant at ALPHA; one number per variant allows no test, and a tie is never a win. scipy is
imported on first use: a report computes this, `kerashp presets list` does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05  # the test's significance level
CONFIDENCE = 0.95  # of the interval around each mean
TEST_NAME = "Welch's t-test"


@dataclass(frozen=True)
class Spread:
    """The mean of `n` values, their sample standard deviation and the t-interval of the mean
    (None for std and interval with fewer than two values)."""

    n: int
    mean: float | None
    std: float | None
    low: float | None
    high: float | None


def spread(values: Sequence[float]) -> Spread:
    import numpy as np
    from scipy import stats  # on first use: see the module's docstring

    finite = [float(value) for value in values if value is not None and math.isfinite(value)]
    if not finite:
        return Spread(0, None, None, None, None)
    mean = float(np.mean(finite))
    if len(finite) < 2:
        return Spread(1, mean, None, None, None)
    std = float(np.std(finite, ddof=1))
    if std == 0:  # every seed gave the same number: the interval is the point
        return Spread(len(finite), mean, 0.0, mean, mean)
    low, high = stats.t.interval(CONFIDENCE, len(finite) - 1, loc=mean, scale=std / math.sqrt(len(finite)))
    return Spread(len(finite), mean, std, float(low), float(high))


@dataclass(frozen=True)
class Verdict:
    """Which variant leads (the highest mean: the one a study carries into its next factor), the
    runner-up, the test's p-value when one was possible, and whether the lead is a win."""

    leader: int | None
    runner_up: int | None = None
    p_value: float | None = None
    significant: bool = False
    # why there is no winner: "none", "tie" (equal means, no test), "one seed", "no spread", "not significant"
    reason: str = ""

    @property
    def winner(self) -> int | None:
        return self.leader if self.significant else None


def decide(samples: Sequence[Sequence[float]]) -> Verdict:
    """The verdict over variants' values (an empty list: the variant may not win). A single variant
    with values wins by default: nothing else finished."""
    import numpy as np
    from scipy import stats  # on first use: see the module's docstring

    values = [[float(v) for v in sample if math.isfinite(v)] for sample in samples]
    means = {index: float(np.mean(sample)) for index, sample in enumerate(values) if sample}
    usable = sorted(means, key=lambda index: -means[index])  # stable: the first of equal means leads
    if not usable:
        return Verdict(None, reason="none")
    if len(usable) == 1:
        return Verdict(usable[0], significant=True)
    leader, runner_up = usable[0], usable[1]
    tied = means[leader] == means[runner_up]
    if len(values[leader]) < 2 or len(values[runner_up]) < 2:
        return Verdict(leader, runner_up, reason="tie" if tied else "one seed")
    if np.std(values[leader]) == np.std(values[runner_up]) == 0:  # every seed agreed: the test is undefined
        return Verdict(leader, runner_up, reason="tie" if tied else "no spread")
    p_value = float(stats.ttest_ind(values[leader], values[runner_up], equal_var=False).pvalue)
    significant = p_value < ALPHA and not tied
    return Verdict(leader, runner_up, p_value, significant, "" if significant else "not significant")
