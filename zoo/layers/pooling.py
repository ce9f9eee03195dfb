"""Adaptive average pooling with torchvision's bin rule, valid for any input size.

Output cell ``i`` of ``n`` averages input rows ``floor(i * H / n)`` to ``ceil((i + 1) * H / n)``
(exclusive), so a map smaller than the output repeats its cells, as
``torch.nn.AdaptiveAvgPool2d`` does. (``keras.layers.AdaptiveAveragePooling2D`` fails in a
graph when the input is smaller than the output.) Computed as two small matrix products,
so it runs on every backend and converts to LiteRT.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


def adaptive_pool_matrix(in_size: int, out_size: int) -> np.ndarray:
    """The [out_size, in_size] averaging matrix of torchvision's adaptive pooling bins."""
    m = np.zeros((out_size, in_size), dtype="float32")
    for i in range(out_size):
        lo = (i * in_size) // out_size
        hi = math.ceil((i + 1) * in_size / out_size)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


@keras.saving.register_keras_serializable(package="zoo")
class AdaptiveAvgPool2D(keras.layers.Layer):
    """Averages a [B, H, W, C] map into [B, out_h, out_w, C] (H and W must be known).

    Example:
        >>> AdaptiveAvgPool2D((6, 6))(features)  # AlexNet's pooling before the classifier
    """

    def __init__(self, output_size: int | tuple[int, int], **kwargs):
        super().__init__(**kwargs)
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.output_size = tuple(int(s) for s in output_size)

    def build(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        if h is None or w is None:
            raise ValueError(f"{self.name}: adaptive pooling needs a known spatial size, got {input_shape}")
        self._rows = adaptive_pool_matrix(h, self.output_size[0])
        self._cols = adaptive_pool_matrix(w, self.output_size[1])

    def call(self, inputs):
        rows = ops.convert_to_tensor(self._rows, dtype=inputs.dtype)
        cols = ops.convert_to_tensor(self._cols, dtype=inputs.dtype)
        x = ops.einsum("oh,bhwc->bowc", rows, inputs)
        return ops.einsum("pw,bowc->bopc", cols, x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}
