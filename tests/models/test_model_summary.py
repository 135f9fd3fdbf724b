"""`kerashp summary`: parameters and multiply-accumulates checked against hand computations."""

from __future__ import annotations

import keras
from keras import layers

from kerashp.cli import main
from kerashp.config import load_preset
from kerashp.models.summary import summarize, summarize_preset

CIFAR = (32, 32, 3)
# MobileNet's (pointwise filters, stride) per depthwise-separable block, from Howard et al. 2017
MOBILENET_BLOCKS = ((64, 1), (128, 1), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1))


def test_lenet5_per_layer_and_totals_match_the_lenet5_study():
    summary = summarize_preset(load_preset("lenet5", ["model.batch_norm=false"]), CIFAR, 10)
    weighted = [(row.kind, row.parameters, row.macs) for row in summary.rows if row.parameters]
    assert weighted == [
        ("Conv2D", 5 * 5 * 3 * 6 + 6, 28 * 28 * 6 * 5 * 5 * 3),  # 456, 352,800
        ("Conv2D", 5 * 5 * 6 * 16 + 16, 10 * 10 * 16 * 5 * 5 * 6),  # 2,416, 240,000
        ("Dense", 400 * 120 + 120, 400 * 120),
        ("Dense", 120 * 84 + 84, 120 * 84),
        ("Dense", 84 * 10 + 10, 84 * 10),
    ]
    assert summary.parameters == summary.trainable == 62_006
    assert summary.macs == 651_720
    assert [row.output_shape for row in summary.rows if row.kind == "Dense"] == [(120,), (84,), (10,)]
    # the model is channels-first, but image shapes read (H, W, C) like --input-shape
    assert summary.input_shape == CIFAR and [row.output_shape for row in summary.rows if row.kind == "Conv2D"] == [(28, 28, 6), (10, 10, 16)]


def test_mobilenet_macs_follow_the_papers_cost_formula():
    """Howard et al.: a depthwise-separable layer costs D_F^2 (D_K^2 M + M N) on a D_F x D_F map."""
    side, channels = 32, 32
    expected = side * side * 3 * 3 * 3 * channels  # the stem: a full 3x3 convolution, stride 1 here
    for filters, stride in MOBILENET_BLOCKS:
        side //= stride
        expected += side * side * (3 * 3 * channels + channels * filters)
        channels = filters
    expected += 1024 * 100  # the logits
    summary = summarize_preset(load_preset("mobilenet_cifar100"), CIFAR, 100)
    assert summary.macs == expected == 175_648_768
    assert sum(row.kind == "DepthwiseConv2D" for row in summary.rows) == len(MOBILENET_BLOCKS)
    assert summary.parameters > summary.trainable  # batch norm's moving statistics do not train


def test_separable_grouped_dense_and_nested_layers():
    inputs = keras.Input((8, 8, 4))
    x = layers.SeparableConv2D(6, 3, padding="same", depth_multiplier=2, data_format="channels_last")(inputs)
    x = layers.Conv2D(6, 1, groups=2, data_format="channels_last")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Dense(5)(x)  # applied at each of the 64 positions
    inner = keras.Sequential([keras.Input((8, 8, 5)), layers.Dense(3)], name="inner")
    model = keras.Model(inputs, inner(x), name="mixed")
    summary = summarize(model)
    macs = {row.name: row.macs for row in summary.rows}
    assert macs[model.layers[1].name] == 64 * (3 * 3 * 4 * 2 + 4 * 2 * 6)  # depthwise + pointwise
    assert macs[model.layers[2].name] == 64 * 6 * (6 // 2)  # each output channel sees half the inputs
    assert macs[model.layers[3].name] == 0  # batch norm folds into the convolution at inference
    assert macs[model.layers[4].name] == 64 * 6 * 5
    assert macs["inner"] == 64 * 5 * 3 and [row.depth for row in summary.rows if row.kind == "Dense"] == [0, 1]
    assert summary.macs == 7680 + 1152 + 1920 + 960
    assert summary.parameters == model.count_params()


def test_summary_command_prints_the_study_figures(tiny_folder, capsys):
    argv = ["summary", "--preset", "lenet5", "--set", "model.batch_norm=false", "--set", f"data.source=folder:{tiny_folder}"]
    assert main([*argv, "--classes", "10"]) == 0
    out = capsys.readouterr().out
    assert "62,006" in out and "651,720" in out and "352,800" in out and "MaxPooling2D" in out
    assert "preset lenet5: model lenet5, input 32 x 32 x 3 (H x W x C), 10 classes" in out and "(28, 28, 6)" in out
    assert main(argv) == 0  # 4 classes, from the folder: the logits shrink
    out = capsys.readouterr().out
    assert f"{62_006 - 6 * 85:,}" in out and f"{651_720 - 6 * 84:,}" in out
