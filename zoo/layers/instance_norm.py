"""Instance normalisation (Ulyanov, Vedaldi & Lempitsky 2016), used by fast style transfer.

    y[b, h, w, c] = gamma[c] * (x[b, h, w, c] - mu[b, c]) / sqrt(var[b, c] + eps) + beta[c]

with ``mu`` and ``var`` taken over the spatial positions of each image and channel. Equal to
``keras.layers.GroupNormalization(groups=-1)``; written with a two-pass variance so that its
LiteRT conversion (float16 and dynamic-range) stays finite.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class InstanceNormalization(keras.layers.Layer):
    """Normalises every channel of every image over its spatial positions, then scales and shifts.

    Example:
        >>> y = InstanceNormalization(name="down1_in")(x)
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"InstanceNormalization needs a known channel count, got {input_shape}")
        self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")

    def call(self, inputs):
        centred = inputs - ops.mean(inputs, axis=(1, 2), keepdims=True)
        var = ops.mean(ops.square(centred), axis=(1, 2), keepdims=True)
        return centred * ops.rsqrt(var + self.epsilon) * self.gamma + self.beta

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
