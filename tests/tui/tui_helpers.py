"""Helpers for driving the real app headless (imported by the tests in this folder)."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

from rich.console import Console
from textual import events

from kerashp.runs.folder import RunDir


async def wait_for(pilot, condition, timeout: float = 120.0, what: str = "condition") -> None:
    """Let the app run until `condition()` holds (training happens in a worker thread)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await pilot.pause(0.05)


def drive(app, scenario, size: tuple[int, int] = (80, 24)):
    """Run `app` headless at `size` and `await scenario(pilot)` in it; returns what the scenario returns.
    (Plain asyncio.run, so the tests need no async plugin.)"""

    async def run():
        async with app.run_test(size=size) as pilot:
            return await scenario(pilot)

    return asyncio.run(run())


def shown(widget) -> str:
    """The text a Static shows, whatever it was given (a string, rich Text, a rich Group or table)."""
    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(content)
    return console.export_text()


# ---------------------------------------------------------------------------------------- fixed run data
# Run and search directories written through the engine's own file API (RunDir, SearchDir), with
# fixed numbers, so the screens that read them render the same on every machine.


def curve(epochs: int, start: float, end: float) -> list[float]:
    return [round(start + (end - start) * (1 - 0.6 ** e) / (1 - 0.6 ** epochs), 4) for e in range(1, epochs + 1)]


def history(epochs: int, scale: float = 1.0) -> list[dict]:
    loss, val_loss = curve(epochs, 2.2, 0.6 * scale), curve(epochs, 2.0, 0.8 * scale)
    accuracy, val_accuracy = curve(epochs, 0.2, 0.8 / scale), curve(epochs, 0.25, 0.7 / scale)
    return [
        {"epoch": e + 1, "loss": loss[e], "accuracy": accuracy[e], "val_loss": val_loss[e],
         "val_accuracy": val_accuracy[e], "lr": 0.01 * 0.9 ** e, "epoch_time": 12.5}
        for e in range(epochs)
    ]


def write_run(
    directory: Path, name: str, preset, rows: list[dict], status: str = "completed", epochs: int | None = None
) -> RunDir:
    path = directory / name
    (path / "checkpoints").mkdir(parents=True)
    run = RunDir(path)
    run.write_preset(preset)
    run.write_history(rows)
    best = max(rows, key=lambda row: row["val_accuracy"])
    run.write_summary({
        "preset": preset.name, "status": status, "epochs": epochs or len(rows), "epochs_done": len(rows),
        "best_epoch": best["epoch"], "best": {"val_accuracy": best["val_accuracy"]}, "final": rows[-1],
        "test": {"loss": 0.9, "accuracy": round(best["val_accuracy"] - 0.02, 4)}, "wall_time": 12.5 * len(rows),
    })
    return run


def burst(app, *keys: str) -> None:
    """Send `keys` the way a busy terminal delivers them: all at once, without waiting for the app
    to handle each (Pilot.press waits for the app to go idle after every key, which hides races)."""
    for key in keys:
        character = key if len(key) == 1 else {"space": " ", "full_stop": "."}.get(key)
        event = events.Key(key, character)
        event.set_sender(app)
        app._driver.send_message(event)
