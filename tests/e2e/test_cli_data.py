"""`kerashp augment-preview` and `kerashp data` through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.e2e


def kerashp(*args):
    return subprocess.run([sys.executable, "-m", "kerashp.cli", *args], capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("preset, extra", [("lenet5_aug", []), ("mobilenet_cifar100", ["--set", "augment.cutmix_alpha=1.0", "--set", "data.validation=0.1"])])
def test_augment_preview_writes_a_readable_png(tiny_folder, tmp_path, preset, extra):
    out = tmp_path / "preview.png"
    result = kerashp("augment-preview", "--preset", preset, "--set", f"data.source=folder:{tiny_folder}", *extra, "--n", "8", "--out", str(out))
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        width, height = image.size
        colours = len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0))
    assert width > 800 and height > 600 and colours > 50


def test_data_list_and_prepare_errors_are_one_line(tmp_path):
    env_dir = tmp_path / "tfds"
    listing = subprocess.run(
        [sys.executable, "-m", "kerashp.cli", "data", "list"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "TFDS_DATA_DIR": str(env_dir)},
    )
    assert listing.returncode == 0 and "no prepared datasets" in listing.stdout
    unknown = kerashp("data", "prepare", "no_such_dataset_xyz")
    assert unknown.returncode == 2 and unknown.stderr.splitlines() == [
        "kerashp: error: tfds:no_such_dataset_xyz: no such tfds dataset (see the catalog)"
    ], unknown.stderr
    assert len(unknown.stderr.splitlines()[0]) <= 80


def test_data_help_fits_80_columns_and_tells_how_to_add_a_builder():
    for command in (["data", "--help"], ["data", "prepare", "--help"], ["data", "list", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "kerashp.cli", *command], capture_output=True, text=True, timeout=60,
            env={**os.environ, "COLUMNS": "80"},
        )
        assert result.returncode == 0 and max(map(len, result.stdout.splitlines())) <= 80, result.stdout
        assert "KERASHP_TFDS_MODULES" in result.stdout or command[-2] == "list", result.stdout


def test_augment_preview_out_folder_or_bare_name_reports_the_file_written(tiny_folder, tmp_path):
    source = f"data.source=folder:{tiny_folder}"
    into_folder = kerashp("augment-preview", "--preset", "lenet5_aug", "--set", source, "--n", "4", "--out", str(tmp_path))
    written = tmp_path / "augment-lenet5_aug.png"
    assert into_folder.returncode == 0 and into_folder.stdout.strip() == f"wrote {written}" and written.is_file()
    bare = kerashp("augment-preview", "--preset", "lenet5_aug", "--set", source, "--n", "4", "--out", str(tmp_path / "grid"))
    assert bare.returncode == 0 and bare.stdout.strip() == f"wrote {tmp_path / 'grid.png'}"
    with Image.open(tmp_path / "grid.png") as image:
        assert image.format == "PNG"


@pytest.mark.parametrize(
    "out, expected",
    [("p.txt", "--out p.txt: '.txt' is not an image type"), ("/proc/x.png", "/proc/x.png: cannot write the preview (")],
)
def test_augment_preview_unwritable_out_is_one_line_exit_2(tiny_folder, out, expected):
    result = kerashp("augment-preview", "--preset", "lenet5_aug", "--set", f"data.source=folder:{tiny_folder}", "--n", "4", "--out", out)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"kerashp: error: {expected}"), lines[0]
