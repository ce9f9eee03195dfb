"""Multitask captcha recognition: one shared convolutional body, one output per character.

Two output layouts from the course material (a 4-digit captcha ``0782``):

- ``captcha_multihead``: ``length`` softmax heads ``char_0`` ... ``char_{length-1}``, each
  over the alphabet ("split into 4 labels, use multitask learning").
- ``captcha_onevector``: one ``length * alphabet``-long sigmoid output (``chars``) trained on
  the concatenated one-hot vectors ("turn the label into a 40-long vector":
  ``1000000000 0000000100 0000000010 0010000000``), decoded by an argmax per group.

Training (joint or alternating), metrics, prediction from a saved run and the comparison of
training modes are an experiment: :mod:`zoo.experiments.captcha`.

Example:
    >>> net = captcha_multihead(input_shape=(32, 80, 1), length=4, num_chars=10)
    >>> scores = stack_outputs(net(images), length=4, num_chars=10)   # [B, 4, 10]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from zoo.registry import register

PAPER = "Multitask captcha recognition (course material: 4 softmax heads vs one 40-long vector)"
OUTPUTS = ("multihead", "onevector")
# Body configurations, as data: (filters, convolutions) per block; a 2x2 max pooling ends each block.
CONFIGS: dict[str, list[tuple[int, int]]] = {
    "small": [(32, 1), (64, 1), (128, 1)],
    "narrow": [(16, 1), (32, 1), (64, 1)],
    "tiny": [(8, 1), (16, 1)],
}


def _body(inputs: Any, config: str, width: float, fc_units: int, dropout: float) -> Any:
    if config not in CONFIGS:
        raise ValueError(f"Unknown captcha body config {config!r}; choose from {', '.join(CONFIGS)}")
    x = inputs
    for b, (filters, convs) in enumerate(CONFIGS[config], start=1):
        for c in range(1, convs + 1):
            x = keras.layers.Conv2D(
                max(1, int(filters * width)), 3, padding="same", use_bias=False, name=f"block{b}_conv{c}"
            )(x)
            x = keras.layers.BatchNormalization(name=f"block{b}_bn{c}")(x)
            x = keras.layers.ReLU(name=f"block{b}_relu{c}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)  # keeps where each character is: heads need positions
    x = keras.layers.Dropout(dropout, name="drop1")(x)
    # batch norm before the ReLU keeps the wide fully connected layer from dying early in training
    x = keras.layers.Dense(fc_units, use_bias=False, name="fc")(x)
    x = keras.layers.BatchNormalization(name="fc_bn")(x)
    x = keras.layers.ReLU(name="fc_relu")(x)
    return keras.layers.Dropout(dropout, name="drop2")(x)


def _check(input_shape: Sequence[int], length: int, num_chars: int) -> tuple[int, int, int]:
    if len(tuple(input_shape)) != 3 or any(s is None for s in input_shape):
        raise ValueError(f"input_shape must be a fixed (height, width, channels), got {input_shape}")
    if length < 1 or num_chars < 2:
        raise ValueError(f"need length >= 1 and num_chars >= 2, got length={length}, num_chars={num_chars}")
    return tuple(int(s) for s in input_shape)


@register(
    "captcha_multihead",
    task="classification",
    paper=PAPER,
    input_shape=(32, 80, 1),
    references={"course_material": "seeds/003: 4 softmax heads on a shared body (multitask learning)"},
)
def captcha_multihead(
    input_shape: Sequence[int] = (32, 80, 1),
    length: int = 4,
    num_chars: int = 10,
    config: str = "small",
    width: float = 1.0,
    fc_units: int = 256,
    dropout: float = 0.3,
) -> keras.Model:
    """Shared conv body with ``length`` softmax heads ``char_0``... (outputs: a list, one per character).

    Example:
        >>> net = zoo.get("captcha_multihead", length=4, num_chars=10)
        >>> [o.shape for o in net.outputs]   # 4 x (None, 10)
    """
    inputs = keras.Input(_check(input_shape, length, num_chars), name="image")
    x = _body(inputs, config, width, fc_units, dropout)
    outputs = [
        keras.layers.Dense(num_chars, activation="softmax", name=f"char_{i}")(x) for i in range(length)
    ]
    return keras.Model(inputs, outputs, name="captcha_multihead")


@register(
    "captcha_onevector",
    task="classification",
    paper=PAPER,
    input_shape=(32, 80, 1),
    references={"course_material": "seeds/003: label as one 40-long vector (4 one-hots of 10)"},
)
def captcha_onevector(
    input_shape: Sequence[int] = (32, 80, 1),
    length: int = 4,
    num_chars: int = 10,
    config: str = "small",
    width: float = 1.0,
    fc_units: int = 256,
    dropout: float = 0.3,
) -> keras.Model:
    """Shared conv body with one ``length * num_chars`` sigmoid output ``chars`` (concatenated one-hots).

    Example:
        >>> net = zoo.get("captcha_onevector", length=4, num_chars=10)
        >>> net.output.shape   # (None, 40)
    """
    inputs = keras.Input(_check(input_shape, length, num_chars), name="image")
    x = _body(inputs, config, width, fc_units, dropout)
    out = keras.layers.Dense(length * num_chars, activation="sigmoid", name="chars")(x)
    return keras.Model(inputs, out, name="captcha_onevector")


def output_kind(net: keras.Model) -> str:
    """``"multihead"`` for a model with one output per character, ``"onevector"`` for a single output."""
    return "multihead" if len(net.outputs) > 1 or net.output_names[0].startswith("char_") else "onevector"


def stack_outputs(outputs: Any, length: int, num_chars: int) -> Any:
    """Either model's outputs as one tensor [B, length, num_chars] of per-character scores."""
    if isinstance(outputs, (list, tuple)):
        return ops.stack(list(outputs), axis=1)
    return ops.reshape(outputs, (-1, length, num_chars))
