"""Every study file kerashp reads back - study.json in a study folder, a study TOML plan - is checked:
an edited, cut or foreign file is one line naming the file and the key, exit 2, never a traceback,
and no edit to study.json makes a variant's run live outside the study folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kerashp.cli import main as kerashp_main
from kerashp.study.study import Study, plan_from_args

TWO_FACTORS = ["optimizer.learning_rate=0.1,0.01", "train.batch_size=8,16"]


def a_study_folder(where: Path) -> Path:
    """A two-factor study as study.json records it once the first factor has a winner (no training)."""
    study = Study.create_or_resume(where, plan_from_args("lenet5", TWO_FACTORS, name="two"))
    study.variants_of(0)
    study.factors[0]["winner"] = 1
    study.variants_of(1)
    return study.path


def edit(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def put(keys: str, value):
    """A change setting `a.b.0.c` (list indexes as numbers) to `value`."""

    def change(document):
        *parents, last = [int(key) if key.isdigit() else key for key in keys.split(".")]
        for key in parents:
            document = document[key]
        document[last] = value

    return change


def drop(keys: str):
    def change(document):
        *parents, last = [int(key) if key.isdigit() else key for key in keys.split(".")]
        for key in parents:
            document = document[key]
        del document[last]

    return change


STUDY_JSON_EDITS = [
    (put("plan", []), "plan = []: expected an object"),
    (drop("plan"), "plan = null: expected an object"),
    (put("factors", {}), "factors = {}: expected a list"),
    (put("extra", 1), 'unknown key(s); allowed: plan, factors'),
    (put("plan.name", "../../elsewhere"), 'plan.name = "../../elsewhere": expected a plain name'),
    (put("plan.preset", 5), "plan.preset = 5: expected a preset name or .toml path"),
    (put("plan.overrides", "train.epochs=1"), "plan.overrides = \"train.epochs=1\": expected a list of strings"),
    (put("plan.factors", []), "plan.factors = []: expected a list of one or more factors"),
    (put("plan.factors.0.values", [0.1, 0.01]), "plan.factors[0].values = [0.1, 0.01]: expected a list of strings"),
    (put("plan.factors.0.labels", ["a"]), "1 labels for 2 values"),
    (put("factors.0.key", "optimizer.momentum"), 'factors[0].key = "optimizer.momentum": expected optimizer.learning_rate'),
    (put("factors.0.variants", []), "factors[0].variants = 0: expected 2 variants"),
    (put("factors.0.winner", "1"), 'factors[0].winner = "1": expected a variant\'s index or null'),
    (put("factors.0.winner", 7), "factors[0].winner = 7: expected 0 to 1 or null"),
    (put("factors.0.winner", True), "factors[0].winner = true: expected a variant's index or null"),
    (put("factors.0.winner", None), "factors[0].winner = null: expected the variant the next factor carries"),
    (put("factors.0.variants.0", "x"), 'factors[0].variants[0] = "x": expected an object'),
    (put("factors.0.variants.0.folder", "../../victim"), 'variants[0].folder = "../../victim": expected runs/1.1-'),
    (put("factors.0.variants.0.folder", "/tmp"), 'variants[0].folder = "/tmp": expected runs/1.1-'),
    (put("factors.0.variants.1.run_dir", "runs/1.2-learning_rate=0.01/../../../victim"), "expected a run folder in"),
    (put("factors.0.variants.1.run_dir", "/etc"), 'variants[1].run_dir = "/etc": expected a run folder in'),
    (put("factors.1.variants.0.overrides", [1]), "factors[1].variants[0].overrides = [1]: expected a list of strings"),
    (put("factors.1.variants.0.status", None), "factors[1].variants[0].status = null: expected a string"),
    (put("factors.1.variants.0.label", "other"), 'factors[1].variants[0].label = "other": expected'),
    (put("factors.1.variants.0.surprise", 1), "unknown key(s); allowed: label, preset, folder, run_dir, status"),
]


@pytest.mark.parametrize("change, message", STUDY_JSON_EDITS, ids=[m[:40] for _, m in STUDY_JSON_EDITS])
def test_an_edited_study_json_is_one_line_naming_the_file_and_key(tmp_path, capsys, tally, change, message):
    folder = a_study_folder(tmp_path / "studies")
    edit(folder / "study.json", change)
    for command in (["study", str(folder)], ["report", str(folder)]):
        assert kerashp_main(command) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and f"{folder / 'study.json'}: " in err and message in err, err
        tally("bad inputs tried")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["studies"]  # nothing made outside


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "study.json: not valid JSON"),
        ("[1, 2]", "study.json: holds a JSON list, not an object"),
        ('{"plan": {"name": "x"', "study.json: not valid JSON"),  # cut short
        (b"\xff\xfe{}", "study.json: not UTF-8 text"),
    ],
)
def test_a_damaged_study_json_is_one_line(tmp_path, capsys, text, message):
    folder = a_study_folder(tmp_path)
    target = folder / "study.json"
    target.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert kerashp_main(["study", str(folder)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_a_study_folder_as_written_still_opens(tmp_path):
    folder = a_study_folder(tmp_path)
    study = Study.open(folder)
    assert [len(state["variants"]) for state in study.factors] == [2, 2] and study.factors[0]["winner"] == 1
    assert study.factors[1]["variants"][0].overrides == ["optimizer.learning_rate=0.01", "train.batch_size=8"]


FACTOR = '[[factor]]\nkey = "optimizer.learning_rate"\nvalues = [0.1, 0.01]\n'


@pytest.mark.parametrize(
    "text, message",
    [
        (f'preset = "lenet5"\ndescription = ["x"]\n{FACTOR}', 'description = ["x"]: expected a string'),
        (f'preset = "lenet5"\nepochs = "abc"\n{FACTOR}', 'epochs = "abc": expected a whole number of epochs'),
        (f'preset = "lenet5"\nepochs = 0\n{FACTOR}', "epochs = 0: expected a whole number of epochs"),
        (f'preset = "lenet5"\nepochs = 1.5\n{FACTOR}', "epochs = 1.5: expected a whole number of epochs"),
        (f'preset = "lenet5"\nepochs = true\n{FACTOR}', "epochs = true: expected a whole number of epochs"),
        ('preset = "lenet5"\n[[factor]]\nkey = "a"\nvalues = [1, 2]\nlabels = ["x\\ny", "x\\ny"]\n', "labels repeat (x\\ny"),
        ("preset = [", "TOML syntax error"),
    ],
)
def test_a_bad_study_plan_is_one_line_naming_the_file(tmp_path, capsys, tally, text, message):
    plan = tmp_path / "plan.toml"
    plan.write_text(text)
    assert kerashp_main(["study", str(plan), "--studies-dir", str(tmp_path / "studies")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"{plan}: " in err and message in err, err
    assert not (tmp_path / "studies").exists()
    tally("bad inputs tried")
