"""torchvision checkpoints for ``fcn_resnet50`` / ``fcn_resnet101``: the tensor-name mapping, as data.

Example:
    >>> model = load_torchvision_weights(zoo.get("fcn_resnet50", aux=True), "fcn_resnet50", "torchvision")
"""

from __future__ import annotations

import os
from typing import Any

from zoo.classification.resnet import torchvision_rules
from zoo.detection.fpn import DEPTHS
from zoo.weights_torch import Rule, TorchMapping, load_torch_weights


def fcn_resnet_mapping(depth: int, aux: bool) -> TorchMapping:
    """``backbone.*`` (torchvision's ResNet), ``classifier.{0,1,4}`` and ``aux_classifier.{0,1,4}``."""
    rows = torchvision_rules("bottleneck", DEPTHS[depth], "backbone.")
    heads = ["classifier"] + (["aux_classifier"] if aux else [])
    for head in heads:
        rows += [Rule(f"{head}.0", f"{head}_0", "conv"), Rule(f"{head}.1", f"{head}_1", "bn")]
        rows.append(Rule(f"{head}.4", f"{head}_4", "conv"))
    ignore = () if aux else (r"^aux_classifier\.",)
    return TorchMapping(
        tuple(rows), ignore=ignore, layout=f"torchvision FCN-ResNet-{depth} (dilated layer3/4)"
    )


def load_torchvision_weights(model: Any, name: str, weights: str | os.PathLike) -> Any:
    """Applies a torchvision weight-set name or a ``.pth`` path to an ``FCNResNet``."""
    return load_torch_weights(
        model, weights, fcn_resnet_mapping(model.depth, model.aux), torchvision_model=name
    )
