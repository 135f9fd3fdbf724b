"""The events a study emits besides its variants' own training events (kerashp.events)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kerashp.events import Event


@dataclass(frozen=True)
class VariantStarted(Event):
    number: int  # 1-based over the whole study
    total: int
    factor: str
    label: str


@dataclass(frozen=True)
class VariantSkipped(Event):
    number: int
    total: int
    label: str
    status: str
    run_dir: str


@dataclass(frozen=True)
class VariantFollowed(Event):
    """A variant whose run another process is still training (a child of an earlier run of the study
    that was killed): the study follows it to its end instead of training it."""

    number: int
    total: int
    label: str
    run_dir: str
    pid: int | None


@dataclass(frozen=True)
class VariantEpoch(Event):
    """An epoch of a variant training in another process (`--jobs`)."""

    number: int
    label: str
    epoch: int
    epochs: int
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class VariantFinished(Event):
    number: int
    total: int
    label: str
    status: str
    run_dir: str
    detail: str = ""


@dataclass(frozen=True)
class FactorFinished(Event):
    factor: str
    rows: list = field(default_factory=list)  # report.tables.variant_row() of each variant: over its seeds
    winner: int | None = None  # only a significant lead wins (report.significance)
    verdict: str = ""  # the verdict in words (markdown), significant or not


@dataclass(frozen=True)
class StudyFinished(Event):
    path: str
    status: str
    report: str
