"""Transfer learning from `keras.applications`: a pretrained (or fresh) base under a new classification head.

The head is global average pooling (or, for VGG16 with `keep_dense`, its own fc1-fc2 layers), then
`head` Dense layers with dropout, then "logits". `freeze` picks what trains: "none" everything,
"base" all but the convolutional base, "dense" only the new head.
Pretrained weights expect the input scaling they were trained with (`keras.applications.<model>.
preprocess_input`: "caffe" BGR pixels less the ImageNet mean, or "tf" pixels in [-1, 1]), not the
mean/std normalisation the data pipeline gives every model. A fixed 1x1 convolution in front of the base
converts one into the other exactly, so `data.normalize = "imagenet"` serves every pretrained model.
"""

from __future__ import annotations

import os

import keras
import numpy as np
from keras import layers

from kerashp.config.preset import ModelSection
from kerashp.data.normalize import IMAGENET_MEAN, IMAGENET_STD
from kerashp.errors import UserError
from kerashp.models.blocks import classifier, dense_stack

HEAD_INITIALIZER = "glorot_uniform"
# How each application's ImageNet weights want their input (keras.applications.<model>.preprocess_input).
PREPROCESSING = {"vgg16": "caffe", "resnet50": "caffe", "mobilenet_v2": "tf"}
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# Messages of keras.utils.get_file when a download fails or arrives corrupted.
_DOWNLOAD_FAILURES = ("URL fetch failure", "Incomplete or corrupted file")


def vgg16(options: ModelSection, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    dense = ("fc1", "fc2") if options["keep_dense"] else ()
    return _build("vgg16", keras.applications.VGG16, options, input_shape, num_classes, pretrained_dense=dense)


def resnet50(options: ModelSection, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    return _build("resnet50", keras.applications.ResNet50, options, input_shape, num_classes)


def mobilenet_v2(options: ModelSection, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    return _build("mobilenet_v2", keras.applications.MobileNetV2, options, input_shape, num_classes)


def _build(name, application, options, input_shape, num_classes, pretrained_dense: tuple[str, ...] = ()):
    """`pretrained_dense` names the application's own dense layers to keep below the new head."""
    inputs = keras.Input(input_shape)
    include_top = bool(pretrained_dense)
    if options["weights"] == "imagenet":
        # Keras loads ImageNet weights layer by layer in order, so they go into a plain base first and
        # are copied by name into the base behind the conversion layer (a layer it does not expect).
        pretrained = _load(name, application, include_top=include_top, input_shape=input_shape)
        base = application(
            weights=None, include_top=include_top, input_tensor=_pretrained_input(inputs, PREPROCESSING[name])
        )
        for layer in pretrained.layers:
            if layer.weights:
                base.get_layer(layer.name).set_weights(layer.get_weights())
    else:
        # the shape comes from the tensor (MobileNetV2 mis-checks a channels-first `input_shape` given beside it)
        base = application(weights=None, include_top=include_top, input_tensor=inputs)
    frozen = {
        "none": [],
        "base": [layer for layer in base.layers if layer.name not in pretrained_dense],
        "dense": base.layers,
    }[options["freeze"]]
    for layer in frozen:
        layer.trainable = False
    if pretrained_dense:
        x = base.get_layer(pretrained_dense[-1]).output
    else:
        x = layers.GlobalAveragePooling2D()(base.output)
    x = dense_stack(
        x,
        options["head"],
        dropout=options["dropout"],
        batch_norm=False,
        activation="relu",
        initializer=HEAD_INITIALIZER,
    )
    return classifier(inputs, x, num_classes, HEAD_INITIALIZER, name=name)


def _pretrained_input(inputs, mode: str):
    """`inputs` normalised with ImageNet's mean/std (RGB), converted to what `mode` weights were trained on."""
    convert = layers.Conv2D(3, 1, name="imagenet_preprocessing", trainable=False)
    outputs = convert(inputs)
    convert.set_weights(imagenet_conversion(mode))
    return outputs


def imagenet_conversion(mode: str) -> list[np.ndarray]:
    """Kernel (1, 1, 3, 3) and bias of the 1x1 convolution from normalised RGB x = (p - mean) / std,
    with p in [0, 1], to "caffe" input (255 p in BGR order less the BGR mean) or "tf" input (2 p - 1)."""
    mean, std = np.asarray(IMAGENET_MEAN), np.asarray(IMAGENET_STD)
    kernel = np.zeros((3, 3))
    if mode == "caffe":
        bgr = [2, 1, 0]  # output channel j reads input channel bgr[j]
        kernel[bgr, [0, 1, 2]] = 255 * std[bgr]
        bias = 255 * mean[bgr] - np.asarray(CAFFE_MEAN_BGR)
    else:
        kernel[[0, 1, 2], [0, 1, 2]] = 2 * std
        bias = 2 * mean - 1
    return [kernel.reshape(1, 1, 3, 3).astype("float32"), bias.astype("float32")]


def _load(name: str, application, **kwargs) -> keras.Model:
    """The application with its ImageNet weights, turning a failed download into a UserError."""
    try:
        return application(weights="imagenet", **kwargs)
    except Exception as exc:
        if not (isinstance(exc, OSError) or str(exc).startswith(_DOWNLOAD_FAILURES)):
            raise
        cache = os.path.join(os.environ.get("KERAS_HOME", "~/.keras"), "models")
        reason = " ".join(str(exc).split())
        raise UserError(
            f'model.weights = "imagenet": could not download the pretrained {name} weights ({reason}); '
            f"Keras keeps them in {cache} once downloaded (copy the file there on an offline machine), "
            'or set model.weights = "none" to train from scratch'
        ) from exc
