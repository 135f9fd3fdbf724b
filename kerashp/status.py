"""Every status kerashp writes or reads back, and what each one means for an exit code.

The values are the strings `summary.json`, `trials.csv` and `study.json` hold, so files written
before these enums existed read back unchanged (a `StrEnum` member equals its string).
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """A training run, as its `summary.json` records it (or as a reader finds it)."""

    RUNNING = "running"
    COMPLETED = "completed"
    DIVERGED = "diverged"  # the loss went non-finite; its last good epoch is still a result
    STOPPED = "stopped"  # stopped on request, after a finished epoch: resumable
    INTERRUPTED = "interrupted"  # Ctrl-C or a signal: resumable
    FAILED = "failed"
    # what a reader may find instead of a written status
    KILLED = "killed"  # `running`, but no process holds the run any more
    DAMAGED = "damaged"  # summary.json cannot be read
    UNKNOWN = "unknown"  # summary.json holds no status

    @property
    def exit_code(self) -> int:
        """The process exit code for a run that ended so: 0 when it did what was asked, 130 for an
        interrupt (as a shell reports Ctrl-C), 1 otherwise."""
        return exit_code(self)

    @property
    def is_result(self) -> bool:
        """Whether the run's numbers count: completed, or diverged (a learning rate too high is a
        finding too)."""
        return self in RESULTS

    @property
    def can_win(self) -> bool:
        """Whether the run may be a report's winner: only a completed run's last weights are usable."""
        return self is RunStatus.COMPLETED


class StudyStatus(StrEnum):
    """How `kerashp study` ended."""

    COMPLETED = "completed"
    FAILED = "failed"  # a variant failed
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"

    @property
    def exit_code(self) -> int:
        return exit_code(self)


class VariantStatus(StrEnum):
    """A study variant in `study.json`: pending until it starts, then its run's status."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    DIVERGED = "diverged"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    KILLED = "killed"
    DAMAGED = "damaged"
    UNKNOWN = "unknown"

    @property
    def is_result(self) -> bool:
        return self in RESULTS


class TrialStatus(StrEnum):
    """A search trial in `trials.csv`."""

    RUNNING = "running"
    COMPLETED = "completed"
    PRUNED = "pruned"  # stopped early by the pruner or a Hyperband round: its objective still counts
    FAILED = "failed"


RESULTS: frozenset[str] = frozenset(
    {RunStatus.COMPLETED, RunStatus.DIVERGED}
)  # equal to the strings, so any status enum matches
_EXIT_CODES: dict[str, int] = {RunStatus.COMPLETED: 0, RunStatus.STOPPED: 0, RunStatus.INTERRUPTED: 130}


def exit_code(status: str) -> int:
    """0 for completed or stopped, 130 for interrupted, 1 for anything else."""
    return _EXIT_CODES.get(status, 1)
