"""The classifier: a small strided, depthwise-separable CNN of the SB-CNN family.

SB-CNN (Salamon & Bello 2016) stacks convolution, pooling and dense layers on log-mel windows;
the talk author's Strided-DS variants reach 70.9 % on UrbanSound8K with under 0.5 M MACC by
replacing pooling with strides and full convolutions with depthwise-separable ones. This model
follows them: a strided 5x5 stem, three depthwise-separable blocks (3x3 depthwise, 1x1
pointwise, batch norm, ReLU, 2x2 max pooling), global average pooling, dropout and a softmax
layer. ``width`` scales every layer; the default (24) costs about 3 M MACC for 62x64 windows.
Activations are ReLU6: bounded activations keep int8 quantisation ranges tight, so the int8
model agrees with the float one on more windows.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from keras import layers

from noisefleet_core.features.logmel import FeatureParams


def build_model(
    params: FeatureParams,
    n_classes: int,
    width: int = 24,
    dropout: float = 0.3,
    batch_size: int | None = None,
    bn_momentum: float = 0.99,
) -> keras.Model:
    """The classifier for windows of ``params`` shape; ``batch_size=1`` for int8 export.

    ``bn_momentum`` sets how fast batch normalisation's inference statistics follow training;
    ``fit`` lowers it for small datasets, whose few steps per epoch would otherwise leave them
    near their initial values (validation at chance while training accuracy climbs).
    """
    inputs = keras.Input((params.window_frames, params.n_mels, 1), batch_size=batch_size)
    x = layers.Conv2D(width, 5, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(momentum=bn_momentum)(x)
    x = layers.ReLU(max_value=6.0)(x)
    for multiplier in (2, 2, 4):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.Conv2D(width * multiplier, 1, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=bn_momentum)(x)
        x = layers.ReLU(max_value=6.0)(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="noisefleet_dscnn")


def count_macc(model: keras.Model) -> int:
    """Multiply-accumulates of one inference (convolutions and dense layers)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            kh, kw = layer.kernel_size
            total += int(h * w * c * kh * kw)
        elif isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            c_in = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            total += int(h * w * c_out * kh * kw * c_in)
        elif isinstance(layer, layers.Dense):
            total += int(layer.input.shape[-1] * layer.units)
    return total
