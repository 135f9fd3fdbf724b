"""Names a user (or whoever edited a run folder) chose - run, preset, trial, variant, study names and
hyperparameters - reach report.md and report.html as text, never as live HTML, links or images,
and a study name never becomes a folder outside --studies-dir."""

from __future__ import annotations

import csv
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kerashp.cli import main as kerashp_main
from kerashp.cli.report_command import report
from kerashp.config import load_preset
from kerashp.errors import UserError
from kerashp.runs.folder import RunDir
from kerashp.study.folder import variant_folder
from kerashp.study.plan import Factor
from kerashp.study.study import Study, StudyPlan, Variant, plan_from_args, plan_from_file

HOSTILE = "r<img src=x onerror=alert(1)>"
HOSTILE_NAMES = [
    HOSTILE,
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "![leak](%2E%2E%2Fsecret.png)",  # a folder name holds no slash; the page's image inliner unquotes
    "<https:evil.example>",
    "`code` *star* _under_ |pipe|",
    r"m$\nosuch$",  # mathtext in a figure's legend
    "_legend",
]


def make_run(where: Path, name: str, preset_name: str, val_accuracy: float) -> Path:
    """A finished run folder, written as train() writes one, under a name kerashp did not choose."""
    run = RunDir(where / name)
    (run.path / "checkpoints").mkdir(parents=True)
    run.write_preset(load_preset("lenet5", ["train.epochs=2"]))
    run.write_history([
        {"epoch": epoch, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.2, "val_accuracy": value, "lr": 0.01,
         "epoch_time": 1.0}
        for epoch, value in ((1, val_accuracy / 2), (2, val_accuracy))
    ])  # fmt: skip
    run.write_summary({"status": "completed", "preset": preset_name, "parameters": 62_006,
                       "test": {"loss": 1.0, "accuracy": 0.4}})  # fmt: skip
    return run.path


class Tags(HTMLParser):
    """Every tag and attribute of a page, as a browser would see them."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_inert(page: str) -> None:
    """No script, no event handler, no link to javascript:, and every image is an inlined figure."""
    tags = Tags(page).tags
    assert not [tag for tag, _ in tags if tag in ("script", "iframe", "object", "embed", "svg")]
    assert not [(tag, name) for tag, attrs in tags for name in attrs if name.startswith("on")]
    assert all(attrs.get("src", "").startswith("data:image/png;base64,") for tag, attrs in tags if tag == "img")
    assert not [attrs for tag, attrs in tags if tag == "a"]  # nothing a name could turn into a link


def test_hostile_run_and_preset_names_are_text_in_the_report(tmp_path):
    (tmp_path / "secret.png").write_bytes(b"\x89PNG not for the report")
    runs = tmp_path / "runs"
    for index, name in enumerate(HOSTILE_NAMES):
        make_run(runs, name, HOSTILE, 0.3 + index / 20)
    markdown = report([runs], tmp_path / "out")
    page = (markdown.parent / "report.html").read_text()
    assert_inert(page)
    assert "r&lt;img src=x onerror=alert(1)&gt;" in page  # shown, as text
    assert "| r\\<img src=x onerror=alert(1)\\> |" in markdown.read_text()  # report.md shows it escaped, too


def test_hostile_trial_ids_hyperparameters_and_objective_are_text_in_a_search_report(tmp_path):
    search = tmp_path / "search"
    (search / "trials").mkdir(parents=True)
    (search / "search.toml").write_text('[search]\nobjective = "<b onmouseover=alert(1)>val</b>"\n')
    rows = []
    for index, name in enumerate(HOSTILE_NAMES):
        run = make_run(search / "trials" / str(index), "run", "lenet5", 0.3 + index / 20)
        rows.append({"trial_id": name, "status": "<i>completed</i>", "objective": 0.3 + index / 20,
                     "<img src=y onerror=alert(2)>": f"<script>{index}</script>", "run_dir": str(run)})  # fmt: skip
    with open(search / "trials.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    markdown = report([search])
    assert_inert((markdown.parent / "report.html").read_text())


def test_hostile_variant_labels_and_study_texts_are_text_in_a_study_report(tmp_path):
    """A study folder as a study leaves it, its labels and overrides chosen to break out of the page."""
    labels = HOSTILE_NAMES[:2]
    plan = StudyPlan("hostile", "lenet5", [Factor("optimizer.learning_rate", ["0.1", "0.01"], labels)],
                     ["train.epochs=2", "data.source=folder:`</p><script>x</script>`"])  # fmt: skip
    variants = [Variant(label, "lenet5", [], variant_folder(0, n, label)) for n, label in enumerate(labels)]
    study = Study(tmp_path / "hostile", plan, [{"variants": variants, "winner": None}])
    for n, variant in enumerate(variants):
        variant.run_dir = f"{variant.folder}/run"
        variant.status = "completed"
        make_run(study.path / variant.folder, "run", "lenet5", 0.4 + n / 10)
    study.save()
    markdown = report([study.path])
    assert_inert((markdown.parent / "report.html").read_text())


@pytest.mark.parametrize("name", ["../../x", "..", ".", "a/b", "/tmp/x", "a\nb", "x" * 201])
def test_a_study_name_never_becomes_a_folder_outside_the_studies_dir(tiny_folder, tmp_path, capsys, tally, name):
    studies = tmp_path / "deep" / "studies"
    code = kerashp_main(["study", "--preset", "lenet5", "--vary", "optimizer.learning_rate=0.1,0.01", "--epochs", "1",
                         "--set", f"data.source=folder:{tiny_folder}", "--name", name, "--studies-dir", str(studies)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--name = " in err and "plain name" in err, err
    assert list(tmp_path.iterdir()) == []  # nothing made, inside --studies-dir or out
    tally("bad inputs tried")


def test_a_study_files_own_name_gets_the_same_check(tmp_path):
    hostile = tmp_path / "..toml"  # its name, ".", would be the studies folder itself
    hostile.write_text('preset = "lenet5"\n[[factor]]\nkey = "optimizer.learning_rate"\nvalues = [0.1, 0.01]\n')
    with pytest.raises(UserError, match=r"\.\.toml: name = \".\": expected a plain name"):
        plan_from_file(str(hostile))
    assert plan_from_file(str(hostile), name="fine").name == "fine"
    assert plan_from_args("my presets/le net.toml", ["optimizer.learning_rate=0.1"]).name == "le_net-learning_rate"
