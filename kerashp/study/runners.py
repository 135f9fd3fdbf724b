"""Training a factor's runs (each variant with each seed): one after another in this process, or in
`--jobs` parallel `kerashp train` processes, one GPU each. Each reports through study events.

Both ways give the same numbers: every run seeds itself from its preset (split, initialisation,
augmentation per (seed, epoch, batch)), torch keeps its default thread count in both (`--jobs`
sets none), and the memory layout is the study's (`StudyFolder.layout_overrides`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence

from kerashp.backend import visible_gpus
from kerashp.config import load_preset
from kerashp.control import RunControl
from kerashp.errors import RunFailedError
from kerashp.events import Listener, emit
from kerashp.runs.folder import EventLogTail, RunDir
from kerashp.status import RunStatus, StudyStatus
from kerashp.study.events import VariantEpoch, VariantFinished, VariantFollowed, VariantStarted
from kerashp.study.folder import StudyFolder, StudyRun

POLL_SECONDS = 0.5  # how often --jobs checks its training processes


class SequentialRunner:
    """Variants one after another in this process, each a `train` (or `resume`) call."""

    def __init__(self, study: StudyFolder, control: RunControl):
        self.study, self.control = study, control

    def run(self, todo: list[tuple[int, StudyRun]], factor: str, listeners: Sequence[Listener]) -> StudyStatus:
        from kerashp.training.run import resume, train  # on first use: Keras and torch take seconds to import

        total = self.study.plan.total
        for number, variant in todo:
            emit(listeners, VariantStarted(number, total, factor, variant.label))
            started = self.study.started_run(variant)
            detail = ""
            try:
                if started is not None:
                    resume(started, listeners, control=self.control)
                else:
                    preset = load_preset(variant.preset, self.study.layout_overrides(variant))
                    train(preset, self.study.path / variant.folder, listeners, control=self.control)
            except RunFailedError as exc:
                detail = str(exc)
            self.study.record(variant)
            if not variant.run_dir:
                variant.status = RunStatus.FAILED
            emit(listeners, VariantFinished(number, total, variant.label, variant.status, variant.run_dir, detail))
            if variant.status == RunStatus.STOPPED:
                return StudyStatus.STOPPED
            if variant.status == RunStatus.INTERRUPTED:
                return StudyStatus.INTERRUPTED
        return StudyStatus.COMPLETED


class ParallelRunner:
    """Variants in `jobs` `kerashp train` processes at once, one GPU each while GPUs last.

    Each process writes its output to the variant folder's train.log; its epochs are relayed as
    VariantEpoch events read from the run's events.jsonl."""

    def __init__(self, study: StudyFolder, jobs: int, control: RunControl):
        self.study, self.jobs, self.control = study, jobs, control
        self.gpus = visible_gpus()

    def run(self, todo: list[tuple[int, StudyRun]], factor: str, listeners: Sequence[Listener]) -> StudyStatus:
        total = self.study.plan.total
        pending = deque(todo)
        active: list[_Child] = []
        stopping = False
        try:
            while pending or active:
                if self.control.stopped and not stopping:
                    stopping = True
                    pending.clear()
                    for child in active:
                        child.interrupt()
                while pending and len(active) < self.jobs:
                    number, variant = pending.popleft()
                    slot = min(set(range(self.jobs)) - {child.slot for child in active})
                    emit(listeners, VariantStarted(number, total, factor, variant.label))
                    active.append(_Child(self.study, variant, number, slot, self._gpu(slot)))
                time.sleep(POLL_SECONDS)
                for child in list(active):
                    if child.step(listeners):
                        active.remove(child)
                        self._finished(child, listeners, total)
        except KeyboardInterrupt:
            for child in active:
                child.interrupt()
            for child in active:
                child.process.wait()
                child.step(listeners)
                self._finished(child, listeners, total)
            return StudyStatus.INTERRUPTED
        return StudyStatus.STOPPED if stopping else StudyStatus.COMPLETED

    def _gpu(self, slot: int) -> str | None:
        return self.gpus[slot % len(self.gpus)] if self.gpus else None

    def _finished(self, child: _Child, listeners: Sequence[Listener], total: int) -> None:
        variant = child.variant
        self.study.record(variant)
        if not variant.run_dir:
            variant.status = RunStatus.FAILED
        detail = "" if variant.is_result else f"{child.log_path}: {child.last_log_line()}"
        emit(listeners, VariantFinished(child.number, total, variant.label, variant.status, variant.run_dir, detail))


class _Child:
    """One variant training in a `kerashp train` subprocess (a new run, or resuming its run)."""

    def __init__(self, study: StudyFolder, variant: StudyRun, number: int, slot: int, gpu: str | None):
        self.study, self.variant, self.number, self.slot = study, variant, number, slot
        self.folder = study.path / variant.folder
        self.folder.mkdir(parents=True, exist_ok=True)
        started = study.started_run(variant)
        if started is not None:
            arguments = ["--resume", str(started)]
        else:
            arguments = [
                "--preset",
                variant.preset,
                *(f"--set={o}" for o in study.layout_overrides(variant)),
                "--runs-dir",
                str(self.folder),
            ]
        env = dict(os.environ, **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {}))
        self.log_path = self.folder / "train.log"
        with open(self.log_path, "a", encoding="utf-8") as log:
            command = [sys.executable, "-m", "kerashp.cli", "train", *arguments]
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.events: EventLogTail | None = None  # once the variant's run folder exists

    def step(self, listeners: Sequence[Listener]) -> bool:
        """Relay the epochs finished since the last step; True once the process has ended."""
        done = self.process.poll() is not None
        if self.events is None:  # look for the run folder only until it exists
            started = self.study.started_run(self.variant)
            self.events = EventLogTail(started / "events.jsonl") if started is not None else None
        if self.events is not None:
            relay_epochs(self.events, self.number, self.variant.label, listeners)
        return done

    def interrupt(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def last_log_line(self) -> str:
        lines = [
            line.strip()
            for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip()
        ]
        return lines[-1] if lines else "no output"


def follow(
    study: StudyFolder, variants: list[tuple[int, StudyRun]], listeners: Sequence[Listener], control: RunControl
) -> StudyStatus:
    """Wait for the unfinished variants other processes are still training (the `--jobs` children of
    an earlier run of this study, killed before them), relaying their epochs: their runs cannot be
    resumed while those processes hold them, and a factor is compared only once its variants have
    ended. Returns completed once all have ended (each recorded), else stopped or interrupted."""
    runs = {number: RunDir(study.path / variant.run_dir) for number, variant in variants
            if not variant.is_result and variant.run_dir}  # fmt: skip
    running = [(number, variant) for number, variant in variants if number in runs and trained_elsewhere(runs[number])]
    tails = {}
    for number, variant in running:
        pid = runs[number].read_summary().get("pid")
        emit(listeners, VariantFollowed(number, study.plan.total, variant.label, variant.run_dir, pid))
        tails[number] = EventLogTail(runs[number].path / "events.jsonl")
        tails[number].read()  # the epochs before now were shown by the study that started it
    try:
        while running and not control.stopped:
            time.sleep(POLL_SECONDS)
            for number, variant in list(running):
                relay_epochs(tails[number], number, variant.label, listeners)
                if not trained_elsewhere(runs[number]):
                    study.record(variant)
                    running.remove((number, variant))
    except KeyboardInterrupt:
        return StudyStatus.INTERRUPTED
    return StudyStatus.STOPPED if running else StudyStatus.COMPLETED


def trained_elsewhere(run: RunDir) -> bool:
    """Whether another process trains the run now (`RunDir.held`: its lock, not its pid, which would
    still look alive while the process is a zombie)."""
    return run.path.is_dir() and run.held()


def relay_epochs(events: EventLogTail, number: int, label: str, listeners: Sequence[Listener]) -> None:
    """The epochs another process has finished since the last call, as VariantEpoch events."""
    for record in events.read():
        epoch, epochs, metrics = record.get("epoch"), record.get("epochs"), record.get("metrics")
        if record.get("event") == "EpochEnded" and type(epoch) is type(epochs) is int and isinstance(metrics, dict):
            emit(listeners, VariantEpoch(number, label, epoch, epochs, metrics))
