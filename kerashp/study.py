"""Studies: keep a preset, vary one hyperparameter over a few values, train each, compare.

A study is a preset, its overrides and one or more factors (a preset key and the values it takes).
Factors are studied one after another, each one's variants carrying the winners of the factors
before it, as the LeNet-5 study went from batch size to augmentation to weight decay. Every
variant is a normal run, kept inside the study folder:

    studies/<name>/
        study.json                    plan, variants, their run directories and status (atomic)
        runs/<f>.<v>-<label>/<run>/   one folder per variant, holding its run
        loss.png accuracy.png [lr.png] table.md table.csv   per factor (factor-<f>-<key>/ when several)
        report.md report.html

A study started again resumes: finished variants are skipped, an unfinished variant's run
continues from its last finished epoch. The winner of a factor is the report's winner (highest
final-epoch validation accuracy of a run that neither diverged nor failed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kerashp.config import load_preset, parse_override, preset_dirs, read_toml
from kerashp.control import RunControl
from kerashp.errors import PresetError, RunFailedError, UserError
from kerashp.events import Event
from kerashp.report import Section, Series, pick_winner, slug, write_report
from kerashp.runs import RunDir, list_runs, read_json, write_json

STUDY_FILE = "study.json"
PRESET_FACTOR = "preset"  # a factor over whole presets, e.g. lenet5 (no augmentation) vs lenet5_aug
FINISHED = ("completed", "diverged")  # a diverged variant is a result too (a learning rate too high)
STUDY_KEYS = ("description", "preset", "set", "epochs", "factor")
FACTOR_KEYS = ("key", "values", "labels")
POLL_SECONDS = 0.5  # how often --jobs checks its training processes


# ---------------------------------------------------------------------------------------- events


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
    rows: list = field(default_factory=list)  # report.Series.stats() of each variant
    winner: int | None = None


@dataclass(frozen=True)
class StudyFinished(Event):
    path: str
    status: str
    report: str


# ---------------------------------------------------------------------------------------- the plan


@dataclass
class Factor:
    """A preset key and the values a study gives it, as TOML texts (what follows `key=` in --set)."""

    key: str
    values: list[str]
    labels: list[str]

    @classmethod
    def from_texts(cls, key: str, values: list[str], labels: list[str] | None, source: str) -> "Factor":
        if not values:
            raise UserError(f"{source}: {key}: give at least one value")
        if key == PRESET_FACTOR:  # preset names, not TOML values
            values = [str(parse_override(f"{key}={text}")[1]) for text in values]
        if len(set(values)) != len(values):
            raise UserError(f"{source}: {key} = {', '.join(values)}: values repeat")
        if labels is not None and len(set(labels)) != len(labels):
            raise UserError(f"{source}: {key}: labels repeat ({', '.join(labels)})")
        if labels is None:
            labels = [_label(key, text) for text in values]
        elif len(labels) != len(values):
            raise UserError(f"{source}: {key}: {len(labels)} labels for {len(values)} values")
        return cls(key, values, labels)

    @classmethod
    def parse(cls, expression: str) -> "Factor":
        """`--vary KEY=V1,V2,...`; values are TOML like --set's, and may be lists (`[1, 2],[3]`)."""
        key, sep, text = expression.partition("=")
        values = _split_values(text)
        if not sep or not key.strip() or not all(values):
            raise UserError(f"--vary {expression}: expected KEY=V1,V2,..., e.g. optimizer.learning_rate=0.5,0.05,0.01")
        return cls.from_texts(key.strip(), values, None, "--vary")

    def override(self, index: int) -> str:
        return f"{self.key}={self.values[index]}"


@dataclass
class StudyPlan:
    name: str
    preset: str
    factors: list[Factor]
    overrides: list[str] = field(default_factory=list)
    description: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "StudyPlan":
        return cls(**{**data, "factors": [Factor(**factor) for factor in data["factors"]]})

    @property
    def total(self) -> int:
        return sum(len(factor.values) for factor in self.factors)


def plan_from_args(preset: str, vary: list[str], overrides=(), epochs: int | None = None, name: str = "") -> StudyPlan:
    """The plan of `kerashp study --preset P --vary K=V1,V2 [--vary ...]`."""
    factors = [Factor.parse(expression) for expression in vary]
    default = "-".join([Path(preset).stem, *(factor.key.split(".")[-1] for factor in factors)])
    return StudyPlan(name or default, preset, factors, [*overrides, *_epochs(epochs)])


def plan_from_file(name_or_path: str, overrides=(), epochs: int | None = None, name: str = "") -> StudyPlan:
    """The plan a study file declares (see presets/studies/), with command-line additions."""
    path = find_study(name_or_path)
    document = read_toml(path)
    source = str(path)
    for key in document:
        if key not in STUDY_KEYS:
            raise UserError(f"{source}: {key}: unknown key; allowed: {', '.join(STUDY_KEYS)}")
    preset = document.get("preset")
    if not isinstance(preset, str):
        raise UserError(f"{source}: preset: expected a preset name or .toml path")
    if preset.endswith(".toml") and (path.parent / preset).is_file():
        preset = str(path.parent / preset)
    settings = document.get("set", [])
    if not isinstance(settings, list) or not all(isinstance(item, str) for item in settings):
        raise UserError(f'{source}: set: expected a list of "KEY=VALUE" strings')
    tables = document.get("factor")
    if not isinstance(tables, list) or not tables or not all(isinstance(table, dict) for table in tables):
        raise UserError(f'{source}: factor: expected one or more [[factor]] tables with key and values')
    factors = [_factor_from_table(table, source) for table in tables]
    file_epochs = _epochs(document["epochs"]) if "epochs" in document else []
    return StudyPlan(
        name or path.stem, preset, factors, [*settings, *file_epochs, *overrides, *_epochs(epochs)], document.get("description", "")
    )


def _factor_from_table(table: dict, source: str) -> Factor:
    for key in table:
        if key not in FACTOR_KEYS:
            raise UserError(f"{source}: factor.{key}: unknown key; allowed: {', '.join(FACTOR_KEYS)}")
    key, values, labels = table.get("key"), table.get("values"), table.get("labels")
    if not isinstance(key, str) or not isinstance(values, list):
        raise UserError(f"{source}: factor: each [[factor]] needs key = \"a.preset.key\" and values = [...]")
    if labels is not None and not (isinstance(labels, list) and all(isinstance(label, str) for label in labels)):
        raise UserError(f"{source}: factor {key}: labels: expected a list of strings")
    return Factor.from_texts(key, [toml_inline(value, source) for value in values], labels, source)


def find_study(name_or_path: str) -> Path:
    """A study file by path, or by name among the `studies/` folders of the preset directories."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    found = {p.stem: p for directory in reversed(preset_dirs()) for p in sorted((directory / "studies").glob("*.toml"))}
    if name_or_path in found:
        return found[name_or_path]
    raise UserError(f"{name_or_path}: no such study file or study folder; bundled studies: {', '.join(sorted(found)) or 'none'}")


def validate_plan(plan: StudyPlan) -> None:
    """Load every variant's preset before anything trains, so a bad value costs no training."""
    for factor in plan.factors:
        for index, value in enumerate(factor.values):
            preset = value if factor.key == PRESET_FACTOR else plan.preset
            extra = [] if factor.key == PRESET_FACTOR else [factor.override(index)]
            try:
                load_preset(preset, [*plan.overrides, *extra])
            except PresetError as exc:
                error = _vary_error(factor, index, exc) if extra else None
                if error is None:
                    raise
                raise error from None


def _vary_error(factor: Factor, index: int, exc: PresetError) -> PresetError | None:
    """A varied value's error blamed on --vary (it reaches the preset as an override, so the error
    names --set), showing the value given: an unknown key's error carries none. None when the
    error is not about the varied key."""
    given = parse_override(factor.override(index))[1]
    if exc.key == factor.key:
        return PresetError("--vary", factor.key, exc.problem, given)
    if factor.key.startswith(f"{exc.key}."):  # an unknown section
        return PresetError("--vary", factor.key, f"{exc.key}: {exc.problem}", given)
    if exc.key.startswith(f"{factor.key}."):  # a key inside a varied table
        return PresetError("--vary", exc.key, exc.problem, exc.value)
    return None


def _epochs(epochs: Any) -> list[str]:
    return [] if epochs is None else [f"train.epochs={epochs}"]


def _split_values(text: str) -> list[str]:
    """Split at the commas outside brackets, braces and quotes."""
    values, current, depth, quote = [], "", 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(current.strip())
            current = ""
            continue
        current += char
    return [*values, current.strip()]


def _label(key: str, text: str) -> str:
    """`learning_rate=0.05` for optimizer.learning_rate=0.05; a preset factor's value alone."""
    if key == PRESET_FACTOR:
        return text
    value = parse_override(f"{key}={text}")[1]
    return f"{key.split('.')[-1]}={value if isinstance(value, str) else text}"


def toml_inline(value: Any, source: str = "") -> str:
    """A TOML value written inline, so it can follow `key=` in an override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_inline(item, source) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_inline(v, source)}" for k, v in value.items()) + " }"
    raise UserError(f"{source}: {value!r}: unsupported value (use numbers, booleans, strings, lists or tables)")


# ---------------------------------------------------------------------------------------- the study folder


@dataclass
class Variant:
    label: str
    preset: str
    overrides: list[str]
    folder: str  # relative to the study folder; the variant's run is created inside it
    run_dir: str = ""  # relative to the study folder, once the run exists
    status: str = "pending"


@dataclass
class StudyResult:
    path: Path
    status: str  # completed | failed (a variant failed) | stopped | interrupted
    report: Path | None

    @property
    def exit_code(self) -> int:
        return {"completed": 0, "stopped": 0, "interrupted": 130}.get(self.status, 1)


class Study:
    """A study folder: its plan and, factor by factor, its variants (study.json)."""

    def __init__(self, path: Path, plan: StudyPlan, factors: list[dict]):
        self.path, self.plan = path, plan
        self.factors = factors  # per factor studied so far: {"variants": [Variant, ...], "winner": index or None}

    @classmethod
    def open(cls, path: Path | str) -> "Study":
        path = Path(path)
        state = read_json(path / STUDY_FILE)
        if "plan" not in state:
            raise UserError(f"{path}: not a study folder (no readable {STUDY_FILE})")
        factors = [
            {"variants": [Variant(**variant) for variant in factor["variants"]], "winner": factor.get("winner")}
            for factor in state["factors"]
        ]
        return cls(path, StudyPlan.from_json(state["plan"]), factors)

    @classmethod
    def create_or_resume(cls, studies_dir: Path, plan: StudyPlan) -> "Study":
        """The study folder for `plan`: new, or the existing one when its plan is the same."""
        path = Path(studies_dir) / plan.name
        if (path / STUDY_FILE).is_file():
            study = cls.open(path)
            if study.plan.to_json() != plan.to_json():
                raise UserError(
                    f"{path}: holds a study with another plan; pass --name NEW_NAME, or resume it with `kerashp study {path}`"
                )
            return study
        path.mkdir(parents=True, exist_ok=True)
        study = cls(path, plan, [])
        study.save()
        return study

    def save(self) -> None:
        factors = [
            {"key": factor.key, "variants": [asdict(v) for v in state["variants"]], "winner": state["winner"]}
            for factor, state in zip(self.plan.factors, self.factors)
        ]
        write_json(self.path / STUDY_FILE, {"plan": self.plan.to_json(), "factors": factors})

    # ------------------------------------------------------------------ running

    def run(self, listeners=(), jobs: int = 1, control: RunControl | None = None) -> StudyResult:
        """Run every factor in order (variants in `jobs` processes when above 1); write the report."""
        control = control or RunControl()
        runner = _ParallelRunner(self, jobs, control) if jobs > 1 else _SequentialRunner(self, control)
        number, status = 0, "completed"
        for index, factor in enumerate(self.plan.factors):
            variants = self._variants(index)
            todo = []
            for offset, variant in enumerate(variants, start=number + 1):
                if variant.status not in FINISHED:
                    self.record(variant)  # a run that finished after the study last wrote study.json
                if variant.status in FINISHED:
                    _emit(listeners, VariantSkipped(offset, self.plan.total, variant.label, variant.status, variant.run_dir))
                else:
                    todo.append((offset, variant))
            outcome = runner.run(todo, factor.key, listeners) if todo else "completed"
            number += len(variants)
            if outcome != "completed":
                return self._finish(outcome, listeners)
            rows, best_row, winner = self._compare(index)
            self.factors[index]["winner"] = winner
            self.save()
            _emit(listeners, FactorFinished(factor.key, rows, best_row))
            if any(variant.status not in FINISHED for variant in variants):  # failed, or its process died
                status = "failed"
            if winner is None and index + 1 < len(self.plan.factors):
                self._finish("failed", listeners)
                raise RunFailedError(f"{self.path}: factor {factor.key} has no winner to carry forward (every variant diverged or failed)")
        return self._finish(status, listeners)

    def _finish(self, status: str, listeners) -> StudyResult:
        report = None
        if any(self.series(index) for index in range(len(self.factors))):
            title, intro, sections = study_content(self.path)
            report = write_report(self.path, title, sections, intro)
        _emit(listeners, StudyFinished(str(self.path), status, str(report or "")))
        return StudyResult(self.path, status, report)

    def _variants(self, index: int) -> list[Variant]:
        """Factor `index`'s variants, made once (on the winner of the factor before) and then kept."""
        if index < len(self.factors):
            return self.factors[index]["variants"]
        factor = self.plan.factors[index]
        if index == 0:
            preset, overrides = self.plan.preset, list(self.plan.overrides)
        else:
            before = self.factors[index - 1]
            winner = before["variants"][before["winner"]]
            preset, overrides = winner.preset, list(winner.overrides)
        variants = []
        for position, label in enumerate(factor.labels):
            if factor.key == PRESET_FACTOR:
                variant_preset, variant_overrides = factor.values[position], overrides
            else:
                variant_preset, variant_overrides = preset, [*overrides, factor.override(position)]
            folder = f"runs/{index + 1}.{position + 1}-{slug(label)}"
            variants.append(Variant(label, variant_preset, variant_overrides, folder))
        self.factors.append({"variants": variants, "winner": None})
        self.save()
        return variants

    def _indexed_series(self, index: int) -> list[tuple[int, Series]]:
        variants = self.factors[index]["variants"] if index < len(self.factors) else []
        return [
            (position, Series.load(self.path / variant.run_dir, variant.label))
            for position, variant in enumerate(variants)
            if variant.run_dir and (self.path / variant.run_dir / "preset.toml").is_file()
        ]

    def series(self, index: int) -> list[Series]:
        """Factor `index`'s variants that have a run, as report series labelled by variant."""
        return [one for _, one in self._indexed_series(index)]

    def _compare(self, index: int) -> tuple[list[dict], int | None, int | None]:
        """Final-epoch statistics of factor `index`'s runs, the winner's row, and its variant's position."""
        indexed = self._indexed_series(index)
        rows = [one.stats() for _, one in indexed]
        best = pick_winner(rows)
        return rows, best, None if best is None else indexed[best][0]

    def started_run(self, variant: Variant) -> Path | None:
        """The run a variant started (in its own folder), if any."""
        runs = list_runs(self.path / variant.folder)
        return runs[-1].path if runs else None

    def record(self, variant: Variant) -> None:
        """Note the variant's run directory and its status (as the run itself says) in study.json."""
        started = self.started_run(variant)
        if started is not None:
            variant.run_dir = started.relative_to(self.path).as_posix()
            variant.status = RunDir(started).status()
        self.save()


def _emit(listeners, event: Event) -> None:
    for listener in listeners:
        listener(event)


class _SequentialRunner:
    """Variants one after another in this process, each a `train` (or `resume`) call."""

    def __init__(self, study: Study, control: RunControl):
        self.study, self.control = study, control

    def run(self, todo: list[tuple[int, Variant]], factor: str, listeners) -> str:
        from kerashp.train import resume, train

        total = self.study.plan.total
        for number, variant in todo:
            _emit(listeners, VariantStarted(number, total, factor, variant.label))
            started = self.study.started_run(variant)
            detail = ""
            try:
                if started is not None:
                    resume(started, listeners, control=self.control)
                else:
                    preset = load_preset(variant.preset, variant.overrides)
                    train(preset, self.study.path / variant.folder, listeners, control=self.control)
            except RunFailedError as exc:
                detail = str(exc)
            self.study.record(variant)
            if not variant.run_dir:
                variant.status = "failed"
            _emit(listeners, VariantFinished(number, total, variant.label, variant.status, variant.run_dir, detail))
            if variant.status in ("stopped", "interrupted"):
                return variant.status
        return "completed"


class _ParallelRunner:
    """Variants in `jobs` `kerashp train` processes at once, one GPU each while GPUs last.

    Each process writes its output to the variant folder's train.log; its epochs are relayed as
    VariantEpoch events read from the run's events.jsonl."""

    def __init__(self, study: Study, jobs: int, control: RunControl):
        self.study, self.jobs, self.control = study, jobs, control
        self.gpus = visible_gpus()

    def run(self, todo: list[tuple[int, Variant]], factor: str, listeners) -> str:
        total = self.study.plan.total
        pending, active = deque(todo), []
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
                    _emit(listeners, VariantStarted(number, total, factor, variant.label))
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
            return "interrupted"
        return "stopped" if stopping else "completed"

    def _gpu(self, slot: int) -> str | None:
        return self.gpus[slot % len(self.gpus)] if self.gpus else None

    def _finished(self, child: "_Child", listeners, total: int) -> None:
        variant = child.variant
        self.study.record(variant)
        if not variant.run_dir:
            variant.status = "failed"
        detail = "" if variant.status in FINISHED else f"{child.log_path}: {child.last_log_line()}"
        _emit(listeners, VariantFinished(child.number, total, variant.label, variant.status, variant.run_dir, detail))


class _Child:
    """One variant training in a `kerashp train` subprocess (a new run, or resuming its run)."""

    def __init__(self, study: Study, variant: Variant, number: int, slot: int, gpu: str | None):
        self.study, self.variant, self.number, self.slot = study, variant, number, slot
        self.folder = study.path / variant.folder
        self.folder.mkdir(parents=True, exist_ok=True)
        started = study.started_run(variant)
        if started is not None:
            arguments = ["--resume", str(started)]
        else:
            arguments = ["--preset", variant.preset, *(f"--set={o}" for o in variant.overrides), "--runs-dir", str(self.folder)]
        env = dict(os.environ, **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {}))
        self.log_path = self.folder / "train.log"
        with open(self.log_path, "a", encoding="utf-8") as log:
            command = [sys.executable, "-m", "kerashp.cli", "train", *arguments]
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.events_read = 0

    def step(self, listeners) -> bool:
        """Relay the epochs finished since the last step; True once the process has ended."""
        done = self.process.poll() is not None
        started = self.study.started_run(self.variant)
        events = started / "events.jsonl" if started is not None else None
        if events is not None and events.exists():
            with open(events, "rb") as handle:
                handle.seek(self.events_read)
                chunk = handle.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next step
            self.events_read += len(complete)
            for line in complete.decode("utf-8", errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:  # the half line a killed process left behind
                    continue
                if record.get("event") == "EpochEnded":
                    _emit(listeners, VariantEpoch(self.number, self.variant.label, record["epoch"], record["epochs"], record["metrics"]))
        return done

    def interrupt(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def last_log_line(self) -> str:
        lines = [line.strip() for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        return lines[-1] if lines else "no output"


def visible_gpus() -> list[str]:
    """GPU ids to hand out through CUDA_VISIBLE_DEVICES: those already visible, else every one torch sees."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [gpu.strip() for gpu in visible.split(",") if gpu.strip() and gpu.strip() != "-1"]
    import torch

    return [str(index) for index in range(torch.cuda.device_count())]


# ---------------------------------------------------------------------------------------- reporting


def study_content(path: Path) -> tuple[str, list[str], list[Section]]:
    """Title, introduction and one report section per factor studied so far."""
    study = Study.open(path)
    plan = study.plan
    settings = ", ".join(f"`{o}`" for o in plan.overrides) or "no overrides"
    intro = [plan.description] if plan.description else []
    intro.append(f"Base: preset `{Path(plan.preset).stem}` with {settings}.")
    if len(plan.factors) == 1:
        intro.append(f"Varied: `{plan.factors[0].key}` over {', '.join(plan.factors[0].values)}.")
    else:
        factors = "; ".join(f"`{f.key}` ({', '.join(f.values)})" for f in plan.factors)
        intro.append(f"Factors, studied in this order, each variant carrying the winners of the factors before: {factors}.")
    sections = []
    for index, (factor, state) in enumerate(zip(plan.factors, study.factors)):
        notes = []
        if index:
            before = study.factors[index - 1]
            carried = before["variants"][before["winner"]]
            notes.append(f"Every variant carries the winner of factor {index}: **{carried.label}**.")
        title = f"varying {factor.key}" if len(plan.factors) == 1 else f"factor {index + 1}, varying {factor.key}"
        sections.append(Section(title, study.series(index), f"factor-{index + 1}-{slug(factor.key)}", notes, subject=f"study {plan.name}, {title}"))
    if len(study.factors) == len(plan.factors) and study.factors and study.factors[-1]["winner"] is not None:
        last = study.factors[-1]
        best = last["variants"][last["winner"]]
        added = [o for o in best.overrides if o not in plan.overrides]
        chosen = ", ".join(f"`{o}`" for o in added) or "its settings as they are"
        intro.append(f"**Best configuration**: preset `{Path(best.preset).stem}` with {chosen}.")
    return f"Study {plan.name}", intro, sections
