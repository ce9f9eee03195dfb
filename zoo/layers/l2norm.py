"""L2 normalisation with a learned per-channel scale (ParseNet; SSD's ``conv4_3_norm``).

    y[..., c] = gamma[c] * x[..., c] / sqrt(sum_c' x[..., c']^2 + eps)

Liu et al., "ParseNet: Looking Wider to See Better" (2015), section 3.3, and Liu et al.,
"SSD: Single Shot MultiBox Detector" (ECCV 2016), section 3.1: conv4_3's features have a
different scale from the deeper layers, so SSD L2-normalises each position over the channel
axis and multiplies by a learned per-channel scale initialised to 20.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class L2Normalization(keras.layers.Layer):
    """L2-normalises the last (channel) axis and multiplies by a learned per-channel scale.

    Args:
        scale: initial value of every channel's scale gamma (SSD: 20).
        epsilon: added to the sum of squares before the square root (an all-zero position stays 0).
        trainable_scale: whether gamma is learned (SSD: yes).

    Example:
        >>> x = L2Normalization(scale=20.0, name="conv4_3_norm")(conv4_3)
    """

    def __init__(self, scale: float = 20.0, epsilon: float = 1e-10, trainable_scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        if not float(scale) > 0:
            raise ValueError(f"L2Normalization scale must be positive, got {scale}")
        if not float(epsilon) > 0:
            raise ValueError(f"L2Normalization epsilon must be positive, got {epsilon}")
        self.scale = float(scale)
        self.epsilon = float(epsilon)
        self.trainable_scale = bool(trainable_scale)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"L2Normalization needs a known channel count, got input shape {input_shape}")
        self.gamma = self.add_weight(
            name="gamma",
            shape=(channels,),
            initializer=keras.initializers.Constant(self.scale),
            trainable=self.trainable_scale,
        )

    def call(self, inputs):
        squares = ops.sum(ops.square(inputs), axis=-1, keepdims=True)
        return inputs * ops.rsqrt(squares + self.epsilon) * self.gamma

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "epsilon": self.epsilon,
            "trainable_scale": self.trainable_scale,
        }
