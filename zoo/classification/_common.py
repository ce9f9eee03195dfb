"""What every classifier builder shares: the keras.applications arguments.

``resolve_classes`` checks ``classes``/``num_classes`` against ``weights``,
``image_input`` turns ``input_shape``/``input_tensor`` into the model's input with a clear
error for sizes the architecture cannot take, ``top`` adds pooling or the classifier, and
``finish`` makes the model and loads its weights.
"""

from __future__ import annotations

import os
from typing import Any

import keras

from zoo.weights import load_weights


def resolve_classes(
    classes: int | None, num_classes: int | None, weights: Any, include_top: bool, has_imagenet: bool
) -> int:
    """Returns the number of classes from the two aliases, rejecting contradictions."""
    if classes is not None and num_classes is not None and classes != num_classes:
        raise ValueError(f"classes={classes} and num_classes={num_classes} disagree; pass one of them")
    n = classes if classes is not None else num_classes if num_classes is not None else 1000
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"classes must be a positive integer, got {n!r}")
    if weights == "imagenet":
        if not has_imagenet:
            raise ValueError("This model has no official ImageNet weights; use weights=None or a file path.")
        if include_top and n != 1000:
            raise ValueError(
                f"weights='imagenet' with include_top=True needs classes=1000, got {n}. "
                "Use include_top=False and add your own head (see zoo.transfer)."
            )
    elif not (weights is None or isinstance(weights, (str, os.PathLike))):
        raise ValueError(f"weights must be None, 'imagenet' or a file path, got {weights!r}")
    return n


def image_input(
    input_shape: tuple[int | None, ...] | None,
    input_tensor: Any,
    *,
    default_size: int,
    min_size: int,
    include_top: bool,
    weights: Any,
    model_name: str,
    fixed_top_size: bool = False,
) -> tuple[Any, Any]:
    """Builds the image input. Returns ``(tensor to build on, model inputs)``.

    Args:
        input_shape: (H, W, C) or None. None gives (default_size, default_size, 3) with a
            top that needs a fixed size, else (None, None, 3).
        input_tensor: optional Keras tensor (or backend tensor) to build on.
        default_size: the paper's input size.
        min_size: the smallest H and W the architecture can take.
        include_top: whether the classifier is included.
        weights: the weights argument (ImageNet tops need the default size).
        model_name: for error messages.
        fixed_top_size: the top flattens a fixed-size map (VGG, AlexNet), so
            include_top=True with ImageNet weights needs exactly ``default_size``.
    """
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    if input_shape is None:
        input_shape = (default_size, default_size, 3) if (include_top or fixed_top_size) else (None, None, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"{model_name}: input_shape must be (height, width, channels), got {input_shape}")
    h, w, c = input_shape
    if c not in (None, 1, 3, 4) or (weights == "imagenet" and c != 3):
        raise ValueError(
            f"{model_name}: input must have 3 channels (1 or 4 without ImageNet weights), got {c}"
        )
    for size in (h, w):
        if size is not None and size < min_size:
            raise ValueError(
                f"{model_name}: input size {h}x{w} is too small; this architecture needs at least "
                f"{min_size}x{min_size} (default {default_size}x{default_size})."
            )
    if include_top and weights == "imagenet" and fixed_top_size and (h, w) != (default_size, default_size):
        raise ValueError(
            f"{model_name}: ImageNet weights with include_top=True need input_shape=({default_size}, "
            f"{default_size}, 3), got {input_shape}. Use include_top=False for other sizes."
        )
    if input_tensor is None:
        img = keras.Input(shape=input_shape, name="image")
        return img, img
    if not keras.backend.is_keras_tensor(input_tensor):
        img = keras.Input(tensor=input_tensor, shape=input_shape, name="image")
        return img, img
    return input_tensor, keras.utils.get_source_inputs(input_tensor)


def pool(x: Any, pooling: str | None) -> Any:
    """Global pooling for ``include_top=False``: None (4-D features), ``"avg"`` or ``"max"``."""
    if pooling is None:
        return x
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")


def finish(
    inputs: Any,
    outputs: Any,
    *,
    name: str,
    weights: Any,
    arch: str | None,
    include_top: bool,
) -> keras.Model:
    """Makes the functional model and applies ``weights`` (None, ``"imagenet"`` or a path)."""
    model = keras.Model(inputs, outputs, name=name)
    return load_weights(model, weights, arch=arch, include_top=include_top)
