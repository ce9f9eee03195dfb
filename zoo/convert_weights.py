"""Convert a torchvision checkpoint into a Keras ``.weights.h5`` file once, so later loads need no torch.

``python -m zoo convert-weights resnet50 resnet50-11ad3fa6.pth -o resnet50_tv.weights.h5`` builds
the zoo model in torchvision's layout, loads the ``.pth`` through the model's mapping (every
tensor checked), and writes the weights atomically. The file loads with the same build options,
which the command prints and which :func:`torchvision_options` gives (e.g.
``zoo.get("resnet50", weights="resnet50_tv.weights.h5", layout="torchvision")``).

This module imports the zoo (and TensorFlow) only when a conversion runs.
"""

from __future__ import annotations

import argparse
import inspect
import os
from pathlib import Path
from typing import Any

# The builder options that select torchvision's layout, when a builder has them.
_TORCHVISION_OPTIONS = {"layout": "torchvision", "adaptive_pool": True, "transform_input": True}


def torchvision_options(name: str) -> dict[str, Any]:
    """The options that rebuild ``name`` in the layout its torchvision weights need.

    Example:
        >>> torchvision_options("resnet50")
        {'layout': 'torchvision'}
    """
    import zoo

    params = inspect.signature(zoo.registry.entry(name).builder).parameters
    return {k: v for k, v in _TORCHVISION_OPTIONS.items() if k in params}


def convert_weights(
    name: str, checkpoint: str | os.PathLike, output: str | os.PathLike, **kwargs: Any
) -> Path:
    """Loads torchvision ``checkpoint`` (a ``.pth`` path or a weight-set name) into zoo model ``name``
    and saves its weights to ``output`` (``.weights.h5``), atomically.

    Args:
        name: registered zoo model name.
        checkpoint: ``.pth`` file, or ``"torchvision"`` / ``"IMAGENET1K_V1"`` (from the torch hub cache).
        output: the ``.weights.h5`` file to write.
        **kwargs: further build arguments (e.g. ``include_top=False``).

    Returns:
        The written path.

    Example:
        >>> convert_weights("resnet18", "resnet18-f37072fd.pth", "resnet18.weights.h5")
    """
    import zoo
    from zoo.utils.io import atomic_path

    output = Path(output)
    if not output.name.endswith(".weights.h5"):
        raise ValueError(f"output must end with .weights.h5 (Keras' weight file format), got {output}")
    from zoo.weights import mark_preprocessing

    model = zoo.get(name, weights=str(checkpoint), **{**torchvision_options(name), **kwargs})
    with atomic_path(output) as tmp:
        model.save_weights(tmp)
        # the weights' preprocessing (torchvision's mean/std, not the registry's keras.applications
        # mode) travels in the file, so an export of a later load needs neither torch nor --preprocess
        mark_preprocessing(tmp, getattr(model, "zoo_preprocess", None))
    return output


def add_convert_weights_parser(sub: Any) -> None:
    """Adds ``convert-weights`` to the ``python -m zoo`` sub-parsers."""
    p = sub.add_parser("convert-weights", help="convert a torchvision .pth checkpoint to a Keras .weights.h5")
    p.add_argument("name", help="zoo model name, e.g. resnet50")
    p.add_argument(
        "checkpoint", help="the .pth file (or a torchvision weight-set name such as IMAGENET1K_V1)"
    )
    p.add_argument("-o", "--output", required=True, help="OUT.weights.h5")
    p.set_defaults(func=_cmd_convert_weights)


def _cmd_convert_weights(args: argparse.Namespace) -> int:
    out = convert_weights(args.name, args.checkpoint, args.output)
    options = "".join(f", {k}={v!r}" for k, v in torchvision_options(args.name).items())
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); load with zoo.get({args.name!r}, weights={str(out)!r}{options})"
    )
    return 0
