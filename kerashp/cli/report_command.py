"""`kerashp report`: figures and final-epoch tables for runs, a study or a search.

The engine's report writer knows sections, not sources; this command asks `kerashp.export.sources`
what each path is, then the study, the search or the runs for its sections. Those modules load on use,
not at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kerashp.cli.options import subcommand
from kerashp.text import slug

if TYPE_CHECKING:
    from kerashp.report import Section

EXAMPLES = """  # redraw a study's report in its folder
  kerashp report studies/lenet5-learning_rate
  kerashp report runs/lenet5-20261125-101500 runs/lenet5_aug-20261125-103000 \\
      --out reports/aug
  # every run in ./runs, with the figures their presets' sources reported
  kerashp report runs --compare-reference
  # a search: its trials, objective and parallel coordinates
  kerashp report searches/lenet5-lr
"""


def register(subcommands) -> None:
    parser = subcommand(
        subcommands,
        "report",
        "draw loss/accuracy figures and final-epoch tables for runs, studies or searches",
        EXAMPLES,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="RUN|RUNS_DIR|STUDY|SEARCH")
    parser.add_argument(
        "--out",
        type=Path,
        help="report folder (default: the study's own folder, a search's report/, else reports/NAME)",
    )
    parser.add_argument(
        "--compare-reference", action="store_true",
        help="show the figures each preset's source study reported ([reference]) next to the measured ones",
    )  # fmt: skip
    parser.set_defaults(handler=run)


def run(args) -> int:
    path = report(args.paths, args.out, args.compare_reference)
    print(f"report: {path}")
    print(f"        {path.with_suffix('.html')} (figures inline)")
    return 0


def report(paths: list[Path], out: Path | None = None, compare_reference: bool = False) -> Path:
    """Write the report for any mix of runs, runs folders, studies and searches; returns report.md's path."""
    from kerashp.report import write_report

    title, intro, sections, default_out = collect(paths)
    return write_report(out or default_out, title, sections, intro, compare_reference)


def collect(paths: list[Path]) -> tuple[str, list[str], list[Section], Path]:
    """Title, introduction, sections and default output folder for any mix of runs, runs folders,
    studies and searches."""
    from kerashp.export.sources import source_kind
    from kerashp.report import runs_section
    from kerashp.runs.folder import list_runs
    from kerashp.search.report_section import search_section
    from kerashp.study.study import study_content

    sections: list[Section] = []
    intro: list[str] = []
    loose: list[Path] = []
    titles = []
    kinds = [source_kind(path) for path in paths]
    for path, kind in zip(paths, kinds):
        if kind == "study":
            title, study_intro, study_sections = study_content(path)
            titles.append(title)
            if len(paths) == 1:
                intro = study_intro
            elif study_sections:
                study_sections[0].notes[:0] = study_intro
                for section in study_sections:  # two studies may vary the same key
                    section.folder_name = f"{slug(path.name)}-{section.folder_name}"
            sections += study_sections
        elif kind == "search":
            sections.append(search_section(path))
            titles.append(sections[-1].title)
        else:
            loose += [path] if kind == "run" else [run.path for run in list_runs(path)]
    if loose:
        sections.insert(0, runs_section(loose))
        titles.insert(0, sections[0].title)
    title = titles[0] if len(titles) == 1 else "Report: " + ", ".join(titles)
    return title, intro, sections, _default_out(paths, kinds)


def _default_out(paths: list[Path], kinds: list[str]) -> Path:
    """A single study is reported in its own folder, a single search in its `report/`; anything
    else under ./reports/."""
    if kinds == ["study"]:
        return paths[0]
    if kinds == ["search"]:
        return paths[0] / "report"
    more = f"-and-{len(paths) - 1}-more" if len(paths) > 1 else ""
    return Path("reports") / f"{slug(paths[0].resolve().name)}{more}"
