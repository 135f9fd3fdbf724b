"""`kerashp study` and `kerashp augment-preview` refuse a data folder that cannot load before torch
loads, and a refused study leaves no study folder behind."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "keras", "tensorflow")


def run_main(argv: list[str], cwd) -> subprocess.CompletedProcess:
    """`kerashp ARGV` in a fresh interpreter that prints its exit code and the heavy modules it imported."""
    code = (
        "import sys; from kerashp.cli import main\n"
        f"code = main({argv!r})\n"
        f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_a_study_with_a_missing_data_folder_is_refused_before_its_folder_exists(tmp_path):
    result = run_main(["study", "--preset", "lenet5", "--vary", "optimizer.learning_rate=0.1,0.01",
                       "--set", "data.source=folder:/nonexistent", "--studies-dir", "studies"], tmp_path)  # fmt: skip
    assert result.stdout.strip() == "2 []", result.stdout + result.stderr
    assert result.stderr == "kerashp: error: folder:/nonexistent: no such directory\n"
    assert not (tmp_path / "studies").exists()


def test_a_studys_varied_data_source_is_checked_for_every_variant(tiny_folder, tmp_path):
    vary = f'data.source="folder:{tiny_folder}","folder:missing"'
    result = run_main(["study", "--preset", "lenet5", "--vary", vary, "--studies-dir", "studies"], tmp_path)
    assert result.stdout.strip() == "2 []", result.stdout + result.stderr
    assert result.stderr == f"kerashp: error: folder:missing ({tmp_path.resolve() / 'missing'}): no such directory\n"
    assert not (tmp_path / "studies").exists()


def test_augment_preview_refuses_a_missing_data_folder_without_loading_torch(tmp_path):
    argv = ["augment-preview", "--preset", "lenet5_aug", "--set", "data.source=folder:/nonexistent"]
    result = run_main(argv, tmp_path)
    assert result.stdout.strip() == "2 []", result.stdout + result.stderr
    assert result.stderr == "kerashp: error: folder:/nonexistent: no such directory\n"
    assert list(tmp_path.iterdir()) == []
