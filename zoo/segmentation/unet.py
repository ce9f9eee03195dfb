"""U-Net (Ronneberger, Fischer & Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015).

A contracting path of levels with two 3x3 convolutions + ReLU each (64, 128, 256, 512, 1024
filters) and 2x2 max pooling between levels, then an expanding path: a 2x2 up-convolution that
halves the channels, concatenation with the (centre-cropped) features of the same level, two
3x3 convolutions, and a final 1x1 convolution to the class logits.

* ``padding="valid"`` is the paper's form: every 3x3 convolution loses a 1-pixel border, the
  skip features are centre-cropped to the up-sampled map, and a 572x572 input gives a 388x388
  output (paper, Fig. 1). Valid inputs are the sizes where every pooled map has an even side.
* ``padding="same"`` is the form used in practice: output size = input size, for any input
  whose sides are divisible by ``2 ** (depth - 1)``.

``unet_vgg16`` replaces the contracting path with the VGG16 body (ImageNet weights welcome)
and decodes from ``block5_conv3`` with the skips ``block4_conv3 ... block1_conv2``.

Outputs are per-pixel class logits (no softmax); train with ``zoo.segmentation.losses``.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.registry import register, resolve_num_classes

# The paper's configuration: 5 levels, 64 filters at the first, 2 classes, 572x572x1 input.
PAPER = {"depth": 5, "filters": 64, "num_classes": 2, "input_shape": (572, 572, 1), "output_size": 388}


def _conv(x: Any, filters: int, padding: str, batch_norm: bool, name: str) -> Any:
    x = keras.layers.Conv2D(
        filters, 3, padding=padding, use_bias=not batch_norm, kernel_initializer="he_normal", name=name
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _double_conv(x: Any, filters: int, padding: str, batch_norm: bool, prefix: str) -> Any:
    x = _conv(x, filters, padding, batch_norm, f"{prefix}_conv1")
    return _conv(x, filters, padding, batch_norm, f"{prefix}_conv2")


def _valid_output_size(size: int, depth: int) -> int:
    """Output side of a valid-padding U-Net for input side ``size``; raises if a pooled map is odd."""
    s = size
    for level in range(depth - 1):
        s -= 4
        if s <= 0 or s % 2:
            raise ValueError(
                f"unet(padding='valid', depth={depth}): input side {size} gives a {s}-pixel map before "
                f"pool {level + 1}, which must be positive and even. {_valid_sizes_hint(size, depth)}"
            )
        s //= 2
    s -= 4
    if s <= 0:
        raise ValueError(
            f"unet(padding='valid', depth={depth}): input side {size} is too small. "
            f"{_valid_sizes_hint(size, depth)}"
        )
    for _ in range(depth - 1):
        s = s * 2 - 4
    return s


def _is_valid_size(size: int, depth: int) -> bool:
    s = size
    for _ in range(depth - 1):
        s -= 4
        if s <= 0 or s % 2:
            return False
        s //= 2
    return s - 4 > 0


def _valid_sizes_hint(size: int, depth: int) -> str:
    step = 2 ** (depth - 1)
    near = sorted(
        (c for c in range(max(1, size - 4 * step), size + 16 * step) if _is_valid_size(c, depth)),
        key=lambda c: (abs(c - size), c),
    )[:3]
    return (
        f"Valid input sides near {size}: {', '.join(map(str, sorted(near)))} (572 for the paper's depth 5)."
    )


def _check_same_size(shape: tuple[int | None, ...], multiple: int, name: str) -> None:
    for side in shape[:2]:
        if side is not None and side % multiple:
            raise ValueError(
                f"{name}: input size {shape[0]}x{shape[1]} must be divisible by {multiple} "
                f"(2 ** (depth - 1) poolings); e.g. {max(multiple, side // multiple * multiple)}."
            )


def _decoder(x: Any, skips: list[Any], widths: list[int], padding: str, batch_norm: bool) -> Any:
    """Up-convolution, centre-crop + concatenate, two convolutions; deepest skip first."""
    for i, (skip, width) in enumerate(zip(skips, widths)):
        tag = f"dec{len(skips) - i}"
        x = keras.layers.Conv2DTranspose(width, 2, strides=2, name=f"{tag}_upconv")(x)
        sh, sw = skip.shape[1], skip.shape[2]
        xh, xw = x.shape[1], x.shape[2]
        if padding == "valid" and (sh, sw) != (xh, xw):
            dh, dw = sh - xh, sw - xw
            skip = keras.layers.Cropping2D(
                ((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)), name=f"{tag}_crop"
            )(skip)
        x = keras.layers.Concatenate(name=f"{tag}_concat")([skip, x])
        x = _double_conv(x, width, padding, batch_norm, tag)
    return x


@register(
    "unet",
    task="segmentation",
    paper="Ronneberger et al., U-Net: Convolutional Networks for Biomedical Image Segmentation, MICCAI 2015",
    input_shape=(572, 572, 1),
    references={
        "num_params": 31_030_658,
        "num_params_source": (
            "paper Fig. 1 (5 levels, 64..1024 filters, 2x2 up-convolutions, 1x1 conv to 2 classes, "
            "1-channel 572x572 input) counted layer by layer: 23 convolutions, kernels + biases; the same "
            "count with padding='same'. The often-quoted 31,031,685 is the zhixuhao/unet Keras model, which "
            "replaces the final 1x1 conv (130 params) by a 3x3 conv to 2 channels and a 1x1 sigmoid conv "
            "(1,157 params): +1,027"
        ),
        "output_shape": (388, 388, 2),
        "output_shape_source": "paper Fig. 1 (572x572 input tile -> 388x388 output segmentation map)",
    },
)
def unet(
    num_classes: int | None = None,
    input_shape: tuple[int | None, int | None, int] | None = None,
    padding: str = "valid",
    depth: int = 5,
    filters: int = 64,
    batch_norm: bool = False,
    weights: str | None = None,
    name: str = "unet",
    classes: int | None = None,
) -> keras.Model:
    """U-Net with the paper's valid padding (572 -> 388) or same padding (output = input size).

    Args:
        num_classes: output channels (per-pixel class logits).
        input_shape: (H, W, C). Default (572, 572, 1) for ``padding="valid"`` (the paper's tile)
            and (None, None, 3) for ``"same"``.
        padding: ``"valid"`` (paper, centre-cropped skips) or ``"same"``.
        depth: number of levels including the bottom one (paper: 5, i.e. 4 poolings).
        filters: filters at the first level (paper: 64); level i has ``filters * 2 ** i``.
        batch_norm: add BatchNormalization after every 3x3 convolution (not in the paper).
        weights: None or a path to a weight file.
        name: model name.
        classes: the same count under the classifiers' name (either spelling; they must agree).

    Returns:
        A functional ``keras.Model`` mapping images to logits ``[B, H', W', num_classes]``.

    Reference: 31,030,658 parameters for the paper's configuration (2 classes, 1 channel); see
    ``zoo.info("unet")`` for how that relates to the often-quoted 31,031,685.

    Example:
        >>> model = zoo.get("unet")                                 # 572x572x1 -> 388x388x2
        >>> model = zoo.get("unet", padding="same", filters=16, depth=4, num_classes=4,
        ...                 input_shape=(96, 96, 3), batch_norm=True)
    """
    if padding not in ("valid", "same"):
        raise ValueError(f"unet: padding must be 'valid' or 'same', got {padding!r}")
    if depth < 2:
        raise ValueError(f"unet: depth must be >= 2 (levels including the bottom one), got {depth}")
    num_classes = resolve_num_classes(num_classes, classes, default=PAPER["num_classes"])
    if filters < 1 or num_classes < 1:
        raise ValueError(f"unet: filters and num_classes must be positive, got {filters}, {num_classes}")
    if input_shape is None:
        input_shape = PAPER["input_shape"] if padding == "valid" else (None, None, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"unet: input_shape must be (height, width, channels), got {input_shape}")
    if padding == "valid":
        if input_shape[0] is None or input_shape[1] is None:
            raise ValueError(
                "unet(padding='valid') needs a fixed input size (e.g. 572x572) to crop the skips"
            )
        for side in input_shape[:2]:
            _valid_output_size(side, depth)
    else:
        _check_same_size(input_shape, 2 ** (depth - 1), "unet(padding='same')")

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    skips = []
    for level in range(depth - 1):
        x = _double_conv(x, filters * 2**level, padding, batch_norm, f"enc{level + 1}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"enc{level + 1}_pool")(x)
    x = _double_conv(x, filters * 2 ** (depth - 1), padding, batch_norm, f"enc{depth}")
    widths = [filters * 2**level for level in reversed(range(depth - 1))]
    x = _decoder(x, skips[::-1], widths, padding, batch_norm)
    outputs = keras.layers.Conv2D(num_classes, 1, name="logits")(x)
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        from zoo.weights import load_weights

        load_weights(model, weights)
    return model


# VGG16 layers used as the U-Net encoder: skips from the deepest to the shallowest, then the bottom.
VGG16_SKIPS = ("block4_conv3", "block3_conv3", "block2_conv2", "block1_conv2")
VGG16_BOTTOM = "block5_conv3"


@register(
    "unet_vgg16",
    task="segmentation",
    paper="U-Net decoder (Ronneberger et al. 2015) on a VGG16 encoder (Simonyan & Zisserman 2015)",
    input_shape=(224, 224, 3),
    weights=("imagenet_backbone",),
    preprocess="caffe",
)
def unet_vgg16(
    num_classes: int | None = None,
    input_shape: tuple[int | None, int | None, int] | None = None,
    weights: str | None = None,
    batch_norm: bool = False,
    decoder_filters: tuple[int, int, int, int] = (512, 256, 128, 64),
    name: str = "unet_vgg16",
    classes: int | None = None,
) -> keras.Model:
    """U-Net with the VGG16 body as its contracting path (same padding).

    The bottom of the U is ``block5_conv3`` (stride 16); four up-convolution levels concatenate
    ``block4_conv3``, ``block3_conv3``, ``block2_conv2`` and ``block1_conv2``.

    Args:
        num_classes: output channels (per-pixel class logits).
        input_shape: (H, W, 3) with H and W multiples of 16, or None for any such size.
        weights: None, ``"imagenet_backbone"`` (keras.applications VGG16 no-top weights into the
            encoder; inputs then need ``zoo.preprocess("unet_vgg16")``) or a weight file path.
        batch_norm: BatchNormalization in the decoder convolutions.
        decoder_filters: filters of the four decoder levels, deepest first.
        name: model name.
        classes: the same count under the classifiers' name (either spelling; they must agree).

    Example:
        >>> model = zoo.get("unet_vgg16", num_classes=3, input_shape=(128, 128, 3), weights="imagenet_backbone")
    """
    from zoo.classification.vgg import vgg16

    num_classes = resolve_num_classes(num_classes, classes, default=2)
    if input_shape is None:
        input_shape = (None, None, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3:
        raise ValueError(f"unet_vgg16: input_shape must be (height, width, 3), got {input_shape}")
    _check_same_size(input_shape, 16, "unet_vgg16")
    if len(decoder_filters) != len(VGG16_SKIPS):
        raise ValueError(
            f"unet_vgg16: decoder_filters needs {len(VGG16_SKIPS)} values, got {decoder_filters}"
        )
    inputs = keras.Input(shape=input_shape, name="image")
    body = vgg16(include_top=False, weights=None, input_tensor=inputs)
    skips = [body.get_layer(n).output for n in VGG16_SKIPS]
    x = _decoder(body.get_layer(VGG16_BOTTOM).output, skips, list(decoder_filters), "same", batch_norm)
    outputs = keras.layers.Conv2D(num_classes, 1, name="logits")(x)
    model = keras.Model(inputs, outputs, name=name)
    if weights == "imagenet_backbone":
        from zoo.weights import imagenet_file, load_by_name

        load_by_name(model, imagenet_file("vgg16", include_top=False), strict=False)
    elif weights is not None:
        from zoo.weights import load_weights

        load_weights(model, weights)
    return model
