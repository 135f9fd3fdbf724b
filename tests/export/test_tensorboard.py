"""`kerashp export tensorboard`: runs, a search and a study as event files that tensorboard's own
reader reads back, with the scalars, each session's hyperparameters and the experiment's metrics;
refusals that leave `--out` as it was. The search and the study are built from copies of the
`trained` run (no training here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kerashp.cli import main
from kerashp.config import load_preset
from kerashp.runs.folder import RunDir
from kerashp.search.directory import SearchDir
from kerashp.search.records import TrialRecord
from kerashp.status import TrialStatus
from kerashp.study.folder import StudyFolder
from kerashp.study.plan import plan_from_args


@pytest.fixture(scope="module")
def accumulator():
    """tensorboard's EventAccumulator on its TensorFlow stub: the reader, like kerashp's writer,
    needs no TensorFlow (the stub is chosen once per process, before tensorboard.compat.tf loads)."""
    from types import ModuleType

    sys.modules.setdefault("tensorboard.compat.notf", ModuleType("tensorboard.compat.notf"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def read(folder: Path) -> EventAccumulator:
        (event_file,) = folder.glob("events.out.tfevents.*")
        return EventAccumulator(str(event_file), size_guidance={"tensors": 0, "scalars": 0}).Reload()

    return read


def copy_run(trained: Path, into: Path, **values) -> Path:
    """A copy of the trained run inside `into`, its preset.toml holding `values` (dotted keys)."""
    into.mkdir(parents=True, exist_ok=True)
    run = RunDir(Path(shutil.copytree(trained, into / trained.name)))
    document = tomllib.loads(run.preset_file.read_text())
    for key, value in values.items():
        section, name = key.split(".")
        document[section][name] = value
    run.write_preset(document)
    return run.path


def fake_search(tmp_path: Path, trained: Path) -> Path:
    """A search of two completed trials over a log-scale learning rate and a list choice."""
    preset_file = tmp_path / "lr.toml"
    preset_file.write_text(
        'extends = "mlp_cifar10"\n[search.space]\n'
        '"optimizer.learning_rate" = { type = "float", min = 1e-4, max = 0.1, log = true }\n'
        '"model.hidden" = [[64], [64, 32]]\n'
    )
    search = SearchDir.prepare(tmp_path / "lr-search", load_preset(str(preset_file)))
    for trial_id, rate, hidden in (("0", 0.01, [64]), ("1", 0.001, [64, 32])):
        run = copy_run(trained, search.trial_dir(trial_id))
        values = {"optimizer.learning_rate": rate, "model.hidden": hidden}
        record = TrialRecord(trial_id, TrialStatus.COMPLETED, values, epochs=2, objective=0.5,
                             runs=[run.relative_to(search.path).as_posix()])  # fmt: skip
        search.write_record(record)
    search.write_table()
    return search.path


def fake_study(tmp_path: Path, trained: Path) -> Path:
    """A study of one factor (batch size 8 and 16), both variants run."""
    study = StudyFolder.create_or_resume(tmp_path / "studies", plan_from_args("lenet5", ["train.batch_size=8,16"]))
    for variant, size in zip(study.variants_of(0), (8, 16)):
        copy_run(trained, study.path / variant.folder, **{"train.batch_size": size})
        study.record(variant)
    return study.path


def hparams_of(read, folder: Path) -> dict:
    from tensorboard.plugins.hparams import metadata

    events = read(folder)
    content = events.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    values = metadata.parse_session_start_info_plugin_data(content).hparams
    return {key: getattr(value, value.WhichOneof("kind")) for key, value in values.items()}


def test_runs_a_search_and_a_study_read_back_with_scalars_hparams_and_the_experiment(
    trained, tmp_path, accumulator, capsys
):
    from tensorboard.plugins.hparams import metadata

    search, study = fake_search(tmp_path, trained), fake_study(tmp_path, trained)
    other = copy_run(trained, tmp_path / "more", **{"optimizer.learning_rate": 0.5})
    out = tmp_path / "tb"
    assert main(["export", "tensorboard", str(trained), str(other), str(search), str(study), "--out", str(out)]) == 0
    assert "exported 6 runs" in capsys.readouterr().out

    history = RunDir(trained).read_history()
    run = accumulator(out / trained.name)
    assert [event.step for event in run.Tensors("val_accuracy")] == [1, 2]
    written = [float(event.tensor_proto.float_val[0]) for event in run.Tensors("val_accuracy")]
    assert written == pytest.approx([row["val_accuracy"] for row in history])
    assert {"loss", "accuracy", "val_loss", "lr", "test/accuracy"} <= set(run.Tags()["tensors"])
    # runs and study variants: the preset keys they differ in, with each run's own value
    rate = tomllib.loads((trained / "preset.toml").read_text())["optimizer"]["learning_rate"]
    assert hparams_of(accumulator, out / trained.name) == {"optimizer.learning_rate": rate, "train.batch_size": 8}
    assert hparams_of(accumulator, out / f"{other.name}-2")["optimizer.learning_rate"] == 0.5  # same folder name
    assert hparams_of(accumulator, out / "lenet5-batch_size" / "1.2-batch_size=16")["train.batch_size"] == 16
    # a search's trials: its space's keys, a list choice as its TOML text
    trial = hparams_of(accumulator, out / "lr-search" / "trial-1")
    assert trial == {"optimizer.learning_rate": 0.001, "model.hidden": "[64, 32]"}

    experiment = accumulator(out).SummaryMetadata(metadata.EXPERIMENT_TAG).plugin_data.content
    info = metadata.parse_experiment_plugin_data(experiment)
    domains = {h.name: h for h in info.hparam_infos}
    assert set(domains) == {"optimizer.learning_rate", "train.batch_size", "model.hidden"}
    rates = domains["optimizer.learning_rate"].domain_interval
    assert (rates.min_value, rates.max_value) == (0.001, 0.5)  # over the search's trials and the runs
    hidden = domains["model.hidden"].domain_discrete.values
    assert sorted(value.string_value for value in hidden) == ["[64, 32]", "[64]"]
    metrics = [m.name.tag for m in info.metric_infos]
    assert {"val_accuracy", "val_loss", "test/accuracy", "best/val_accuracy"} <= set(metrics)


def test_out_is_refused_before_anything_is_read_or_written(trained, tmp_path, capsys):
    out = tmp_path / "tb"
    assert main(["export", "tensorboard", str(trained), "--out", str(out)]) == 0
    before = sorted(path.relative_to(out) for path in out.rglob("*"))
    assert main(["export", "tensorboard", str(trained), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.endswith("holds an earlier export; pass --overwrite to replace it, or choose another --out\n")
    assert sorted(path.relative_to(out) for path in out.rglob("*")) == before

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["export", "tensorboard", str(trained), "--out", str(foreign), "--overwrite"]) == 2
    assert "not empty and not a kerashp export" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]

    assert main(["export", "tensorboard", str(trained), "--out", str(out), "--overwrite"]) == 0
    assert len(list((out / trained.name).glob("events.out.tfevents.*"))) == 1  # replaced, not added beside
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left


def test_a_damaged_run_is_one_line_and_out_stays_untouched(trained, tmp_path, capsys):
    damaged = Path(shutil.copytree(trained, tmp_path / "damaged"))
    (damaged / "history.csv").write_text("epoch,loss\n1,0.5\n7,0.4\n")
    out = tmp_path / "tb"
    assert main(["export", "tensorboard", str(trained), str(damaged), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "history.csv: row 2: epoch = '7': expected 2" in err, err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["damaged"]

    assert main(["export", "tensorboard", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "nowhere: no such file or folder" in capsys.readouterr().err


@pytest.mark.e2e
def test_the_export_command_imports_no_tensorflow_torch_or_keras(trained, tmp_path):
    code = (
        "import sys; from kerashp.cli import main\n"
        f"code = main(['export', 'tensorboard', {str(trained)!r}, '--out', {str(tmp_path / 'tb')!r}])\n"
        "print(code, sorted(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
