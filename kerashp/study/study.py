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
continues from its last finished epoch, and a variant still training in a process an earlier, killed
run of the study started (`--jobs`) is followed until it ends. The winner of a factor is the
report's winner (highest final-epoch validation accuracy of a completed run).

The plan is `plan`'s, the folder's state `folder`'s, training the variants `runners`' and the
events `events`' (modules of this package); their public names are importable from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kerashp.control import RunControl
from kerashp.errors import RunFailedError
from kerashp.events import Listener, emit
from kerashp.report import Section, md_code, md_text, write_report
from kerashp.status import StudyStatus
from kerashp.study.events import (
    FactorFinished,
    StudyFinished,
    VariantEpoch,
    VariantFinished,
    VariantFollowed,
    VariantSkipped,
    VariantStarted,
)
from kerashp.study.folder import STUDY_FILE, StudyFolder, Variant
from kerashp.study.plan import (
    PRESET_FACTOR,
    Factor,
    StudyPlan,
    find_study,
    plan_from_args,
    plan_from_file,
    validate_plan,
)
from kerashp.study.runners import ParallelRunner, SequentialRunner, follow
from kerashp.text import slug

__all__ = [
    "PRESET_FACTOR", "STUDY_FILE", "Factor", "FactorFinished", "Study", "StudyFinished", "StudyPlan", "StudyResult",
    "Variant", "VariantEpoch", "VariantFinished", "VariantFollowed", "VariantSkipped", "VariantStarted", "find_study",
    "plan_from_args", "plan_from_file", "study_content", "validate_plan",
]  # fmt: skip


@dataclass
class StudyResult:
    path: Path
    status: StudyStatus
    report: Path | None

    @property
    def exit_code(self) -> int:
        return self.status.exit_code


class Study(StudyFolder):
    """A study folder that runs its factors in order and writes its report."""

    def run(self, listeners: Sequence[Listener] = (), jobs: int = 1, control: RunControl | None = None) -> StudyResult:
        """Run every factor in order (variants in `jobs` processes when above 1); write the report."""
        control = control or RunControl()
        runner = ParallelRunner(self, jobs, control) if jobs > 1 else SequentialRunner(self, control)
        number, status = 0, StudyStatus.COMPLETED
        for index, factor in enumerate(self.plan.factors):
            variants = self.variants_of(index)
            numbered = list(enumerate(variants, start=number + 1))
            for _, variant in numbered:
                if not variant.is_result:
                    self.record(variant)  # a run that finished after the study last wrote study.json
            outcome = follow(self, numbered, listeners, control)  # variants an earlier, killed run left training
            if outcome != StudyStatus.COMPLETED:
                return self._finish(outcome, listeners)
            todo = []
            for offset, variant in numbered:
                if variant.is_result:
                    skipped = VariantSkipped(offset, self.plan.total, variant.label, variant.status, variant.run_dir)
                    emit(listeners, skipped)
                else:
                    todo.append((offset, variant))
            outcome = runner.run(todo, factor.key, listeners) if todo else StudyStatus.COMPLETED
            number += len(variants)
            if outcome != StudyStatus.COMPLETED:
                return self._finish(outcome, listeners)
            rows, best_row, winner = self.compare(index)
            self.factors[index]["winner"] = winner
            self.save()
            emit(listeners, FactorFinished(factor.key, rows, best_row))
            if not all(variant.is_result for variant in variants):  # failed, or its process died
                status = StudyStatus.FAILED
            if winner is None and index + 1 < len(self.plan.factors):
                self._finish(StudyStatus.FAILED, listeners)
                raise RunFailedError(
                    f"{self.path}: factor {factor.key} has no winner to carry forward "
                    "(every variant diverged or failed)"
                )
        return self._finish(status, listeners)

    def _finish(self, status: StudyStatus, listeners: Sequence[Listener]) -> StudyResult:
        report = None
        if any(self.series(index) for index in range(len(self.factors))):
            title, intro, sections = study_content(self.path)
            report = write_report(self.path, title, sections, intro)
        emit(listeners, StudyFinished(str(self.path), status, str(report or "")))
        return StudyResult(self.path, status, report)


def study_content(path: Path) -> tuple[str, list[str], list[Section]]:
    """Title, introduction and one report section per factor studied so far."""
    study = Study.open(path)
    plan = study.plan
    settings = ", ".join(map(md_code, plan.overrides)) or "no overrides"
    intro = [plan.description] if plan.description else []  # markdown the study file's author wrote
    intro.append(f"Base: preset {md_code(Path(plan.preset).stem)} with {settings}.")
    if len(plan.factors) == 1:
        intro.append(f"Varied: {md_code(plan.factors[0].key)} over {md_text(', '.join(plan.factors[0].values))}.")
    else:
        factors = "; ".join(f"{md_code(f.key)} ({md_text(', '.join(f.values))})" for f in plan.factors)
        intro.append(
            f"Factors, studied in this order, each variant carrying the winners of the factors before: {factors}."
        )
    sections = []
    for index, factor in enumerate(plan.factors[: len(study.factors)]):
        notes = []
        if index:
            before = study.factors[index - 1]
            carried = before["variants"][before["winner"]]
            notes.append(f"Every variant carries the winner of factor {index}: **{md_text(carried.label)}**.")
        title = f"varying {factor.key}" if len(plan.factors) == 1 else f"factor {index + 1}, varying {factor.key}"
        sections.append(
            Section(
                title,
                study.series(index),
                f"factor-{index + 1}-{slug(factor.key)}",
                notes,
                subject=f"study {plan.name}, {title}",
            )
        )
    if len(study.factors) == len(plan.factors) and study.factors and study.factors[-1]["winner"] is not None:
        last = study.factors[-1]
        best = last["variants"][last["winner"]]
        added = [o for o in best.overrides if o not in plan.overrides]
        chosen = ", ".join(map(md_code, added)) or "its settings as they are"
        intro.append(f"**Best configuration**: preset {md_code(Path(best.preset).stem)} with {chosen}.")
    return f"Study {plan.name}", intro, sections
