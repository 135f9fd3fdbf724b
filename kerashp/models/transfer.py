"""Transfer learning from `keras.applications`: a pretrained (or fresh) base under a new classification head.

The head is global average pooling (or, for VGG16 with `keep_dense`, its own fc1-fc2 layers), then
`head` Dense layers with dropout, then "logits". `freeze` picks what trains: "none" everything,
"base" all but the convolutional base, "dense" only the new head.
The ImageNet weights expect their own input scaling (`keras.applications.<model>.preprocess_input`);
the data pipeline's normalization is used as it is.
"""

from __future__ import annotations

import os

import keras
from keras import layers

from kerashp.errors import UserError
from kerashp.models.blocks import classifier, dense_stack

HEAD_INITIALIZER = "glorot_uniform"
# Messages of keras.utils.get_file when a download fails or arrives corrupted.
_DOWNLOAD_FAILURES = ("URL fetch failure", "Incomplete or corrupted file")


def vgg16(options: dict, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    dense = ("fc1", "fc2") if options["keep_dense"] else ()
    return _build("vgg16", keras.applications.VGG16, options, input_shape, num_classes, pretrained_dense=dense)


def resnet50(options: dict, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    return _build("resnet50", keras.applications.ResNet50, options, input_shape, num_classes)


def mobilenet_v2(options: dict, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    return _build("mobilenet_v2", keras.applications.MobileNetV2, options, input_shape, num_classes)


def _build(name, application, options, input_shape, num_classes, pretrained_dense: tuple[str, ...] = ()):
    """`pretrained_dense` names the application's own dense layers to keep below the new head."""
    base = _load(name, application, options["weights"], include_top=bool(pretrained_dense), input_shape=input_shape)
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
    return classifier(base.input, x, num_classes, HEAD_INITIALIZER, name=name)


def _load(name: str, application, weights: str, **kwargs) -> keras.Model:
    """The application with `weights` ("imagenet" or "none"), turning a failed download into a UserError."""
    try:
        return application(weights=None if weights == "none" else weights, **kwargs)
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
