"""ResNet's parameter-free shortcut, option A (He et al., "Deep Residual Learning for Image
Recognition", CVPR 2016, section 3.3): "the shortcut still performs identity mapping, with
extra zero entries padded for increasing dimensions ... when the shortcuts go across feature
maps of two sizes, they are performed with a stride of 2".
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class ZeroPadShortcut(keras.layers.Layer):
    """Identity shortcut that subsamples by ``strides`` and zero-pads channels to ``filters``.

    ``y[:, i, j, c] = x[:, i * s, j * s, c]`` for ``c < C_in`` and 0 for ``C_in <= c < filters``
    (channels-last). No weights.

    Args:
        filters: number of output channels (>= the input's).
        strides: spatial subsampling factor (1 or 2 in ResNet).

    Example:
        >>> shortcut = ZeroPadShortcut(filters=128, strides=2)(x)  # (N, 56, 56, 64) -> (N, 28, 28, 128)
    """

    def __init__(self, filters: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        if int(filters) < 1 or int(strides) < 1:
            raise ValueError(
                f"filters and strides must be positive, got filters={filters}, strides={strides}"
            )
        self.filters = int(filters)
        self.strides = int(strides)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels > self.filters:
            raise ValueError(
                f"{self.name}: ZeroPadShortcut needs a known input channel count <= filters={self.filters}, "
                f"got input shape {tuple(input_shape)}"
            )
        super().build(input_shape)

    def call(self, inputs):
        s = self.strides
        x = inputs[:, ::s, ::s, :] if s > 1 else inputs
        extra = self.filters - inputs.shape[-1]
        if extra:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])
        return x

    def compute_output_shape(self, input_shape):
        def sub(n):
            return None if n is None else -(-n // self.strides)

        return (input_shape[0], sub(input_shape[1]), sub(input_shape[2]), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}
