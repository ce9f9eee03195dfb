"""Gradient reversal (Ganin and Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015).

The identity in the forward pass; in the backward pass the gradient is multiplied by
``-lambda``. Placed between a shared feature extractor and a domain classifier, it makes the
features maximise the domain classifier's loss while the classifier minimises it.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def _reverse(x: Any, lam: Any) -> Any:
    """Identity on ``x`` whose gradient is ``-lam`` times the incoming one (``lam`` is a constant)."""

    @ops.custom_gradient
    def forward(x):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.negative(ops.cast(lam, upstream.dtype)) * upstream

        return ops.copy(x), grad

    return forward(x)


@keras.saving.register_keras_serializable(package="zoo")
class GradientReversal(keras.layers.Layer):
    """Identity forward, gradient times ``-lambda_`` backward (keras.ops custom gradient).

    ``lambda_`` is a non-trainable variable, so a callback can follow a schedule during
    training (:func:`zoo.domain.dann_lambda`), and it is saved with the weights.

    Args:
        lambda_: the initial reversal strength (0 lets no gradient through to the features).

    Example:
        >>> grl = GradientReversal(lambda_=1.0)
        >>> y = grl(x)            # y == x
        >>> grl.set_lambda(0.5)   # d loss / d x becomes -0.5 * d loss / d y
    """

    def __init__(self, lambda_: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.initial_lambda = float(lambda_)
        self.lambda_ = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_lambda),
            trainable=False,
            name="lambda",
        )

    def set_lambda(self, value: float) -> None:
        """Sets the reversal strength used from the next step on."""
        self.lambda_.assign(float(value))

    def call(self, inputs: Any) -> Any:
        return _reverse(inputs, ops.convert_to_tensor(self.lambda_))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "lambda_": self.initial_lambda}
