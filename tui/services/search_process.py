"""A search runs as `kerashp tune` in a subprocess; the TUI reads its search directory.

A subprocess rather than a thread because a search can be stopped only from outside:
SIGINT ends it the way Ctrl-C does (the interrupted trial resumes when the same search is started
again), and the search directory (records, trials.csv, each trial's run) already says everything
the screen shows, live or long finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from kerashp.config import Preset
from kerashp.status import RunStatus
from tui.services.settings import Settings


class SearchProcessStatus(StrEnum):
    """The `kerashp tune` process as the search screen tells it, from its exit code once it ends."""

    STARTING = "starting"
    RUNNING = "running"
    FINISHED = "finished"
    NONE_COMPLETED = "finished, no trial completed"
    STOPPED = "stopped"
    FAILED = "failed"


OUTCOMES = {
    0: SearchProcessStatus.FINISHED,
    1: SearchProcessStatus.NONE_COMPLETED,
    RunStatus.INTERRUPTED.exit_code: SearchProcessStatus.STOPPED,  # it took our SIGINT as Ctrl-C
    -signal.SIGINT: SearchProcessStatus.STOPPED,
}


def search_directory(settings: Settings, preset: Preset) -> Path:
    """Where `kerashp tune` keeps a preset's search by default: RUNS_DIR/<preset>-<algorithm>."""
    return settings.runs_dir / f"{preset.name}-{preset['search']['algorithm']}"


def searches(runs_dir: Path) -> list[Path]:
    """Search directories under `runs_dir`, newest first."""
    found = [p.parent for p in runs_dir.glob("*/search.toml")] if runs_dir.is_dir() else []
    return sorted(found, key=lambda p: (p / "search.toml").stat().st_mtime, reverse=True)


@dataclass
class SearchProcess:
    directory: Path
    command: list[str]
    status: SearchProcessStatus = SearchProcessStatus.STARTING
    error: str = ""
    _process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @classmethod
    def for_preset(cls, settings: Settings, preset: Preset, overrides: list[str]) -> SearchProcess:
        directory = search_directory(settings, preset)
        sets = [arg for override in (*settings.overrides, *overrides) for arg in ("--set", override)]
        command = [sys.executable, "-m", "kerashp.cli", "tune", "--preset", preset.name, "--dir", str(directory), *sets]
        return cls(directory, command)

    @property
    def running(self) -> bool:
        return self.status in (SearchProcessStatus.STARTING, SearchProcessStatus.RUNNING)

    async def run(self) -> None:
        """Start the search and wait for it to end (await it in a Textual async worker)."""
        self._process = await asyncio.create_subprocess_exec(
            *self.command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        self.status = SearchProcessStatus.RUNNING
        _, stderr = await self._process.communicate()
        code = await self._process.wait()  # it has ended: this only reads its exit code
        self.status = OUTCOMES.get(code, SearchProcessStatus.FAILED)
        if self.status == SearchProcessStatus.FAILED:
            lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
            self.error = (lines[-1] if lines else f"exit code {code}").removeprefix("kerashp: error: ")

    def stop(self) -> None:
        """Ctrl-C for the search: it ends after recording the interrupted trial as resumable."""
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signal.SIGINT)
