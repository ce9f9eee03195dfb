"""``zoo.info(name)``: what a user asks of a model before using it.

Builds the model once (random weights, default input size) to count parameters and
multiply-accumulates, and merges the registry's reference numbers, stating whether the
built count matches the reference.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import keras

from zoo.registry import entry


def _spatial(shape: Any) -> int:
    dims = [d for d in tuple(shape)[1:-1]]
    if any(d is None for d in dims):
        raise ValueError("unknown spatial size")
    return math.prod(dims) if dims else 1


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one forward pass for one input (convolutions and dense layers).

    Counts Conv1D/2D/3D (grouped and depthwise too), Conv2DTranspose and Dense, recursing
    into nested models; element-wise layers, pooling and normalisation are not counted
    (the convention of torchvision's GFLOPS and most papers' tables).
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_macs(layer)
            continue
        if not layer.weights:
            continue
        try:
            out_shape = layer.output.shape
            in_shape = layer.input.shape
        except (AttributeError, ValueError):
            continue
        if isinstance(layer, keras.layers.Conv2DTranspose):
            k = math.prod(layer.kernel_size)
            total += _spatial(in_shape) * in_shape[-1] * k * layer.filters
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            total += _spatial(out_shape) * out_shape[-1] * math.prod(layer.kernel_size)
        elif isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
            k = math.prod(layer.kernel_size)
            total += _spatial(out_shape) * layer.filters * k * (in_shape[-1] // layer.groups)
        elif isinstance(layer, keras.layers.Dense):
            rows = math.prod(d for d in out_shape[1:-1] if d is not None) if len(out_shape) > 2 else 1
            total += rows * in_shape[-1] * layer.units
    return int(total)


@functools.cache
def _measure(name: str) -> dict[str, Any]:
    model = entry(name).builder()
    trainable = int(sum(math.prod(w.shape) for w in model.trainable_weights))
    out: dict[str, Any] = {"num_params": int(model.count_params()), "num_trainable_params": trainable}
    try:
        macs = count_macs(model)
        out.update(macs=macs, flops=2 * macs, gflops=round(2 * macs / 1e9, 3))
    except ValueError:
        out.update(macs=None, flops=None, gflops=None)
    del model
    keras.backend.clear_session()
    return out


def info(name: str, measure: bool = True) -> dict[str, Any]:
    """Describes a registered model.

    Args:
        name: registered model name.
        measure: build the model to count parameters and FLOPs (cached per process).

    Returns:
        A dict with ``name``, ``task``, ``family``, ``paper``, ``input_shape``, ``weights``
        (named weight sets besides None and a path), ``preprocess``, ``references`` (published
        numbers with their source), ``torchvision_weights`` where torchvision publishes
        checkpoints (file, URL, metrics such as ImageNet acc@1/acc@5 or COCO box mAP, transforms), and when measured ``num_params``, ``num_trainable_params``,
        ``macs``/``flops``/``gflops`` per image at the default input size and
        ``matches_reference`` (which built count equals the reference, or False).

    Example:
        >>> zoo.info("vgg16")["num_params"]
        138357544
    """
    e = entry(name)
    result: dict[str, Any] = {
        "name": e.name,
        "task": e.task,
        "family": e.family,
        "paper": e.paper,
        "input_shape": e.input_shape,
        "weights": [None, *e.weights, "<path>"],
        "preprocess": e.preprocess,
        "references": dict(e.references),
        "doc": (e.builder.__doc__ or "").strip().split("\n")[0],
    }
    if e.references.get("torchvision_model"):
        from zoo.weights_torch import weight_sets

        sets = weight_sets(e.references["torchvision_model"])
        result["torchvision_weights"] = [w.describe() for w in sets.values()]
    if measure:
        result.update(_measure(name))
        ref = e.references.get("num_params")
        if ref is None:
            result["matches_reference"] = None
        elif ref == result["num_params"]:
            result["matches_reference"] = "num_params"
        elif ref == result["num_trainable_params"]:
            result["matches_reference"] = "num_trainable_params"
        else:
            result["matches_reference"] = False
    return result
