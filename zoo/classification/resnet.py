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

``layout="torchvision"`` builds the bottleneck variants as torchvision's ResNet v1.5 (the
stride in the 3x3 convolution, convolutions without bias, BN eps 1e-5: 25,557,032 /
44,549,160 / 60,192,808 trainable parameters) so its checkpoints load (``weights="torchvision"``
picks this layout). The two layouts have the same tensor shapes apart from the biases, so a
checkpoint never loads into the other layout: the mapping and the builder refuse it.

The same builder is the body of the torchvision-layout detectors and segmenters
(``zoo.detection.fpn.resnet_body``): :func:`resnet_stages` returns the four stage outputs (C2..C5),
``dilation`` replaces the stride of the last stages by dilation (torchvision's
``replace_stride_with_dilation``, FCN's output stride 8) and ``bn_trainable=False`` freezes the
batch normalisation (torchvision's ``FrozenBatchNorm2d``); :func:`torchvision_mapping` takes the
state-dict ``prefix`` (``backbone.body.``) of such a model.

Layer names (both block types): ``conv1_pad``, ``conv1_conv``, ``conv1_bn``, ``conv1_relu``,
``pool1_pad``, ``pool1_pool``, then per stage s = 2..5 and block b: ``conv{s}_block{b}_0_conv``
/ ``_0_bn`` (projection), ``_1_conv`` ... ``_{2|3}_bn``, ``_add``, ``_out``; with the top
``avg_pool`` and ``predictions``. Detectors take features from ``conv4_block6_out`` etc.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.classification._common import (
    ClassifierArgs,
    ClassifierCfg,
    keras_applications_files,
    register_classifier,
    start,
)
from zoo.layers.shortcut import ZeroPadShortcut
from zoo.weights_torch import Rule, TorchMapping

PAPER = "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR 2016"

STAGE_FILTERS = (64, 128, 256, 512)  # bottleneck width per stage (conv2_x .. conv5_x)
BOTTLENECK_EXPANSION = 4
SHORTCUTS = ("A", "B")
LAYOUTS = ("keras", "torchvision")

_TV = "torchvision (trainable parameters; Keras also counts BN moving statistics)"
_KA = "keras.applications (all parameters, BN moving statistics included)"

# name: (block type, blocks per stage)
RESNET_CONFIGS: dict[str, tuple[str, tuple[int, ...]]] = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}


def _cfg(name: str, references: dict[str, Any], hashes: tuple[str, str] | None = None) -> ClassifierCfg:
    return ClassifierCfg(
        paper=PAPER,
        references=references,
        preprocess="caffe" if hashes else "torch",
        imagenet=keras_applications_files(name, *hashes, folder="resnet") if hashes else None,
        torchvision=name,
    )


# Per-name settings: references, keras.applications' files (resnet50/101/152), torchvision's sets.
default_cfgs: dict[str, ClassifierCfg] = {
    "resnet18": _cfg("resnet18", {
        "num_params": 11_689_512, "num_params_source": f"{_TV} resnet18",
        "imagenet_top1": 69.758, "imagenet_top1_source": "torchvision ResNet18_Weights.IMAGENET1K_V1"}),
    "resnet34": _cfg("resnet34", {
        "num_params": 21_797_672, "num_params_source": f"{_TV} resnet34",
        "imagenet_top1": 73.314, "imagenet_top1_source": "torchvision ResNet34_Weights.IMAGENET1K_V1",
        "imagenet_top1_paper_10crop": 75.48, "imagenet_top1_paper_source": "paper Table 3, ResNet-34 B"}),
    "resnet50": _cfg("resnet50", {
        "num_params": 25_636_712, "num_params_source": f"{_KA} ResNet50",
        "imagenet_top1": 74.9, "imagenet_top1_source": "keras.applications ResNet50 (these weights)",
        "imagenet_top1_paper_10crop": 77.15, "imagenet_top1_paper_source": "paper Table 3, ResNet-50"},
        ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626")),
    "resnet101": _cfg("resnet101", {
        "num_params": 44_707_176, "num_params_source": f"{_KA} ResNet101",
        "imagenet_top1": 76.4, "imagenet_top1_source": "keras.applications ResNet101 (these weights)",
        "imagenet_top1_paper_10crop": 78.25, "imagenet_top1_paper_source": "paper Table 3, ResNet-101"},
        ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21")),
    "resnet152": _cfg("resnet152", {
        "num_params": 60_419_944, "num_params_source": f"{_KA} ResNet152",
        "imagenet_top1": 76.6, "imagenet_top1_source": "keras.applications ResNet152 (these weights)",
        "imagenet_top1_paper_10crop": 78.57, "imagenet_top1_paper_source": "paper Table 3, ResNet-152"},
        ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c")),
}  # fmt: skip

# Convolution bias and batch-norm settings per layout (basic blocks are always torchvision's).
_LAYOUT = {
    "torchvision": dict(use_bias=False, bn=dict(epsilon=1e-5, momentum=0.9)),
    "keras": dict(use_bias=True, bn=dict(epsilon=1.001e-5)),
}


def _conv_bn(
    x: Any,
    filters: int,
    kernel: int,
    strides: int,
    name: str,
    layout: str,
    relu: bool,
    padding: str = "valid",
    dilation: int = 1,
    bn_trainable: bool = True,
) -> Any:
    """Conv (bias only in the keras.applications layout) + BN (+ ReLU)."""
    settings = _LAYOUT[layout]
    x = keras.layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, dilation_rate=dilation,
        use_bias=settings["use_bias"], name=f"{name}_conv",
    )(x)  # fmt: skip
    x = keras.layers.BatchNormalization(**settings["bn"], trainable=bn_trainable, name=f"{name}_bn")(x)
    if relu:
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def _conv3x3(
    x: Any,
    filters: int,
    strides: int,
    name: str,
    layout: str,
    relu: bool,
    dilation: int = 1,
    bn_trainable: bool = True,
) -> Any:
    """3x3 conv + BN; strided with symmetric padding, as torchvision's padding=1 (Keras "same" pads (0, 1)).
    Dilated (stride 1): "same" pads ``dilation`` on each side, torchvision's ``padding=dilation``."""
    if strides > 1:
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        return _conv_bn(x, filters, 3, strides, name, layout, relu=relu, bn_trainable=bn_trainable)
    return _conv_bn(
        x,
        filters,
        3,
        1,
        name,
        layout,
        relu=relu,
        padding="same",
        dilation=dilation,
        bn_trainable=bn_trainable,
    )


def _shortcut(
    x: Any, filters: int, strides: int, shortcut: str, layout: str, name: str, bn_trainable: bool = True
) -> Any:
    """Identity, option A (strided zero-padded identity) or option B (1x1 projection + BN)."""
    if strides == 1 and x.shape[-1] == filters:
        return x
    if shortcut == "A":
        return ZeroPadShortcut(filters, strides, name=f"{name}_0_pad")(x)
    return _conv_bn(x, filters, 1, strides, f"{name}_0", layout, relu=False, bn_trainable=bn_trainable)


def _basic_block(
    x: Any,
    filters: int,
    strides: int,
    shortcut: str,
    name: str,
    layout: str = "torchvision",
    dilation: int = 1,
    bn_trainable: bool = True,
) -> Any:
    """Two 3x3 convolutions (torchvision's BasicBlock); the first carries the stride (no dilation)."""
    short = _shortcut(x, filters, strides, shortcut, "torchvision", name, bn_trainable)
    x = _conv3x3(x, filters, strides, f"{name}_1", "torchvision", relu=True, bn_trainable=bn_trainable)
    x = _conv3x3(x, filters, 1, f"{name}_2", "torchvision", relu=False, bn_trainable=bn_trainable)
    x = keras.layers.Add(name=f"{name}_add")([short, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def bottleneck_block(
    x: Any,
    width: int,
    strides: int,
    shortcut: str = "B",
    name: str = "block",
    layout: str = "keras",
    dilation: int = 1,
    bn_trainable: bool = True,
) -> Any:
    """ResNet's bottleneck: 1x1 - 3x3 - 1x1 x4 plus the shortcut.

    Args:
        x: 4-D Keras tensor.
        width: the 3x3 convolution's filters (the output has 4x as many).
        strides: 1, or 2 where the stage halves the resolution.
        shortcut: ``"B"`` (projection where the shape changes) or ``"A"`` (zero padding).
        name: layer name prefix (``conv4_block1``).
        layout: ``"keras"`` (keras.applications' residual_block_v1: the stride in the first 1x1,
            convolutions with bias) or ``"torchvision"`` (v1.5: the stride in the 3x3, no biases).
        dilation: the 3x3 convolution's dilation (torchvision layout, stride 1).
        bn_trainable: False freezes the block's batch normalisation (torchvision's FrozenBatchNorm2d).

    Example:
        >>> y = bottleneck_block(keras.Input((14, 14, 1024)), 512, 2, "B", "conv5_block1")
    """
    filters = BOTTLENECK_EXPANSION * width
    short = _shortcut(x, filters, strides, shortcut, layout, name, bn_trainable)
    first, second = (strides, 1) if layout == "keras" else (1, strides)
    x = _conv_bn(x, width, 1, first, f"{name}_1", layout, relu=True, bn_trainable=bn_trainable)
    x = _conv3x3(
        x, width, second, f"{name}_2", layout, relu=True, dilation=dilation, bn_trainable=bn_trainable
    )
    x = _conv_bn(x, filters, 1, 1, f"{name}_3", layout, relu=False, bn_trainable=bn_trainable)
    x = keras.layers.Add(name=f"{name}_add")([short, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _check(block: str, shortcut: str, layout: str) -> None:
    if block not in ("basic", "bottleneck"):
        raise ValueError(f"block must be 'basic' or 'bottleneck', got {block!r}")
    if shortcut not in SHORTCUTS:
        raise ValueError(
            f"shortcut must be 'A' (zero-padding identity) or 'B' (projection), got {shortcut!r}"
        )
    if layout not in LAYOUTS or (block == "basic" and layout != "torchvision"):
        allowed = "'torchvision'" if block == "basic" else "'keras' or 'torchvision'"
        raise ValueError(f"layout must be {allowed} for {block} blocks, got {layout!r}")


def resnet_stages(
    x: Any,
    block: str,
    depths: tuple[int, ...] | list[int],
    shortcut: str = "B",
    layout: str | None = None,
    dilation: tuple[bool, ...] | list[bool] = (False, False, False),
    bn_trainable: bool = True,
) -> list[Any]:
    """Applies ResNet's stem and four stages to ``x``; returns the stage outputs [C2, C3, C4, C5]
    (``conv{2..5}_block{n}_out``, strides 4, 8, 16, 32).

    Args:
        x: a 4-D Keras tensor (channels-last image batch).
        block: ``"basic"`` (torchvision layout) or ``"bottleneck"``.
        depths: blocks per stage (conv2_x .. conv5_x), e.g. ``(3, 4, 6, 3)``.
        shortcut: ``"A"`` (zero-padding identity) or ``"B"`` (projection where the shape changes).
        layout: ``"keras"`` (default for bottlenecks) or ``"torchvision"`` (basic blocks' only one).
        dilation: for conv3_x..conv5_x, replace the stride 2 by dilation, as torchvision's
            ``replace_stride_with_dilation`` (the first block of a stage keeps the previous rate;
            torchvision-layout bottlenecks only).
        bn_trainable: False makes every batch normalisation not trainable (FrozenBatchNorm2d).

    Example:
        >>> c2, c3, c4, c5 = resnet_stages(keras.Input((64, 64, 3)), "bottleneck", (3, 4, 6, 3), layout="torchvision")
    """
    layout = layout or ("torchvision" if block == "basic" else "keras")
    _check(block, shortcut, layout)
    if len(depths) != len(STAGE_FILTERS) or any(int(d) < 1 for d in depths):
        raise ValueError(f"depths must be {len(STAGE_FILTERS)} positive block counts, got {depths!r}")
    if len(dilation) != len(STAGE_FILTERS) - 1:
        raise ValueError(f"dilation needs one flag for each of conv3_x..conv5_x, got {dilation!r}")
    if any(dilation) and (block, layout) != ("bottleneck", "torchvision"):
        raise ValueError(
            "dilation needs torchvision-layout bottlenecks (torchvision's BasicBlock does not dilate), "
            f"got block={block!r}, layout={layout!r}"
        )
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = _conv_bn(x, 64, 7, 2, "conv1", layout, relu=True, bn_trainable=bn_trainable)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    make = _basic_block if block == "basic" else bottleneck_block
    taps, rate = [], 1
    for stage, (filters, n) in enumerate(zip(STAGE_FILTERS, depths), start=2):
        strides, previous = (2 if stage > 2 else 1), rate
        if stage > 2 and dilation[stage - 3]:
            rate, strides = rate * strides, 1
        for b in range(1, n + 1):
            x = make(
                x, filters, strides if b == 1 else 1, shortcut, f"conv{stage}_block{b}", layout=layout,
                dilation=previous if b == 1 else rate, bn_trainable=bn_trainable,
            )  # fmt: skip
        taps.append(x)
    return taps


def resnet_features(
    x: Any,
    block: str,
    depths: tuple[int, ...] | list[int],
    shortcut: str = "B",
    layout: str | None = None,
) -> Any:
    """Applies ResNet's stem and four stages to ``x`` (output: ``conv5_block{n}_out``, stride 32).

    Arguments as :func:`resnet_stages`, which this is the last output of.

    Example:
        >>> x = resnet_features(keras.Input((64, 64, 3)), "basic", (2, 2, 2, 2))
    """
    return resnet_stages(x, block, depths, shortcut, layout)[-1]


def torchvision_rules(block: str, depths: tuple[int, ...] | list[int], prefix: str = "") -> list[Rule]:
    """The body's rows of :func:`torchvision_mapping` (no ``fc``), torch names under ``prefix``
    (``backbone.body.`` in torchvision's detectors, ``backbone.`` in its segmenters)."""
    convs = 2 if block == "basic" else 3
    rows = [Rule(f"{prefix}conv1", "conv1_conv", "conv"), Rule(f"{prefix}bn1", "conv1_bn", "bn")]
    for s, n in enumerate(depths, start=1):
        for b in range(n):
            tv, zoo_name = f"{prefix}layer{s}.{b}", f"conv{s + 1}_block{b + 1}"
            for i in range(1, convs + 1):
                rows += [
                    Rule(f"{tv}.conv{i}", f"{zoo_name}_{i}_conv", "conv"),
                    Rule(f"{tv}.bn{i}", f"{zoo_name}_{i}_bn", "bn"),
                ]
            if b == 0 and (s > 1 or block == "bottleneck"):
                rows += [
                    Rule(f"{tv}.downsample.0", f"{zoo_name}_0_conv", "conv"),
                    Rule(f"{tv}.downsample.1", f"{zoo_name}_0_bn", "bn"),
                ]
    return rows


def torchvision_mapping(block: str, depths: tuple[int, ...] | list[int]) -> TorchMapping:
    """torchvision ResNet state-dict names -> zoo layers (``layout="torchvision"``, shortcut B).

    ``layer{s}.{b}.conv{i}`` / ``bn{i}`` -> ``conv{s+1}_block{b+1}_{i}_conv`` / ``_bn``;
    ``downsample.0`` / ``.1`` -> ``_0_conv`` / ``_0_bn`` (first block of a stage that changes
    shape); ``conv1``/``bn1`` -> the stem, ``fc`` -> ``predictions``.
    """
    rows = torchvision_rules(block, depths)
    rows.append(Rule("fc", "predictions", "dense", top=True))
    return TorchMapping(tuple(rows), layout="torchvision ResNet (v1.5 for bottlenecks), shortcut B")  # fmt: skip


def _create_resnet(
    variant: str, *, shortcut: str = "B", layout: str | None = None, **kwargs: Any
) -> keras.Model:
    """Builds ResNet ``variant`` (a key of ``RESNET_CONFIGS``) with keras.applications' arguments."""
    block, depths = RESNET_CONFIGS[variant]
    args: ClassifierArgs = start(variant, default_cfgs[variant], **kwargs)
    torch_weights = args.torchvision
    if layout is None:
        layout = "torchvision" if (block == "basic" or torch_weights) else "keras"
    _check(block, shortcut, layout)
    if torch_weights and layout != "torchvision":
        raise ValueError(
            f"{variant}: torchvision checkpoints need layout='torchvision' (stride in the 3x3 convolution, "
            f"no convolution biases); got layout={layout!r}, which would compute a different network."
        )
    if args.weights == "imagenet" and layout != "keras":
        raise ValueError(
            f"{variant}: weights='imagenet' (keras.applications) needs layout='keras', got {layout!r}"
        )
    if args.weights is not None and shortcut != "B" and (torch_weights or args.weights == "imagenet"):
        raise ValueError(
            f"{variant}: ImageNet weights exist for shortcut='B' only (projection shortcuts), got 'A'."
        )
    x = resnet_features(args.x, block, depths, shortcut, layout)

    def top(x: Any) -> Any:
        return args.predictions(keras.layers.GlobalAveragePooling2D(name="avg_pool")(x))

    return args.finish(args.tail(x, top), lambda: torchvision_mapping(block, depths))


@register_classifier("resnet18", default_cfgs, _create_resnet)
def resnet18(**kwargs: Any) -> keras.Model:
    """ResNet-18 (basic blocks, 2-2-2-2), torchvision layout: 11,689,512 trainable parameters.

    Arguments as keras.applications.ResNet50, plus ``shortcut`` ("B" projection, "A" zero-padding);
    ``weights="torchvision"`` loads torchvision's ImageNet checkpoint.

    Example:
        >>> model = zoo.get("resnet18", classes=10, input_shape=(32, 32, 3), shortcut="A")
    """
    return _create_resnet("resnet18", **kwargs)


@register_classifier("resnet34", default_cfgs, _create_resnet)
def resnet34(**kwargs: Any) -> keras.Model:
    """ResNet-34 (basic blocks, 3-4-6-3), torchvision layout: 21,797,672 trainable parameters.

    Arguments as keras.applications.ResNet50, plus ``shortcut`` ("B" projection, "A" zero-padding).

    Example:
        >>> model = zoo.get("resnet34", classes=10, input_shape=(64, 64, 3))
    """
    return _create_resnet("resnet34", **kwargs)


@register_classifier("resnet50", default_cfgs, _create_resnet)
def resnet50(**kwargs: Any) -> keras.Model:
    """ResNet-50 (bottlenecks, 3-4-6-3), layer-compatible with keras.applications.ResNet50.

    25,636,712 parameters (keras.applications); ``weights="imagenet"`` loads its file
    (inputs preprocessed in "caffe" mode: BGR, ImageNet mean subtracted). ``weights="torchvision"``
    (or ``"IMAGENET1K_V1"`` / ``"IMAGENET1K_V2"``) builds torchvision's v1.5 layout and loads its
    checkpoint (inputs: ``zoo.preprocess("resnet50", weights="torchvision")``).

    Arguments as keras.applications.ResNet50, plus ``shortcut`` ("B" projection, "A" zero-padding)
    and ``layout`` ("keras" or "torchvision").

    Example:
        >>> body = zoo.get("resnet50", include_top=False, weights="imagenet", input_shape=(320, 320, 3))
        >>> c4 = body.get_layer("conv4_block6_out").output
    """
    return _create_resnet("resnet50", **kwargs)


@register_classifier("resnet101", default_cfgs, _create_resnet)
def resnet101(**kwargs: Any) -> keras.Model:
    """ResNet-101 (bottlenecks, 3-4-23-3), layer-compatible with keras.applications.ResNet101.

    44,707,176 parameters (keras.applications). Arguments as :func:`resnet50`.

    Example:
        >>> model = zoo.get("resnet101", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_resnet("resnet101", **kwargs)


@register_classifier("resnet152", default_cfgs, _create_resnet)
def resnet152(**kwargs: Any) -> keras.Model:
    """ResNet-152 (bottlenecks, 3-8-36-3), layer-compatible with keras.applications.ResNet152.

    60,419,944 parameters (keras.applications). Arguments as :func:`resnet50`.

    Example:
        >>> model = zoo.get("resnet152", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_resnet("resnet152", **kwargs)
