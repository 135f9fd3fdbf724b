"""The study folder's state: study.json (the plan; every variant with its overrides and, per seed,
its run directory and status; each factor's leader; the memory layout every run uses), written
atomically, and the variants' runs inside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from kerashp.config import load_preset
from kerashp.errors import UserError
from kerashp.report import Series
from kerashp.report.significance import Verdict
from kerashp.report.tables import variant_row, variant_verdict
from kerashp.runs.files import read_object
from kerashp.runs.folder import RunDir, list_runs, write_json
from kerashp.status import RESULTS, VariantStatus
from kerashp.study.plan import (
    PRESET_FACTOR,
    SEED_STRIDE,
    Fields,
    StudyPlan,
    check_fields,
    expect,
    is_text,
    is_texts,
)
from kerashp.text import slug

STUDY_FILE = "study.json"
LAYOUTS = ("contiguous", "channels_last")  # train.memory_layout's choices other than auto
STUDY_FIELDS: Fields = {
    "plan": (lambda value: isinstance(value, dict), "expected an object"),
    "factors": (lambda value: isinstance(value, list), "expected a list"),
    "memory_layout": (lambda value: value is None or value in LAYOUTS, f"expected {' or '.join(LAYOUTS)} or null"),
}
FACTOR_STATE_FIELDS: Fields = {
    "key": (is_text, "expected a string"),
    "variants": (lambda value: isinstance(value, list), "expected a list"),
    "winner": (lambda value: value is None or type(value) is int, "expected a variant's index or null"),
}
VARIANT_FIELDS: Fields = {  # one seed: the variant is its run
    **dict.fromkeys(("label", "preset", "folder", "run_dir", "status"), (is_text, "expected a string")),
    "overrides": (is_texts, "expected a list of strings"),
}
SEEDED_VARIANT_FIELDS: Fields = {  # several seeds (or a list): one run per seed
    **dict.fromkeys(("label", "preset", "folder"), (is_text, "expected a string")),
    "overrides": (is_texts, "expected a list of strings"),
    "runs": (lambda value: isinstance(value, list), "expected a list"),
}
REPEAT_FIELDS: Fields = {
    "seed": (lambda value: type(value) is int and value >= 0, "expected a seed (a whole number, 0 or more)"),
    **dict.fromkeys(("folder", "run_dir", "status"), (is_text, "expected a string")),
}


@dataclass
class Repeat:
    """A variant's run with one of the plan's seeds."""

    seed: int
    folder: str  # relative to the study folder; the run is created inside it
    run_dir: str = ""  # relative to the study folder, once the run exists
    status: str = VariantStatus.PENDING  # then the status its run records
    # from its variant, not written to study.json: the label events show, and how to load its preset
    label: str = field(default="", repr=False)
    preset: str = field(default="", repr=False)
    overrides: list[str] = field(default_factory=list, repr=False)

    @property
    def is_result(self) -> bool:
        """Whether its run ended with numbers to compare: completed, or diverged (a learning rate too
        high is a finding too). Such a run is not trained again."""
        return self.status in RESULTS

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "folder": self.folder, "run_dir": self.run_dir, "status": self.status}


@dataclass
class Variant:
    """One value of a factor. With one seed (the plan's default, and every study from before seeds)
    the variant is its run, trained with its preset's seed; with several, or a list, `repeats`
    holds one run per seed. Either way `runs` are what a runner trains."""

    label: str
    preset: str
    overrides: list[str]  # the variant's own, which the next factor carries; a repeat adds its seed
    folder: str  # relative to the study folder; its run, or its repeats' folders, are created inside it
    run_dir: str = ""  # relative to the study folder, once its run exists (one seed)
    status: str = VariantStatus.PENDING  # then the status its run records (one seed)
    repeats: list[Repeat] = field(default_factory=list)  # one per seed (several seeds)

    def __post_init__(self) -> None:
        for repeat in self.repeats:
            repeat.preset, repeat.overrides = self.preset, [*self.overrides, f"seed={repeat.seed}"]
            repeat.label = f"{self.label}, seed {repeat.seed}"

    @property
    def runs(self) -> list[Variant | Repeat]:
        return [*self.repeats] or [self]

    @property
    def is_result(self) -> bool:
        """Whether every run ended with numbers to compare: completed, or diverged (a learning rate too
        high is a finding too). Such a run is not trained again."""
        return all(run.status in RESULTS for run in self.runs)

    def to_json(self) -> dict[str, Any]:
        shared = {"label": self.label, "preset": self.preset, "overrides": self.overrides, "folder": self.folder}
        if self.repeats:
            return {**shared, "runs": [repeat.to_json() for repeat in self.repeats]}
        return {**shared, "run_dir": self.run_dir, "status": self.status}


StudyRun = Variant | Repeat  # what a runner trains


class StudyFolder:
    """A study folder: its plan and, factor by factor, its variants and their runs (study.json).
    Running the variants is `kerashp.study.study.Study`'s job."""

    def __init__(self, path: Path, plan: StudyPlan, factors: list[dict], memory_layout: str | None = None):
        self.path, self.plan = path, plan
        # per factor studied so far: {"variants": [Variant, ...], "winner": the carried variant's index or None}
        self.factors = factors
        self.memory_layout = memory_layout  # every run's, once the study's first run has chosen it

    @classmethod
    def open(cls, path: Path | str) -> Self:
        path = Path(path)
        if not (path / STUDY_FILE).is_file():
            raise UserError(f"{path}: not a study folder (no {STUDY_FILE})")
        return cls(path, *read_study(path / STUDY_FILE))

    @classmethod
    def create_or_resume(cls, studies_dir: Path, plan: StudyPlan) -> Self:
        """The study folder for `plan`: new, or the existing one when its plan is the same."""
        path = Path(studies_dir) / plan.name
        if (path / STUDY_FILE).is_file():
            study = cls.open(path)
            if study.plan.to_json() != plan.to_json():
                raise UserError(
                    f"{path}: holds a study with another plan; "
                    f"pass --name NEW_NAME, or resume it with `kerashp study {path}`"
                )
            return study
        path.mkdir(parents=True, exist_ok=True)
        study = cls(path, plan, [])
        study.save()
        return study

    def save(self) -> None:
        factors = [
            {"key": factor.key, "variants": [v.to_json() for v in state["variants"]], "winner": state["winner"]}
            for factor, state in zip(self.plan.factors, self.factors)
        ]
        document = {"plan": self.plan.to_json(), "factors": factors, "memory_layout": self.memory_layout}
        write_json(self.path / STUDY_FILE, document)

    def variants_of(self, index: int) -> list[Variant]:
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
            folder, repeats = variant_folder(index, position, label), []
            if self.plan.seeds != 1:
                seeds = self.plan.seeds_for(load_preset(variant_preset, variant_overrides)["seed"])
                repeats = [Repeat(seed, repeat_folder(folder, seed)) for seed in seeds]
            variants.append(Variant(label, variant_preset, variant_overrides, folder, repeats=repeats))
        self.factors.append({"variants": variants, "winner": None})
        self.save()
        return variants

    def _indexed_series(self, index: int) -> list[tuple[int, list[Series]]]:
        variants = self.factors[index]["variants"] if index < len(self.factors) else []
        indexed = []
        for position, variant in enumerate(variants):
            runs = [self.path / run.run_dir for run in variant.runs if run.run_dir]
            series = [Series.load(run, variant.label) for run in runs if (run / "preset.toml").is_file()]
            if series:
                indexed.append((position, series))
        return indexed

    def series(self, index: int) -> list[Series]:
        """Factor `index`'s runs, as report series labelled by variant (a variant's seeds share its label)."""
        return [one for _, series in self._indexed_series(index) for one in series]

    def compare(self, index: int) -> tuple[list[dict], Verdict, int | None]:
        """Factor `index`'s variants that have runs, as rows of statistics over their seeds; the
        verdict over those rows; and the position of the variant the next factor carries (the
        leader, significant or not: a study must go on with one)."""
        indexed = self._indexed_series(index)
        rows = [variant_row([one.stats() for one in series]) for _, series in indexed]
        verdict = variant_verdict(rows)
        return rows, verdict, None if verdict.leader is None else indexed[verdict.leader][0]

    def started_run(self, repeat: StudyRun) -> Path | None:
        """The run a variant's seed started (in its own folder), if any."""
        runs = list_runs(self.path / repeat.folder)
        return runs[-1].path if runs else None

    def record(self, repeat: StudyRun) -> None:
        """Note the run directory of a variant's seed and its status (as the run itself says) in study.json."""
        started = self.started_run(repeat)
        if started is not None:
            repeat.run_dir = started.relative_to(self.path).as_posix()
            repeat.status = RunDir(started).status()
        self.save()

    def layout_overrides(self, repeat: StudyRun) -> list[str]:
        """The overrides a new run of `repeat` trains with: its own, and the study's memory layout
        where its preset leaves the choice to the timing probe (`auto`). The layout changes a
        run's numbers in the last bits, so every run of a study uses the one its first run chose:
        results then depend neither on `--jobs` nor on the machine's load when each run starts."""
        if (
            self.memory_layout is None
            or load_preset(repeat.preset, repeat.overrides)["train"]["memory_layout"] != "auto"
        ):
            return repeat.overrides
        return [*repeat.overrides, f"train.memory_layout={self.memory_layout}"]

    def adopt_layout(self, repeat: StudyRun) -> None:
        """Keep the memory layout `repeat`'s run trained with as every later run's."""
        if self.memory_layout is None and repeat.run_dir:
            chosen = RunDir(self.path / repeat.run_dir).read_summary().get("memory_layout")
            if chosen in LAYOUTS:
                self.memory_layout = chosen
                self.save()


def variant_folder(factor: int, position: int, label: str) -> str:
    """Where a variant's runs are kept, relative to the study folder: `runs/<factor>.<value>-<label>`."""
    return f"runs/{factor + 1}.{position + 1}-{slug(label)}"


def repeat_folder(folder: str, seed: int) -> str:
    """Where a variant's run with `seed` is kept, when it has several: `<variant folder>/seed-<seed>`."""
    return f"{folder}/seed-{seed}"


def read_study(path: Path) -> tuple[StudyPlan, list[dict], str | None]:
    """study.json's plan and factors, checked against each other: every variant's folder is the one
    its plan makes, so no edit to study.json sends a run outside the study folder. Anything else is
    one UserError naming the file and the key."""
    source = str(path)
    document = read_object(path)
    if isinstance(document, dict):  # a study folder from before the layout was kept
        document = {"memory_layout": None, **document}
    document = check_fields(document, STUDY_FIELDS, source, "")
    plan = StudyPlan.from_json(document["plan"], source)
    states, most = document["factors"], len(plan.factors)
    expect(len(states) <= most, source, "factors", len(states), f"expected at most {most}, one per factor of the plan")
    factors = []
    for index, state in enumerate(states):
        factors.append(_factor_state(state, index, plan, source, carried=index + 1 < len(states)))
    return plan, factors, document["memory_layout"]


def _factor_state(state: Any, index: int, plan: StudyPlan, source: str, carried: bool) -> dict:
    """A factor's variants and winner; `carried`: the next factor's variants were made from its winner."""
    where, factor = f"factors[{index}]", plan.factors[index]
    check_fields(state, FACTOR_STATE_FIELDS, source, where)
    expect(state["key"] == factor.key, source, f"{where}.key", state["key"], f"expected {factor.key}, as the plan says")
    count, found = len(factor.labels), len(state["variants"])
    expect(found == count, source, f"{where}.variants", found, f"expected {count} variants, one per value")
    variants = [_variant(data, f"{where}.variants[{position}]", index, position, label, plan, source)
                for position, (data, label) in enumerate(zip(state["variants"], factor.labels))]  # fmt: skip
    winner, key = state["winner"], f"{where}.winner"
    expect(winner is None or 0 <= winner < count, source, key, winner, f"expected 0 to {count - 1} or null")
    expect(winner is not None or not carried, source, key, winner, "expected the variant the next factor carries")
    return {"variants": variants, "winner": winner}


def _variant(data: Any, where: str, factor: int, position: int, label: str, plan: StudyPlan, source: str) -> Variant:
    """A variant and its runs, checked against the plan: with one seed the variant is its run; with
    several, as many runs as seeds, each with the plan's seed (or derived from the first as it
    says) in its own folder."""
    check_fields(data, VARIANT_FIELDS if plan.seeds == 1 else SEEDED_VARIANT_FIELDS, source, where)
    expect(data["label"] == label, source, f"{where}.label", data["label"], f"expected {label!r}, the plan's label")
    folder = variant_folder(factor, position, label)
    expect(data["folder"] == folder, source, f"{where}.folder", data["folder"], f"expected {folder}")
    if plan.seeds == 1:
        run_dir = _run_dir(data["run_dir"], folder, source, f"{where}.run_dir")
        return Variant(label, data["preset"], data["overrides"], folder, run_dir, data["status"])
    runs, count = data["runs"], plan.seed_count
    expect(len(runs) == count, source, f"{where}.runs", len(runs), f"expected {count} runs, one per seed")
    repeats = []
    for number, run in enumerate(runs):
        key = f"{where}.runs[{number}]"
        check_fields(run, REPEAT_FIELDS, source, key)
        seed = run["seed"]
        wanted = plan.seeds[number] if isinstance(plan.seeds, list) else runs[0]["seed"] + SEED_STRIDE * number
        expect(seed == wanted, source, f"{key}.seed", seed, f"expected {wanted}, as the plan's seeds say")
        expected = repeat_folder(folder, seed)
        expect(run["folder"] == expected, source, f"{key}.folder", run["folder"], f"expected {expected}")
        run_dir = _run_dir(run["run_dir"], expected, source, f"{key}.run_dir")
        repeats.append(Repeat(seed, expected, run_dir, run["status"]))
    return Variant(label, data["preset"], data["overrides"], folder, repeats=repeats)


def _run_dir(run_dir: str, folder: str, source: str, key: str) -> str:
    """`run_dir` if it names a run folder directly inside `folder` (or is empty: not started yet),
    so no edit to study.json sends a run outside the study folder."""
    run = run_dir.removeprefix(f"{folder}/")
    inside = run_dir == "" or (run != run_dir and "/" not in run and run not in ("", ".", ".."))
    expect(inside, source, key, run_dir, f'expected a run folder in {folder}, or ""')
    return run_dir
