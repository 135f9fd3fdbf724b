"""The tfds path end to end, with no network: `kerashp_tiny`, a builder of the tests' own
(tests/fixtures/kerashp_test_builders, found through $KERASHP_TFDS_MODULES as a user's would be),
is prepared on first use by the subprocess `kerashp data prepare` runs, then trained on through
`tfds.data_source` by a training process that never imports TensorFlow."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow") is None, reason="preparing needs the prepare extra (TensorFlow)"
    ),
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# any download attempt fails at once instead of reaching (or waiting on) the network
NO_NETWORK = {name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
# runs the CLI in this process, then says whether anything imported TensorFlow along the way
TRAIN_AND_TELL = """
import json, sys
from kerashp.cli import main
code = main(sys.argv[1:])
print(json.dumps({"tensorflow_imported": "tensorflow" in sys.modules}))
sys.exit(code)
"""


@pytest.fixture
def environment(tmp_path) -> dict:
    path = os.pathsep.join(filter(None, [str(FIXTURES), os.environ.get("PYTHONPATH")]))
    return dict(
        os.environ, PYTHONPATH=path, KERASHP_TFDS_MODULES="kerashp_test_builders",
        TFDS_DATA_DIR=str(tmp_path / "tfds"), COLUMNS="80", **NO_NETWORK,
    )


def run(*command: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=timeout, env=env)


def test_a_builder_of_our_own_is_prepared_on_first_use_and_trained_on_without_tensorflow(tmp_path, environment):
    runs = tmp_path / "runs"
    result = run(
        "-c", TRAIN_AND_TELL, "train", "--preset", "lenet5", "--set", "data.source=tfds:kerashp_tiny",
        "--set", "train.epochs=1", "--set", "train.batch_size=8", "--set", "data.validation=6",
        "--runs-dir", str(runs), env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    data_dir = Path(environment["TFDS_DATA_DIR"])
    assert f"preparing tfds:kerashp_tiny in {data_dir} (can take minutes)..." in result.stderr
    assert sorted(p.name.split(".")[0] for p in (data_dir / "kerashp_tiny" / "1.0.0").glob("*.array_record*")) == [
        "kerashp_tiny-test", "kerashp_tiny-train",
    ]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"tensorflow_imported": False}, (
        "the training process imported TensorFlow (Keras's set_random_seed does whenever it is installed)"
    )
    (run_dir,) = runs.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_done"] == 1
    assert summary["test"]["accuracy"] > 0  # 18 test images of 3 colour classes were read and evaluated

    listing = run("-m", "kerashp.cli", "data", "list", env=environment, timeout=60)
    assert listing.returncode == 0 and "tfds:kerashp_tiny" in listing.stdout and "1.0.0" in listing.stdout
    assert max(map(len, listing.stdout.splitlines())) <= 80, listing.stdout


def test_a_download_that_cannot_connect_fails_in_one_line_within_seconds(environment):
    """`kerashp_unreachable` lists no URLs to probe beforehand, so the prepare subprocess itself meets
    the dead host: it must give up after a few quick retries (tfds's own ten take ~3.5 minutes)."""
    start = time.monotonic()
    result = run("-m", "kerashp.cli", "data", "prepare", "kerashp_unreachable", env=environment, timeout=150)
    elapsed = time.monotonic() - start
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "Retrying" not in result.stderr and lines[-1].startswith(
        f"kerashp: error: tfds:kerashp_unreachable: not prepared in {environment['TFDS_DATA_DIR']} "
        "and preparing it failed ("
    ), lines[-1]
    assert "Connection refused" in lines[-1] and "use a folder source (--set data.source=folder:PATH)" in lines[-1]
    assert elapsed < 120, elapsed  # the import of TensorFlow on a loaded machine, plus about a second of retries
