"""Studies: keep a preset, vary one hyperparameter over a few values, train each, compare.

A study is a preset, its overrides, one or more factors (a preset key and the values it takes) and
the seeds each variant is trained with. Factors are studied one after another, each one's
variants carrying the leader of the factors before it, as the LeNet-5 study went from batch size to
augmentation to weight decay. Every (variant, seed) is a normal run, kept inside the study folder:

    studies/<name>/
        study.json                    plan, variants, their runs per seed and status (atomic)
        runs/<f>.<v>-<label>/<run>/   one folder per variant, holding its run (one seed)
        runs/<f>.<v>-<label>/seed-<s>/<run>/   or one per seed (several)
        loss.png accuracy.png [lr.png] table.md table.csv   per factor (factor-<f>-<key>/ when several)
        report.md report.html

A study started again resumes: finished runs are skipped, an unfinished run continues from its
last finished epoch, and a run still training in a process an earlier, killed run of the study
started (`--jobs`) is followed until it ends. A factor's leader is the variant with the highest
mean final-epoch validation accuracy over its completed runs; it is called the winner only when
Welch's t-test finds it significantly above the runner-up (`kerashp.report.significance`), and
the next factor carries it either way. The study's first run chooses the memory layout every later
run uses, so the numbers do not depend on `--jobs`.

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
from kerashp.report.tables import verdict_sentence
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
from kerashp.study.folder import STUDY_FILE, StudyFolder, StudyRun, Variant
from kerashp.study.plan import (
    PRESET_FACTOR,
    SEED_STRIDE,
    Factor,
    StudyPlan,
    find_study,
    plan_from_args,
    plan_from_file,
    validate_plan,
)
from kerashp.study.runners import ParallelRunner, SequentialRunner, follow
from kerashp.text import slug

Runner = ParallelRunner | SequentialRunner

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
        runner: Runner = ParallelRunner(self, jobs, control) if jobs > 1 else SequentialRunner(self, control)
        number, status = 0, StudyStatus.COMPLETED
        for index, factor in enumerate(self.plan.factors):
            variants = self.variants_of(index)
            numbered = list(enumerate((run for variant in variants for run in variant.runs), start=number + 1))
            for _, repeat in numbered:
                if not repeat.is_result:
                    self.record(repeat)  # a run that finished after the study last wrote study.json
            outcome = follow(self, numbered, listeners, control)  # runs an earlier, killed run left training
            if outcome != StudyStatus.COMPLETED:
                return self._finish(outcome, listeners)
            todo = []
            for offset, repeat in numbered:
                if repeat.is_result:
                    skipped = VariantSkipped(offset, self.plan.total, repeat.label, repeat.status, repeat.run_dir)
                    emit(listeners, skipped)
                else:
                    todo.append((offset, repeat))
            outcome = self._train(runner, todo, factor.key, listeners)
            number += len(numbered)
            if outcome != StudyStatus.COMPLETED:
                return self._finish(outcome, listeners)
            rows, verdict, winner = self.compare(index)
            self.factors[index]["winner"] = winner
            self.save()
            emit(listeners, FactorFinished(factor.key, rows, verdict.winner, verdict_sentence(rows, verdict)))
            if not all(variant.is_result for variant in variants):  # failed, or its process died
                status = StudyStatus.FAILED
            if winner is None and index + 1 < len(self.plan.factors):
                self._finish(StudyStatus.FAILED, listeners)
                raise RunFailedError(
                    f"{self.path}: factor {factor.key} has no winner to carry forward "
                    "(every variant diverged or failed)"
                )
        return self._finish(status, listeners)

    def _train(
        self, runner: Runner, todo: list[tuple[int, StudyRun]], factor: str, listeners: Sequence[Listener]
    ) -> StudyStatus:
        """Train `todo`; while the study has no memory layout yet, its first run alone, which then
        chooses the layout every later run uses (see `StudyFolder.layout_overrides`)."""
        if todo and self.memory_layout is None:
            outcome = runner.run(todo[:1], factor, listeners)
            self.adopt_layout(todo[0][1])
            if outcome != StudyStatus.COMPLETED:
                return outcome
            todo = todo[1:]
        return runner.run(todo, factor, listeners) if todo else StudyStatus.COMPLETED

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
    seeds = plan.seeds if isinstance(plan.seeds, list) else None
    if plan.seed_count > 1:
        which = ", ".join(map(str, seeds)) if seeds else f"the preset's seed, then one every {SEED_STRIDE}"
        intro.append(f"Each variant is trained with {plan.seed_count} seeds ({which}).")
    if len(plan.factors) == 1:
        intro.append(f"Varied: {md_code(plan.factors[0].key)} over {md_text(', '.join(plan.factors[0].values))}.")
    else:
        factors = "; ".join(f"{md_code(f.key)} ({md_text(', '.join(f.values))})" for f in plan.factors)
        intro.append(
            f"Factors, studied in this order, each variant carrying the leaders of the factors before: {factors}."
        )
    sections = []
    for index, factor in enumerate(plan.factors[: len(study.factors)]):
        notes = []
        if index:
            before = study.factors[index - 1]
            carried = before["variants"][before["winner"]]
            notes.append(
                f"Every variant carries the leader of factor {index} (its highest mean final validation accuracy, "
                f"a significant winner or not): **{md_text(carried.label)}**."
            )
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
        significant = study.compare(len(study.factors) - 1)[1].significant
        heading = "Best configuration" if significant else "Leading configuration (not a significant win)"
        intro.append(f"**{heading}**: preset {md_code(Path(best.preset).stem)} with {chosen}.")
    return f"Study {plan.name}", intro, sections
