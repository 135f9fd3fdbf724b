"""The study folder's state: study.json (the plan, every variant with its overrides, run directory
and status, each factor's winner), written atomically, and the variants' runs inside it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

from kerashp.errors import UserError
from kerashp.report import Series, pick_winner
from kerashp.runs.files import read_object
from kerashp.runs.folder import RunDir, list_runs, write_json
from kerashp.status import RESULTS, VariantStatus
from kerashp.study.plan import PRESET_FACTOR, Fields, StudyPlan, check_fields, expect, is_text, is_texts
from kerashp.text import slug

STUDY_FILE = "study.json"
STUDY_FIELDS: Fields = {
    "plan": (lambda value: isinstance(value, dict), "expected an object"),
    "factors": (lambda value: isinstance(value, list), "expected a list"),
}
FACTOR_STATE_FIELDS: Fields = {
    "key": (is_text, "expected a string"),
    "variants": (lambda value: isinstance(value, list), "expected a list"),
    "winner": (lambda value: value is None or type(value) is int, "expected a variant's index or null"),
}
VARIANT_FIELDS: Fields = {
    **dict.fromkeys(("label", "preset", "folder", "run_dir", "status"), (is_text, "expected a string")),
    "overrides": (is_texts, "expected a list of strings"),
}


@dataclass
class Variant:
    label: str
    preset: str
    overrides: list[str]
    folder: str  # relative to the study folder; the variant's run is created inside it
    run_dir: str = ""  # relative to the study folder, once the run exists
    status: str = VariantStatus.PENDING  # then the status its run records

    @property
    def is_result(self) -> bool:
        """Whether its run ended with numbers to compare: completed, or diverged (a learning rate too
        high is a finding too). Such a variant is not trained again."""
        return self.status in RESULTS


class StudyFolder:
    """A study folder: its plan and, factor by factor, its variants and their runs (study.json).
    Running the variants is `kerashp.study.study.Study`'s job."""

    def __init__(self, path: Path, plan: StudyPlan, factors: list[dict]):
        self.path, self.plan = path, plan
        self.factors = factors  # per factor studied so far: {"variants": [Variant, ...], "winner": index or None}

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
            {"key": factor.key, "variants": [asdict(v) for v in state["variants"]], "winner": state["winner"]}
            for factor, state in zip(self.plan.factors, self.factors)
        ]
        write_json(self.path / STUDY_FILE, {"plan": self.plan.to_json(), "factors": factors})

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
            variants.append(Variant(label, variant_preset, variant_overrides, variant_folder(index, position, label)))
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

    def compare(self, index: int) -> tuple[list[dict], int | None, int | None]:
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


def variant_folder(factor: int, position: int, label: str) -> str:
    """Where a variant's run is kept, relative to the study folder: `runs/<factor>.<value>-<label>`."""
    return f"runs/{factor + 1}.{position + 1}-{slug(label)}"


def read_study(path: Path) -> tuple[StudyPlan, list[dict]]:
    """study.json's plan and factors, checked against each other: every variant's folder is the one
    its plan makes, so no edit to study.json sends a run outside the study folder. Anything else is
    one UserError naming the file and the key."""
    source = str(path)
    document = check_fields(read_object(path), STUDY_FIELDS, source, "")
    plan = StudyPlan.from_json(document["plan"], source)
    states, most = document["factors"], len(plan.factors)
    expect(len(states) <= most, source, "factors", len(states), f"expected at most {most}, one per factor of the plan")
    factors = []
    for index, state in enumerate(states):
        factors.append(_factor_state(state, index, plan, source, carried=index + 1 < len(states)))
    return plan, factors


def _factor_state(state: Any, index: int, plan: StudyPlan, source: str, carried: bool) -> dict:
    """A factor's variants and winner; `carried`: the next factor's variants were made from its winner."""
    where, factor = f"factors[{index}]", plan.factors[index]
    check_fields(state, FACTOR_STATE_FIELDS, source, where)
    expect(state["key"] == factor.key, source, f"{where}.key", state["key"], f"expected {factor.key}, as the plan says")
    count, found = len(factor.labels), len(state["variants"])
    expect(found == count, source, f"{where}.variants", found, f"expected {count} variants, one per value")
    variants = [_variant(data, f"{where}.variants[{position}]", index, position, label, source)
                for position, (data, label) in enumerate(zip(state["variants"], factor.labels))]  # fmt: skip
    winner, key = state["winner"], f"{where}.winner"
    expect(winner is None or 0 <= winner < count, source, key, winner, f"expected 0 to {count - 1} or null")
    expect(winner is not None or not carried, source, key, winner, "expected the variant the next factor carries")
    return {"variants": variants, "winner": winner}


def _variant(data: Any, where: str, factor: int, position: int, label: str, source: str) -> Variant:
    check_fields(data, VARIANT_FIELDS, source, where)
    expect(data["label"] == label, source, f"{where}.label", data["label"], f"expected {label!r}, the plan's label")
    folder = variant_folder(factor, position, label)
    expect(data["folder"] == folder, source, f"{where}.folder", data["folder"], f"expected {folder}")
    run = data["run_dir"].removeprefix(f"{folder}/")
    inside = data["run_dir"] == "" or (run != data["run_dir"] and "/" not in run and run not in ("", ".", ".."))
    expect(inside, source, f"{where}.run_dir", data["run_dir"], f'expected a run folder in {folder}, or ""')
    return Variant(**data)
