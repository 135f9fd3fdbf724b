"""RunControl: pausing blocks the training thread between batches, and the time spent paused is
counted so epoch times (and the ETAs built on them) leave it out."""

from __future__ import annotations

import threading
import time

from kerashp.control import RunControl


def test_checkpoint_blocks_while_paused_and_counts_the_pause():
    control = RunControl()
    assert control.checkpoint() is False and control.paused_seconds == 0.0
    control.pause()
    threading.Timer(0.3, control.resume).start()
    started = time.perf_counter()
    assert control.checkpoint() is False
    waited = time.perf_counter() - started
    assert 0.25 <= control.paused_seconds <= waited + 1e-6


def test_stop_wakes_a_paused_run():
    control = RunControl()
    control.pause()
    threading.Timer(0.1, control.stop).start()
    assert control.checkpoint() is True and not control.paused
