"""Reports: figures and final-epoch tables, written as report.md and report.html.

The package knows sections of runs, not where they came from: a study and a search build their
own sections from `Section`, `Series` and `Trials`, and `write_report` draws and writes them.
"""

from kerashp.report.sections import Section, Series, Trials, distinguishing_labels, runs_section
from kerashp.report.tables import md_code, md_text
from kerashp.report.writer import write_report

__all__ = [
    "Section", "Series", "Trials", "distinguishing_labels", "md_code", "md_text", "runs_section",
    "write_report",
]  # fmt: skip
