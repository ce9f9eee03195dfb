"""Local Response Normalization (AlexNet, Krizhevsky et al. 2012, section 3.3).

    b[x, y, i] = a[x, y, i] / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a[x, y, j]^2) ^ beta

with the paper's constants k=2, n=5, alpha=1e-4, beta=0.75. Note that the paper's alpha
multiplies the plain sum (as written above and in the course material), while Caffe and
``tf.nn.local_response_normalization`` conventions differ (Caffe divides alpha by n); this
layer follows the paper's formula.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class LocalResponseNormalization(keras.layers.Layer):
    """Across-channel LRN over the last axis (channels-last).

    Args:
        depth: n, the number of adjacent channels summed (odd; the window is n//2 each side).
        k: bias k.
        alpha: scale alpha (multiplies the plain sum of squares, as in the paper).
        beta: exponent beta.

    Example:
        >>> x = LocalResponseNormalization(depth=5, k=2.0, alpha=1e-4, beta=0.75)(features)
    """

    def __init__(self, depth: int = 5, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        if depth < 1 or depth % 2 == 0:
            raise ValueError(f"LRN depth n must be a positive odd integer, got {depth}")
        self.depth = int(depth)
        self.k = float(k)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs):
        half = self.depth // 2
        squared = ops.square(inputs)
        # Pad the channel axis and sum a sliding window of n channels.
        pad = [[0, 0]] * (len(inputs.shape) - 1) + [[half, half]]
        padded = ops.pad(squared, pad)
        channels = inputs.shape[-1]
        total = padded[..., 0:channels]
        for offset in range(1, self.depth):
            total = total + padded[..., offset : offset + channels]
        return inputs / ops.power(self.k + self.alpha * total, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "depth": self.depth,
            "k": self.k,
            "alpha": self.alpha,
            "beta": self.beta,
        }
