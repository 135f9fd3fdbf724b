"""`benchmarks/gpu_check.sh --dry-run`: every section of the GPU check runs its CPU-safe part, tiny,
so the script the GPU machine runs is known to work before a GPU is at hand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"
SECTIONS = (
    "versions and warm-up",
    "step throughput",
    "host time a step",
    "input pipeline",
    "lenet5_aug run",
    "torch.compile",
    "CUDA tests",
)


@pytest.mark.timeout(900)  # about a minute on a quiet machine; each section has its own cap in the script
def test_the_dry_run_prints_every_section_and_a_summary(tiny_folder, tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, OUT=str(tmp_path), TMPDIR=str(tmp_path))
    result = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", str(tiny_folder)], capture_output=True, text=True, timeout=900, env=env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    for heading in (*SECTIONS, "search placement", "summary"):
        assert f"== {heading} ==" in result.stdout
    table = result.stdout.split("== summary ==")[1]
    assert "failed" not in table and "timed out" not in table, table
    assert "lenet5_aug: " in result.stdout and "mixed_bfloat16" in result.stdout  # the run's header
    assert (tmp_path / "gpu_check.log").read_text().endswith(result.stdout.splitlines()[-1] + "\n")


def test_a_missing_data_folder_is_refused_in_one_line(tmp_path):
    result = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "nowhere" in result.stderr
