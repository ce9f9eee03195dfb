"""Feature Pyramid Network (Lin et al., CVPR 2017) over the torchvision-layout ResNet body.

- :func:`resnet_body`: ResNet-50/101 in torchvision's layout (v1.5: the stride in the 3x3 convolution,
  no convolution biases, BatchNorm eps 1e-5, conv1 padded 3 on each side, max-pool padded 1), returning
  the stage outputs C2..C5 (strides 4, 8, 16, 32). It is the classifiers' builder
  (``zoo.classification.resnet.resnet_stages`` with ``layout="torchvision"``, so the layer names are
  the classifiers' ``conv1_conv``, ``conv3_block1_2_bn``, ...; ``torchvision_rules`` maps a
  state_dict onto them). ``dilation`` replaces the strides of the last stages by dilation as
  torchvision's ``replace_stride_with_dilation`` (FCN-ResNet: output stride 8).
- :func:`feature_pyramid`: the top-down pathway with lateral 1x1 convolutions (``fpn_inner_blocks_i``)
  and 3x3 output convolutions (``fpn_layer_blocks_i``), nearest 2x upsampling, plus torchvision's
  ``LastLevelMaxPool`` P6 (max pool 1x1 / 2 of P5) for the RPN. Any backbone's taps can feed it.

Example:
    >>> image = keras.Input((256, 256, 3))
    >>> c2, c3, c4, c5 = resnet_body(image, depth=50)
    >>> p2, p3, p4, p5, p6 = feature_pyramid([c2, c3, c4, c5])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from zoo.classification.resnet import RESNET_CONFIGS, resnet_stages

PAPER = "Lin et al., Feature Pyramid Networks for Object Detection, CVPR 2017"
DEPTHS = {depth: RESNET_CONFIGS[f"resnet{depth}"][1] for depth in (50, 101)}
BN_EPSILON = 1e-5  # torch.nn.BatchNorm2d and torchvision's FrozenBatchNorm2d


def resnet_body(
    image: Any,
    depth: int = 50,
    dilation: Sequence[bool] = (False, False, False),
    frozen_bn: bool = True,
) -> list[Any]:
    """ResNet-50/101 body in torchvision's layout; returns [C2, C3, C4, C5].

    Args:
        image: the (normalised) input tensor.
        depth: 50 or 101.
        dilation: for layer2..layer4 (``conv3_x``..``conv5_x``), replace the stride 2 by dilation
            (torchvision's ``replace_stride_with_dilation``; FCN uses (False, True, True)).
        frozen_bn: BatchNorm layers not trainable (torchvision's detection models use FrozenBatchNorm2d);
            see :func:`freeze_stages` for the frozen stem and first stage of the detectors.

    Returns:
        The outputs of layer1..layer4 (256, 512, 1024, 2048 channels).
    """
    if depth not in DEPTHS:
        raise ValueError(f"depth must be one of {sorted(DEPTHS)}, got {depth}")
    if len(dilation) != 3:
        raise ValueError(f"dilation needs one flag for each of layer2..layer4, got {dilation!r}")
    return resnet_stages(
        image, "bottleneck", DEPTHS[depth], "B", "torchvision", tuple(dilation), bn_trainable=not frozen_bn
    )


def freeze_stages(model: keras.Model, frozen_stages: int) -> None:
    """Makes the stem and the first ``frozen_stages`` stages of a :func:`resnet_body` not trainable
    (torchvision's ``trainable_layers=3``: conv1 and layer1 frozen for ``frozen_stages=1``)."""
    prefixes = ("conv1_",) + tuple(f"conv{i + 1}_" for i in range(1, frozen_stages + 1))
    for layer in model.layers:
        if layer.name.startswith(prefixes):
            layer.trainable = False


def _fpn_conv(x: Any, channels: int, kernel: int, name: str, norm: bool) -> Any:
    """torchvision's ``Conv2dNormActivation`` without activation: conv (+ BatchNorm, then no bias)."""
    x = keras.layers.Conv2D(channels, kernel, padding="same", use_bias=not norm, name=name)(x)
    if norm:
        x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name=f"{name}_norm")(x)
    return x


def feature_pyramid(
    features: Sequence[Any],
    channels: int = 256,
    extra_pool: bool = True,
    name: str = "fpn",
    norm: bool = False,
) -> list[Any]:
    """FPN top-down pathway over backbone taps (finest first) -> [P2, ..., P5(, P6)].

    Each level: ``lateral = conv1x1(C_i)``, ``merged_i = lateral + nearest_up2(merged_{i+1})``,
    ``P_i = conv3x3(merged_i)``; P6 = max pool 1x1 stride 2 of P5 (``extra_pool``). Map sides must
    halve exactly from level to level (inputs a multiple of 32 for C2..C5).

    Args:
        features: backbone maps, strides 4, 8, 16, 32 (any number of levels >= 1).
        channels: pyramid width (256).
        extra_pool: add P6 for the RPN.
        name: layer-name prefix.
        norm: BatchNorm after each convolution (torchvision's v2 detectors).

    Returns:
        The pyramid maps, finest first.
    """
    inner = [_fpn_conv(c, channels, 1, f"{name}_inner_blocks_{i}", norm) for i, c in enumerate(features)]
    for fine, coarse in zip(inner, inner[1:]):
        if fine.shape[1] != 2 * coarse.shape[1] or fine.shape[2] != 2 * coarse.shape[2]:
            raise ValueError(
                f"feature_pyramid: level sizes {tuple(fine.shape[1:3])} and {tuple(coarse.shape[1:3])} do not halve "
                "exactly; use an input whose sides are multiples of 32."
            )
    last = inner[-1]
    outputs = [_fpn_conv(last, channels, 3, f"{name}_layer_blocks_{len(inner) - 1}", norm)]
    for i in range(len(inner) - 2, -1, -1):
        up = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_upsample_{i}")(last)
        last = keras.layers.Add(name=f"{name}_merge_{i}")([inner[i], up])
        outputs.insert(0, _fpn_conv(last, channels, 3, f"{name}_layer_blocks_{i}", norm))
    if extra_pool:
        outputs.append(keras.layers.MaxPooling2D(1, strides=2, name=f"{name}_pool")(outputs[-1]))
    return outputs
