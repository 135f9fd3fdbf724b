"""`--compare-reference` compares like with like: the studies counted trainable parameters, Keras's
`count_params` adds batch norm's moving statistics (4,909,002 against the 4-stage ResNet study's
4,901,962), so the table compares the trainable count and shows the total beside it."""

from __future__ import annotations

import json

from kerashp.config import load_preset
from kerashp.models.summary import summarize_preset
from kerashp.report.tables import reference_table


def test_the_4_stage_resnet_has_the_studys_trainable_parameters():
    summary = summarize_preset(load_preset("resnet5m4_cifar10"), (32, 32, 3), 10)
    assert (summary.trainable, summary.parameters) == (4_901_962, 4_909_002)
    assert load_preset("resnet5m4_cifar10")["reference"]["parameters"] == summary.trainable


def test_the_reference_table_compares_trainable_parameters_and_shows_the_total():
    row = {"variant": "resnet5m4", "parameters": 4_909_002, "trainable_parameters": 4_901_962, "val_accuracy": 0.9}
    lines = reference_table([{"parameters": 4_901_962, "val_accuracy": 0.91}], [row], 1)
    assert "| resnet5m4 | parameters | 4,901,962 | 4,901,962 trainable (4,909,002 in all) | 0 |" in lines
    assert "| resnet5m4 | val_accuracy | 0.9100 | 0.9000 | -0.0100 |" in lines


def test_a_run_records_its_trainable_parameters(trained):
    summary = json.loads((trained / "summary.json").read_text())
    assert 0 < summary["trainable_parameters"] < summary["parameters"]  # lenet5's batch norm keeps moving statistics
