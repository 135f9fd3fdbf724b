"""`RunControl`: how a front end (the TUI, a search) stops or pauses a run from another thread.

Stopping takes effect after the current batch; the unfinished epoch is not recorded, so the
run ends as `stopped` at its last finished epoch and can be resumed from there.
"""

from __future__ import annotations

import threading
import time


class RunControl:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.paused_seconds = 0.0  # time spent blocked in checkpoint(), left out of epoch times

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run must wake up to stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def checkpoint(self) -> bool:
        """Called between batches: block while paused; True when the run should stop."""
        if not self._running.is_set():
            blocked = time.perf_counter()
            self._running.wait()
            self.paused_seconds += time.perf_counter() - blocked
        return self._stop.is_set()
