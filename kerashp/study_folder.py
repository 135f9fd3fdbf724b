"""The study folder's state: study.json (the plan, every variant with its overrides, run directory
and status, each factor's winner), written atomically, and the variants' runs inside it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from kerashp.errors import UserError
from kerashp.report import Series, pick_winner, slug
from kerashp.runs import RunDir, list_runs, read_json, write_json
from kerashp.study_plan import PRESET_FACTOR, StudyPlan

STUDY_FILE = "study.json"
FINISHED = ("completed", "diverged")  # a diverged variant is a result too (a learning rate too high)


@dataclass
class Variant:
    label: str
    preset: str
    overrides: list[str]
    folder: str  # relative to the study folder; the variant's run is created inside it
    run_dir: str = ""  # relative to the study folder, once the run exists
    status: str = "pending"


class StudyFolder:
    """A study folder: its plan and, factor by factor, its variants and their runs (study.json).
    Running the variants is `kerashp.study.Study`'s job."""

    def __init__(self, path: Path, plan: StudyPlan, factors: list[dict]):
        self.path, self.plan = path, plan
        self.factors = factors  # per factor studied so far: {"variants": [Variant, ...], "winner": index or None}

    @classmethod
    def open(cls, path: Path | str) -> "StudyFolder":
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
    def create_or_resume(cls, studies_dir: Path, plan: StudyPlan) -> "StudyFolder":
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
