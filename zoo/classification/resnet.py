"""ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016), Table 1.

Variants are data: ``RESNET_CONFIGS`` gives each depth's block type and blocks per stage;
one private builder makes every variant.

- resnet18 / resnet34 use basic blocks (two 3x3 convolutions) laid out as torchvision's:
  convolutions without bias, batch normalisation (eps 1e-5), stride in the first 3x3
  convolution. Their counts match torchvision's trainable parameters (11,689,512 and
  21,797,672); Keras also counts the BN moving statistics as (non-trainable) parameters.
- resnet50 / resnet101 / resnet152 use bottleneck blocks laid out exactly as
  keras.applications ResNet50/101/152 (same layer names, order and shapes, convolutions with
  bias, stride in the first 1x1 convolution, BN eps 1.001e-5), so ``weights="imagenet"``
  loads keras.applications' files and gives the same outputs. Their counts are
  keras.applications' (25,636,712; 44,707,176; 60,419,944, top included).

Shortcuts (paper section 3.3): ``shortcut="B"`` (default) uses a 1x1 projection (conv + BN)
where the shape changes and the identity elsewhere; ``shortcut="A"`` is parameter-free: the
identity, strided where the resolution halves and zero-padded where the channels grow
(:class:`zoo.layers.shortcut.ZeroPadShortcut`). ImageNet weights exist only for option B.

Layer names (both block types): ``conv1_pad``, ``conv1_conv``, ``conv1_bn``, ``conv1_relu``,
``pool1_pad``, ``pool1_pool``, then per stage s = 2..5 and block b: ``conv{s}_block{b}_0_conv``
/ ``_0_bn`` (projection), ``_1_conv`` ... ``_{2|3}_bn``, ``_add``, ``_out``; with the top
``avg_pool`` and ``predictions``. Detectors take features from ``conv4_block6_out`` etc.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.classification._common import finish, image_input, pool, resolve_classes
from zoo.layers.shortcut import ZeroPadShortcut
from zoo.registry import register

PAPER = "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR 2016"

STAGE_FILTERS = (64, 128, 256, 512)  # bottleneck width per stage (conv2_x .. conv5_x)
BOTTLENECK_EXPANSION = 4
SHORTCUTS = ("A", "B")

_TV = "torchvision (trainable parameters; Keras also counts BN moving statistics)"
_KA = "keras.applications (all parameters, BN moving statistics included)"

# name: (block type, blocks per stage, keras.applications arch for ImageNet weights, references)
RESNET_CONFIGS: dict[str, tuple[str, tuple[int, ...], str | None, dict[str, Any]]] = {
    "resnet18": ("basic", (2, 2, 2, 2), None, {
        "num_params": 11_689_512, "num_params_source": f"{_TV} resnet18",
        "imagenet_top1": 69.758, "imagenet_top1_source": "torchvision ResNet18_Weights.IMAGENET1K_V1"}),
    "resnet34": ("basic", (3, 4, 6, 3), None, {
        "num_params": 21_797_672, "num_params_source": f"{_TV} resnet34",
        "imagenet_top1": 73.314, "imagenet_top1_source": "torchvision ResNet34_Weights.IMAGENET1K_V1",
        "imagenet_top1_paper_10crop": 75.48, "imagenet_top1_paper_source": "paper Table 3, ResNet-34 B"}),
    "resnet50": ("bottleneck", (3, 4, 6, 3), "resnet50", {
        "num_params": 25_636_712, "num_params_source": f"{_KA} ResNet50",
        "imagenet_top1": 74.9, "imagenet_top1_source": "keras.applications ResNet50 (these weights)",
        "imagenet_top1_paper_10crop": 77.15, "imagenet_top1_paper_source": "paper Table 3, ResNet-50"}),
    "resnet101": ("bottleneck", (3, 4, 23, 3), "resnet101", {
        "num_params": 44_707_176, "num_params_source": f"{_KA} ResNet101",
        "imagenet_top1": 76.4, "imagenet_top1_source": "keras.applications ResNet101 (these weights)",
        "imagenet_top1_paper_10crop": 78.25, "imagenet_top1_paper_source": "paper Table 3, ResNet-101"}),
    "resnet152": ("bottleneck", (3, 8, 36, 3), "resnet152", {
        "num_params": 60_419_944, "num_params_source": f"{_KA} ResNet152",
        "imagenet_top1": 76.6, "imagenet_top1_source": "keras.applications ResNet152 (these weights)",
        "imagenet_top1_paper_10crop": 78.57, "imagenet_top1_paper_source": "paper Table 3, ResNet-152"}),
}  # fmt: skip

# Batch-norm settings per block type: torchvision's for basic, keras.applications' for bottleneck.
_BN = {"basic": dict(epsilon=1e-5, momentum=0.9), "bottleneck": dict(epsilon=1.001e-5)}


def _conv_bn(
    x: Any, filters: int, kernel: int, strides: int, name: str, block: str, relu: bool, padding: str = "valid"
) -> Any:
    """Conv (bias only in the keras.applications bottleneck layout) + BN (+ ReLU)."""
    x = keras.layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, use_bias=block == "bottleneck", name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(**_BN[block], name=f"{name}_bn")(x)
    if relu:
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def _shortcut(x: Any, filters: int, strides: int, shortcut: str, block: str, name: str) -> Any:
    """Identity, option A (strided zero-padded identity) or option B (1x1 projection + BN)."""
    if strides == 1 and x.shape[-1] == filters:
        return x
    if shortcut == "A":
        return ZeroPadShortcut(filters, strides, name=f"{name}_0_pad")(x)
    return _conv_bn(x, filters, 1, strides, f"{name}_0", block, relu=False)


def _basic_block(x: Any, filters: int, strides: int, shortcut: str, name: str) -> Any:
    """Two 3x3 convolutions (torchvision's BasicBlock); the first carries the stride."""
    short = _shortcut(x, filters, strides, shortcut, "basic", name)
    if strides > 1:  # symmetric padding, as torchvision's padding=1 (Keras "same" pads (0, 1) here)
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_1_pad")(x)
        x = _conv_bn(x, filters, 3, strides, f"{name}_1", "basic", relu=True)
    else:
        x = _conv_bn(x, filters, 3, 1, f"{name}_1", "basic", relu=True, padding="same")
    x = _conv_bn(x, filters, 3, 1, f"{name}_2", "basic", relu=False, padding="same")
    x = keras.layers.Add(name=f"{name}_add")([short, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def bottleneck_block(x: Any, width: int, strides: int, shortcut: str, name: str) -> Any:
    """1x1 (strided) - 3x3 - 1x1 x4, as keras.applications' residual_block_v1."""
    filters = BOTTLENECK_EXPANSION * width
    short = _shortcut(x, filters, strides, shortcut, "bottleneck", name)
    x = _conv_bn(x, width, 1, strides, f"{name}_1", "bottleneck", relu=True)
    x = _conv_bn(x, width, 3, 1, f"{name}_2", "bottleneck", relu=True, padding="same")
    x = _conv_bn(x, filters, 1, 1, f"{name}_3", "bottleneck", relu=False)
    x = keras.layers.Add(name=f"{name}_add")([short, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def resnet_features(x: Any, block: str, depths: tuple[int, ...] | list[int], shortcut: str = "B") -> Any:
    """Applies ResNet's stem and four stages to ``x`` (output: ``conv5_block{n}_out``, stride 32).

    Args:
        x: a 4-D Keras tensor (channels-last image batch).
        block: ``"basic"`` (torchvision layout) or ``"bottleneck"`` (keras.applications layout).
        depths: blocks per stage (conv2_x .. conv5_x), e.g. ``(3, 4, 6, 3)``.
        shortcut: ``"A"`` (zero-padding identity) or ``"B"`` (projection where the shape changes).

    Returns:
        The last stage's output tensor.

    Example:
        >>> x = resnet_features(keras.Input((64, 64, 3)), "basic", (2, 2, 2, 2))
    """
    if block not in _BN:
        raise ValueError(f"block must be 'basic' or 'bottleneck', got {block!r}")
    if shortcut not in SHORTCUTS:
        raise ValueError(
            f"shortcut must be 'A' (zero-padding identity) or 'B' (projection), got {shortcut!r}"
        )
    if len(depths) != len(STAGE_FILTERS) or any(int(d) < 1 for d in depths):
        raise ValueError(f"depths must be {len(STAGE_FILTERS)} positive block counts, got {depths!r}")
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = _conv_bn(x, 64, 7, 2, "conv1", block, relu=True)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    make = _basic_block if block == "basic" else bottleneck_block
    for stage, (filters, n) in enumerate(zip(STAGE_FILTERS, depths), start=2):
        for b in range(1, n + 1):
            strides = 2 if (b == 1 and stage > 2) else 1
            x = make(x, filters, strides, shortcut, f"conv{stage}_block{b}")
    return x


def _resnet(
    name: str,
    include_top: bool,
    weights: Any,
    input_tensor: Any,
    input_shape: tuple[int, ...] | None,
    pooling: str | None,
    classes: int | None,
    num_classes: int | None,
    classifier_activation: str | None,
    shortcut: str,
) -> keras.Model:
    block, depths, arch, _ = RESNET_CONFIGS[name]
    if shortcut not in SHORTCUTS:
        raise ValueError(
            f"{name}: shortcut must be 'A' (zero-padding identity) or 'B' (projection), got {shortcut!r}"
        )
    if weights == "imagenet" and shortcut != "B":
        raise ValueError(
            f"{name}: ImageNet weights exist for shortcut='B' only (projection shortcuts), got 'A'."
        )
    n = resolve_classes(classes, num_classes, weights, include_top, has_imagenet=arch is not None)
    x, inputs = image_input(
        input_shape,
        input_tensor,
        default_size=224,
        min_size=32,
        include_top=include_top,
        weights=weights,
        model_name=name,
    )
    x = resnet_features(x, block, depths, shortcut)
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dense(n, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    return finish(inputs, x, name=name, weights=weights, arch=arch, include_top=include_top)


def _meta(name: str) -> dict[str, Any]:
    """Registry metadata of one variant."""
    _, _, arch, references = RESNET_CONFIGS[name]
    return dict(
        task="classification",
        paper=PAPER,
        input_shape=(224, 224, 3),
        weights=("imagenet",) if arch else (),
        references=references,
        preprocess="caffe" if arch else "torch",
    )


@register("resnet18", **_meta("resnet18"))
def resnet18(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
    shortcut: str = "B",
) -> keras.Model:
    """ResNet-18 (basic blocks, 2-2-2-2), torchvision layout: 11,689,512 trainable parameters.

    Arguments as keras.applications.ResNet50, plus ``shortcut`` ("B" projection, "A" zero-padding).

    Example:
        >>> model = zoo.get("resnet18", classes=10, input_shape=(32, 32, 3), shortcut="A")
    """
    return _resnet(
        "resnet18",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
        shortcut,
    )


@register("resnet34", **_meta("resnet34"))
def resnet34(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
    shortcut: str = "B",
) -> keras.Model:
    """ResNet-34 (basic blocks, 3-4-6-3), torchvision layout: 21,797,672 trainable parameters.

    Arguments as keras.applications.ResNet50, plus ``shortcut`` ("B" projection, "A" zero-padding).

    Example:
        >>> model = zoo.get("resnet34", classes=10, input_shape=(64, 64, 3))
    """
    return _resnet(
        "resnet34",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
        shortcut,
    )


@register("resnet50", **_meta("resnet50"))
def resnet50(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
    shortcut: str = "B",
) -> keras.Model:
    """ResNet-50 (bottlenecks, 3-4-6-3), layer-compatible with keras.applications.ResNet50.

    25,636,712 parameters (keras.applications); ``weights="imagenet"`` loads its file
    (inputs preprocessed in "caffe" mode: BGR, ImageNet mean subtracted).

    Arguments as keras.applications.ResNet50, plus ``shortcut`` ("B" projection, "A" zero-padding).

    Example:
        >>> body = zoo.get("resnet50", include_top=False, weights="imagenet", input_shape=(320, 320, 3))
        >>> c4 = body.get_layer("conv4_block6_out").output
    """
    return _resnet(
        "resnet50",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
        shortcut,
    )


@register("resnet101", **_meta("resnet101"))
def resnet101(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
    shortcut: str = "B",
) -> keras.Model:
    """ResNet-101 (bottlenecks, 3-4-23-3), layer-compatible with keras.applications.ResNet101.

    44,707,176 parameters (keras.applications).

    Arguments as keras.applications.ResNet101, plus ``shortcut`` ("B" projection, "A" zero-padding).

    Example:
        >>> model = zoo.get("resnet101", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _resnet(
        "resnet101",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
        shortcut,
    )


@register("resnet152", **_meta("resnet152"))
def resnet152(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
    shortcut: str = "B",
) -> keras.Model:
    """ResNet-152 (bottlenecks, 3-8-36-3), layer-compatible with keras.applications.ResNet152.

    60,419,944 parameters (keras.applications).

    Arguments as keras.applications.ResNet152, plus ``shortcut`` ("B" projection, "A" zero-padding).

    Example:
        >>> model = zoo.get("resnet152", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _resnet(
        "resnet152",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
        shortcut,
    )
