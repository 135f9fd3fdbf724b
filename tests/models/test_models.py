"""The model zoo: parameter counts that reproduce the studies, and one real training step per model on the CPU."""

import itertools
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest

from kerashp.config.model_table import MODEL_OPTIONS
from kerashp.errors import UserError
from kerashp.models import DATA_FORMAT, build_model, native_input_size

CIFAR = (32, 32, 3)
IMAGENET = (224, 224, 3)


def options(name: str, **overrides) -> dict:
    """Every declared option, checked by its field as a preset's would be, with `overrides` applied."""
    fields = MODEL_OPTIONS[name]
    assert set(overrides) <= set(fields), f"unknown options for {name}: {set(overrides) - set(fields)}"
    return {key: field.check(overrides.get(key, field.default)) for key, field in fields.items()}


def build(name: str, input_shape=CIFAR, num_classes: int = 10, **overrides) -> keras.Model:
    return build_model(name, options(name, **overrides), input_shape, num_classes)


def trainable(model: keras.Model) -> int:
    """Trainable parameters, as PyTorch summaries count them (no batch-norm moving statistics)."""
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def dense(inputs: int, units: int) -> int:
    return inputs * units + units


# name -> (options, input shape, classes, batch) for one training step; the 224x224 models at batch 2
TRAIN_CASES = {
    "lenet5": ({"batch_norm": True}, CIFAR, 10, 4),
    "vgg": ({}, CIFAR, 10, 4),
    "mobilenet": ({"alpha": 0.5, "dropout": 0.2}, CIFAR, 100, 4),
    "resnet": ({"stages": [16, 32, 64], "blocks": 3, "skip_pool": True}, CIFAR, 10, 4),
    "mlp": ({"batch_norm": True, "dropout": 0.2}, CIFAR, 10, 4),
    "alexnet": ({"batch_norm": True}, IMAGENET, 10, 2),
    "vgg16": ({"weights": "none"}, IMAGENET, 10, 2),
    "resnet50": ({"weights": "none", "freeze": "none"}, IMAGENET, 10, 2),
    "mobilenet_v2": ({"weights": "none"}, IMAGENET, 10, 2),
}


def test_every_catalog_model_is_trained_below():
    assert set(TRAIN_CASES) == set(MODEL_OPTIONS)


@pytest.mark.parametrize("name", TRAIN_CASES)
def test_one_training_step(name):
    overrides, input_shape, num_classes, batch = TRAIN_CASES[name]
    assert native_input_size(name) == (224 if input_shape == IMAGENET else None)
    model = build(name, input_shape, num_classes, **overrides)
    assert model.get_layer("logits").output.shape == (None, num_classes)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, *model.input_shape[1:])).astype("float32")
    y = keras.utils.to_categorical(rng.integers(num_classes, size=batch), num_classes)
    model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert model.predict_on_batch(x).shape == (batch, num_classes)


def test_lenet5_count_matches_the_study():
    model = build("lenet5", batch_norm=False, activation="relu", dropout=0.0, initializer="glorot_uniform")
    assert model.count_params() == 62_006


def test_mlp_count_by_hand():
    assert build("mlp", hidden=[50, 30]).count_params() == dense(3072, 50) + dense(50, 30) + dense(30, 10)
    # with batch norm the hidden Dense layers drop their bias; each norm holds 4 numbers per unit
    with_norm = 3072 * 50 + 4 * 50 + 50 * 30 + 4 * 30 + dense(30, 10)
    assert build("mlp", hidden=[50, 30], batch_norm=True).count_params() == with_norm


def test_vgg19_study_variant_count():
    convs = [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512]
    channels = [3, *convs]
    conv_params = sum(9 * c_in * c_out + c_out for c_in, c_out in itertools.pairwise(channels))
    dense_params = dense(512, 4096) + dense(4096, 1024) + dense(1024, 128) + dense(128, 10)
    assert build("vgg").count_params() == conv_params + dense_params == 26_453_450


def test_mobilenet_has_the_imagenet_layers():
    """Only strides change for 32x32, so the count is keras.applications.MobileNet's plus the new logits."""
    for alpha in (1.0, 0.5):
        model = build("mobilenet", num_classes=100, alpha=alpha)
        keras.config.set_image_data_format(DATA_FORMAT)
        try:
            base = keras.applications.MobileNet(input_shape=model.input_shape[1:], alpha=alpha, include_top=False, weights=None)
        finally:
            keras.config.set_image_data_format("channels_last")
        assert model.count_params() == base.count_params() + dense(int(1024 * alpha), 100)


@pytest.mark.parametrize(
    ("stages", "blocks", "target", "tolerance"),
    [
        ([64, 128, 256, 512], 2, 11_173_962, 0.0),  # ResNet-18 as the PyTorch CIFAR code counts it
        ([64, 192, 192, 256], 2, 4_901_962, 0.01),  # 5M-parameter study, 4 stages
        ([64, 128, 144, 192, 256], [2, 2, 2, 2, 2], 4_960_234, 0.01),  # 5M-parameter study, 5 stages
        ([16, 32, 64], 3, 270_000, 0.02),  # ResNet-20, He et al.'s ~0.27M
    ],
)
def test_resnet_counts(stages, blocks, target, tolerance):
    model = build("resnet", stages=stages, blocks=blocks, skip_pool=True)
    assert abs(trainable(model) - target) <= tolerance * target
    assert abs(model.count_params() - target) <= max(tolerance, 0.01) * target


def test_resnet_blocks_must_match_stages():
    with pytest.raises(UserError, match="one count per stage"):
        build("resnet", stages=[16, 32, 64], blocks=[3, 3])


def test_catalog_fields_for_depth_and_blocks():
    depth, blocks = MODEL_OPTIONS["vgg"]["depth"], MODEL_OPTIONS["resnet"]["blocks"]
    assert depth.check(16) == 16
    with pytest.raises(ValueError, match="allowed: 11, 13, 16, 19"):
        depth.check(12)
    assert blocks.check(3) == 3 and blocks.check([2, 1]) == [2, 1]
    for bad in (0, [2, 0], "2"):
        with pytest.raises(ValueError, match="an integer >= 1, or a list"):
            blocks.check(bad)


@pytest.mark.parametrize(("freeze", "trains_fc"), [("none", None), ("base", True), ("dense", False)])
def test_vgg16_freeze_keeps_what_it_says(freeze, trains_fc):
    """At 64x64 VGG16's own fc1 takes 2x2x512 inputs, which keeps this test small."""
    model = build("vgg16", (64, 64, 3), weights="none", freeze=freeze, keep_dense=True, head=[32])
    head = dense(4096, 32) + dense(32, 10)
    fc = dense(2 * 2 * 512, 4096) + dense(4096, 4096)
    expected = model.count_params() if trains_fc is None else head + (fc if trains_fc else 0)
    assert trainable(model) == expected


def test_failed_weights_download_is_one_clear_line(monkeypatch):
    def offline(fname, origin, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", offline)  # where keras.applications downloads
    with pytest.raises(UserError) as caught:
        build("mobilenet_v2", IMAGENET, weights="imagenet")
    message = str(caught.value)
    assert "\n" not in message
    assert "could not download the pretrained mobilenet_v2 weights" in message
    assert ".keras/models" in message and 'model.weights = "none"' in message


@pytest.mark.skipif(
    not os.environ.get("KERASHP_NETWORK_TESTS"),
    reason="downloads ImageNet weights; set KERASHP_NETWORK_TESTS=1 where the network is reachable",
)
def test_imagenet_weights_load():
    model = build("mobilenet_v2", IMAGENET, weights="imagenet", freeze="dense")
    assert trainable(model) == dense(1280, 256) + dense(256, 10)


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "mobilenet_v2"])
def test_pretrained_models_see_the_input_their_weights_were_trained_on(name):
    """ImageNet-normalised batches (data.normalize = "imagenet") reach the base exactly as the
    application's own preprocess_input would have prepared the raw pixels."""
    from kerashp.data.normalize import IMAGENET_MEAN, IMAGENET_STD
    from kerashp.models.transfer import PREPROCESSING, imagenet_conversion

    pixels = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype("float32")
    normalised = (pixels / 255 - np.asarray(IMAGENET_MEAN)) / np.asarray(IMAGENET_STD)
    kernel, bias = imagenet_conversion(PREPROCESSING[name])
    converted = np.einsum("bhwi,io->bhwo", normalised, kernel[0, 0]) + bias
    expected = getattr(keras.applications, name).preprocess_input(pixels.copy())
    np.testing.assert_allclose(converted, keras.ops.convert_to_numpy(expected), atol=1e-3)


def test_imagenet_weights_reach_the_base_behind_the_conversion_layer(monkeypatch, tmp_path):
    """A legacy .h5 file like the ones keras.applications downloads (random weights stand in for
    ImageNet's) loads into the base, and the conversion layer in front of it never trains."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    from kerashp.models.transfer import imagenet_conversion

    saved = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = tmp_path / "mobilenet_v2.h5"
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, saved)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", lambda *args, **kwargs: str(path))
    model = build("mobilenet_v2", (32, 32, 3), weights="imagenet", freeze="none")
    for layer in (layer for layer in saved.layers if layer.weights):
        for expected, loaded in zip(layer.get_weights(), model.get_layer(layer.name).get_weights(), strict=True):
            np.testing.assert_array_equal(loaded, expected)
    conversion = model.get_layer("imagenet_preprocessing")
    assert not conversion.trainable
    np.testing.assert_allclose(conversion.get_weights()[1], imagenet_conversion("tf")[1])
    assert "imagenet_preprocessing" not in [layer.name for layer in build("mobilenet_v2", (32, 32, 3), weights="none").layers]
