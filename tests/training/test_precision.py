"""`train.precision`: mixed bfloat16 trains on a CPU as well as float32 and resumes in bfloat16;
float16 scales its loss and is refused, in one line, where there is no GPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import first_cifar_images, needs_cifar10_mini

from kerashp.backend import use_torch_backend

use_torch_backend()

import keras  # noqa: E402
import torch  # noqa: E402

from kerashp.cli import main as kerashp_main  # noqa: E402
from kerashp.config import load_preset  # noqa: E402
from kerashp.errors import PresetError, RunError  # noqa: E402
from kerashp.models import build_model  # noqa: E402
from kerashp.training.checkpoints import load_checkpoint  # noqa: E402
from kerashp.training.device import check_precision  # noqa: E402
from kerashp.training.optim import current_learning_rate  # noqa: E402
from kerashp.training.precision import build_in_precision, model_precision  # noqa: E402
from kerashp.training.run import compile_model, resume, train  # noqa: E402

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")


def tiny(folder: Path, *overrides: str, preset: str = "lenet5"):
    return load_preset(preset, [f"data.source=folder:{folder}", "train.batch_size=8", "data.validation=8", *overrides])


def test_float16_needs_cuda_and_bfloat16_does_not():
    check_precision("mixed_float16", "p", cuda=True)
    check_precision("mixed_bfloat16", "p", cuda=False)
    check_precision("float32", "p", cuda=False)
    with pytest.raises(PresetError, match='p: train.precision = "mixed_float16": needs a CUDA GPU'):
        check_precision("mixed_float16", "p", cuda=False)


@NO_CUDA
def test_float16_on_a_cpu_is_refused_in_one_line_before_anything_is_written(tiny_folder, tmp_path, capsys):
    runs = tmp_path / "runs"
    argv = ["train", "--preset", "lenet5", "--set", f"data.source=folder:{tiny_folder}"]
    code = kerashp_main([*argv, "--set", "train.precision=mixed_float16", "--runs-dir", str(runs)])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "train.precision" in error and "Traceback" not in error
    assert not runs.exists() or not any(runs.iterdir())


def test_a_mixed_model_computes_in_16_bits_with_float32_weights_and_logits():
    model = build_in_precision(
        lambda: build_model("lenet5", load_preset("lenet5")["model"], (32, 32, 3), 4), "mixed_bfloat16"
    )
    assert model_precision(model) == "mixed_bfloat16" and keras.config.dtype_policy().name == "float32"
    assert {v.dtype for v in model.weights} == {"float32"}
    assert keras.ops.convert_to_numpy(model(keras.ops.zeros((2, 3, 32, 32)))).dtype.name == "float32"


def test_float16_scales_the_loss_and_reports_the_schedule_rate():
    preset = load_preset("lenet5", ["train.precision=mixed_float16", "optimizer.learning_rate=0.05"])
    model = build_in_precision(lambda: build_model("lenet5", preset["model"], (32, 32, 3), 4), "mixed_float16")
    compile_model(model, preset, steps_per_epoch=4)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert current_learning_rate(model.optimizer) == pytest.approx(0.05)


def test_a_bfloat16_run_resumes_in_bfloat16_and_refuses_a_changed_precision(tiny_folder, tmp_path):
    first = train(tiny(tiny_folder, "train.precision=mixed_bfloat16", "train.epochs=1"), tmp_path)
    assert first.summary["precision"] == "mixed_bfloat16"
    assert model_precision(load_checkpoint(first.run.epoch_checkpoint(1))) == "mixed_bfloat16"

    copy = shutil.copytree(first.run.path, tmp_path / "changed")
    preset_file = copy / first.run.preset_file.name
    preset_file.write_text(preset_file.read_text().replace('"mixed_bfloat16"', '"float32"'))
    with pytest.raises(
        RunError, match='train.precision = "float32", but epoch-0001.keras computes in "mixed_bfloat16"'
    ):
        resume(copy, epochs=2)

    resumed = resume(first.run.path, epochs=2)
    assert resumed.summary["epochs_done"] == 2 and resumed.summary["precision"] == "mixed_bfloat16"
    assert model_precision(load_checkpoint(resumed.run.epoch_checkpoint(2))) == "mixed_bfloat16"
    assert json.loads(resumed.run.summary_file.read_text())["memory_layout"] == first.summary["memory_layout"]


@needs_cifar10_mini
def test_bfloat16_trains_lenet5_on_cifar10_as_well_as_float32(tmp_path):
    """Three epochs on 900 CIFAR-10 images, the same seed, split, initial weights and batches:
    bfloat16's test accuracy is within 0.08 of float32's. The two drift apart from the first step
    (bfloat16 keeps 8 bits of mantissa), so this is the noise between two runs: 300 test images
    give an accuracy near 0.2 a standard error of 0.023 each, and chance (0.1) one of 0.017, so
    "it learned" is 0.15, three of chance's standard errors above it. Measured (seeds 1, 2): float32
    0.237, 0.217; bfloat16 0.257, 0.207. With keras 3.15.1 and pillow 13 (seeds 1-4): float32
    0.177, 0.213, 0.207, 0.180; bfloat16 (direct pass) 0.227, 0.177, 0.220, 0.247."""
    subset = first_cifar_images(tmp_path / "cifar10-subset", 100, 30)
    accuracy = {}
    for precision in ("float32", "mixed_bfloat16"):
        overrides = [
            f"data.source=folder:{subset}", "data.validation=100", "train.batch_size=32", "train.epochs=3",
            f"train.precision={precision}", "train.memory_layout=contiguous", "seed=1",
        ]  # fmt: skip
        accuracy[precision] = train(load_preset("lenet5", overrides), tmp_path / "runs").summary["test"]["accuracy"]
    assert accuracy["float32"] > 0.15  # it learned: chance is 0.1
    assert abs(accuracy["mixed_bfloat16"] - accuracy["float32"]) <= 0.08, accuracy
