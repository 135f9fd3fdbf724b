"""`kerashp tune --algorithm tpe|bohb` on real CIFAR-10 images (a few per class of cifar10-mini) through
the real CLI: killed mid-trial and resumed, then `--results` rates the hyperparameters and
`--export-best` writes a preset that loads. The chief-and-workers test for tpe is in test_cli_tune.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import first_cifar_images, needs_cifar10_mini
from test_cli_tune import kerashp, kill_inside_trial_one, trials

from kerashp.config import load_preset

TRAIN_PER_CLASS, TEST_PER_CLASS = 8, 2  # 60 training images after 20 for validation

pytestmark = [
    pytest.mark.e2e,
    needs_cifar10_mini,
]


@pytest.fixture(scope="module")
def few_cifar(tmp_path_factory) -> Path:
    """The first few images of each class of cifar10-mini, so a trial's epoch takes a second."""
    return first_cifar_images(tmp_path_factory.mktemp("few") / "cifar", TRAIN_PER_CLASS, TEST_PER_CLASS)


@pytest.mark.parametrize(
    "algorithm, options, planned",
    [
        # 2 random trials, then 2 proposed by TPE from those finished
        ("tpe", ["--max-trials", "4", "--epochs", "1", "--set", "search.startup_trials=2"], 4),
        # one Hyperband iteration of max_epochs 2, factor 2: brackets of 2 + 1 and 2 trials
        ("bohb", ["--max-trials", "5", "--epochs", "2", "--set", "search.factor=2"], 5),
    ],
)
def test_a_search_killed_mid_trial_resumes_then_rates_its_hyperparameters(
    few_cifar, tmp_path, algorithm, options, planned
):
    where, best = tmp_path / "search", tmp_path / "best.toml"
    args = (
        "tune", "--preset", "mlp_cifar10", "--algorithm", algorithm, *options, "--dir", str(where),
        "--set", f"data.source=folder:{few_cifar}", "--set", "data.validation=20", "--set", "train.batch_size=8",
        "--set", "train.memory_layout=contiguous",
    )  # fmt: skip
    kill_inside_trial_one(args, where, '"step"', "started training")  # inside its first epoch (8 steps)
    assert [r["status"] for r in trials(where)] == ["completed", "running"]

    result = kerashp(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{algorithm} search, {planned} trials" in result.stdout
    assert "resuming: 1 trials already finished" in result.stdout
    rows = trials(where)
    assert [int(r["trial_id"]) for r in rows] == list(range(planned)) and {r["status"] for r in rows} == {"completed"}
    for row in rows:  # each trial is one run: the killed one continued, none started twice
        assert len([p for p in (where / "trials" / row["trial_id"]).iterdir() if p.is_dir()]) == 1
    if algorithm == "bohb":
        assert any(r["parent"] for r in rows) and {r["epochs"] for r in rows} == {"1", "2"}

    listing = kerashp("tune", "--results", str(where), "--export-best", str(best))
    assert listing.returncode == 0, listing.stderr
    assert "parameter importance (fANOVA" in listing.stdout
    assert any(line.strip().startswith("optimizer.l2 ") for line in listing.stdout.splitlines())
    exported = load_preset(str(best))
    top = max((r for r in rows), key=lambda r: float(r["objective"]))
    assert exported["optimizer"]["l2"] == pytest.approx(float(top["optimizer.l2"]), rel=1e-5)
    assert exported["search"]["space"] == {} and exported["data"]["source"] == f"folder:{few_cifar}"
