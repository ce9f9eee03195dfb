"""Feature Pyramid Network (Lin et al., CVPR 2017) and the torchvision-layout ResNet body it sits on.

- :func:`resnet_body`: ResNet-50/101 in torchvision's layout (v1.5: the stride in the 3x3 convolution,
  no convolution biases, BatchNorm eps 1e-5, conv1 padded 3 on each side, max-pool padded 1), returning
  the stage outputs C2..C5 (strides 4, 8, 16, 32). ``dilation`` replaces the strides of the last stages
  by dilation as torchvision's ``replace_stride_with_dilation`` (FCN-ResNet: output stride 8). Layer
  names are torchvision's module paths with dots as underscores (``layer1_0_conv1``, ``bn1``,
  ``layer2_0_downsample_0``), so a state_dict maps by name.
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

PAPER = "Lin et al., Feature Pyramid Networks for Object Detection, CVPR 2017"
DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
STAGE_WIDTHS = (64, 128, 256, 512)
BN_EPSILON = 1e-5  # torch.nn.BatchNorm2d and torchvision's FrozenBatchNorm2d


def _bn(x: Any, name: str, frozen: bool) -> Any:
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name=name, trainable=not frozen)(
        x
    )


def _conv(x: Any, filters: int, kernel: int, name: str, strides: int = 1, dilation: int = 1) -> Any:
    """A bias-free convolution padded as torch's ``padding=dilation * (kernel // 2)``."""
    pad = dilation * (kernel // 2)
    if pad and strides > 1:  # "same" would pad asymmetrically for stride 2; torch pads both sides
        x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        padding = "valid"
    else:
        padding = "same" if pad else "valid"
    return keras.layers.Conv2D(
        filters, kernel, strides=strides, dilation_rate=dilation, padding=padding, use_bias=False, name=name
    )(x)


def _bottleneck(
    x: Any, width: int, strides: int, dilation: int, downsample: bool, name: str, frozen: bool
) -> Any:
    """torchvision's ``Bottleneck`` (expansion 4, stride and dilation in conv2)."""
    shortcut = x
    y = keras.layers.ReLU(name=f"{name}_relu1")(
        _bn(_conv(x, width, 1, f"{name}_conv1"), f"{name}_bn1", frozen)
    )
    y = _conv(y, width, 3, f"{name}_conv2", strides=strides, dilation=dilation)
    y = keras.layers.ReLU(name=f"{name}_relu2")(_bn(y, f"{name}_bn2", frozen))
    y = _bn(_conv(y, 4 * width, 1, f"{name}_conv3"), f"{name}_bn3", frozen)
    if downsample:
        shortcut = _conv(x, 4 * width, 1, f"{name}_downsample_0", strides=strides)
        shortcut = _bn(shortcut, f"{name}_downsample_1", frozen)
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([y, shortcut]))


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
        dilation: for layer2..layer4, replace the stride 2 by dilation (torchvision's
            ``replace_stride_with_dilation``; FCN uses (False, True, True)).
        frozen_bn: BatchNorm layers not trainable (torchvision's detection models use FrozenBatchNorm2d);
            see :func:`freeze_stages` for the frozen stem and first stage of the detectors.

    Returns:
        The outputs of layer1..layer4 (256, 512, 1024, 2048 channels).
    """
    if depth not in DEPTHS:
        raise ValueError(f"depth must be one of {sorted(DEPTHS)}, got {depth}")
    if len(dilation) != 3:
        raise ValueError(f"dilation needs one flag for each of layer2..layer4, got {dilation!r}")
    x = _conv(image, 64, 7, "conv1", strides=2)
    x = keras.layers.ReLU(name="relu")(_bn(x, "bn1", frozen_bn))
    x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)  # inputs are >= 0 after the ReLU
    x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    taps, rate, channels = [], 1, 64
    for stage, (width, blocks) in enumerate(zip(STAGE_WIDTHS, DEPTHS[depth])):
        strides, previous = (1 if stage == 0 else 2), rate
        if stage > 0 and dilation[stage - 1]:
            rate, strides = rate * strides, 1
        for block in range(blocks):
            x = _bottleneck(
                x,
                width,
                strides if block == 0 else 1,
                previous if block == 0 else rate,
                block == 0 and (strides != 1 or channels != 4 * width),
                f"layer{stage + 1}_{block}",
                frozen_bn,
            )
            channels = 4 * width
        taps.append(x)
    return taps


def freeze_stages(model: keras.Model, frozen_stages: int) -> None:
    """Makes the stem and the first ``frozen_stages`` stages of a :func:`resnet_body` not trainable."""
    prefixes = ("conv1", "bn1") + tuple(f"layer{i}_" for i in range(1, frozen_stages + 1))
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
