"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015), configurations A, A-LRN, B, C, D, E of the paper's Table 1.

Variants are data: ``CONFIGS`` lists each configuration's layers per block; one private
builder makes every variant. Layer names follow keras.applications (``block1_conv1`` ...
``block5_pool``, ``flatten``, ``fc1``, ``fc2``, ``predictions``), so vgg16 and vgg19 load
keras.applications' ImageNet weight files and give the same outputs.

Parameter counts (top included, 1000 classes): vgg16 138,357,544 and vgg19 143,667,240
(keras.applications and torchvision agree); vgg11 132,863,336 and vgg13 133,047,848
(torchvision); vgg16_c 133,638,952 (the paper's Table 2 rounds it to 134 million). Batch-norm
variants match torchvision's *trainable* counts (Keras also counts the moving statistics).
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.classification._common import finish, image_input, pool, resolve_classes
from zoo.layers import LocalResponseNormalization
from zoo.registry import register

# One entry per block: a list of layer specs. An int is a 3x3 convolution with that many
# filters, ("1x1", f) a 1x1 convolution (configuration C), "LRN" the paper's A-LRN layer.
CONFIGS: dict[str, list[list[Any]]] = {
    "A": [[64], [128], [256, 256], [512, 512], [512, 512]],
    "A-LRN": [[64, "LRN"], [128], [256, 256], [512, 512], [512, 512]],
    "B": [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    "C": [[64, 64], [128, 128], [256, 256, ("1x1", 256)], [512, 512, ("1x1", 512)], [512, 512, ("1x1", 512)]],
    "D": [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
    "E": [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
}

PAPER = "Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition, ICLR 2015"
_TV = "torchvision (trainable parameters)"


def scaled_filters(filters: int, width: float) -> int:
    """``filters`` times a width multiplier, rounded, at least 1 (narrow CPU-sized variants)."""
    return max(1, int(round(filters * width)))


def vgg_features(
    x: Any,
    config: str,
    batch_norm: bool = False,
    last_pool: bool = True,
    width: float = 1.0,
    pool_padding: str = "valid",
    taps: dict[str, Any] | None = None,
) -> Any:
    """Applies VGG's convolutional blocks of ``config`` to ``x`` (keras.applications layer names).

    Args:
        x: a 4-D Keras tensor (channels-last).
        config: a key of ``CONFIGS`` ("A", "A-LRN", "B", "C", "D", "E").
        batch_norm: add BatchNormalization after every convolution (``block1_conv1_bn``).
        last_pool: end with ``block5_pool``; detectors (SSD) replace it with their own pool5.
        width: channel multiplier (1 = the paper; only width 1 takes ImageNet weights).
        pool_padding: ``"valid"`` (the paper, floor) or ``"same"`` (ceil, as SSD's Caffe model).
        taps: if given, filled with ``"block{b}"`` -> that block's last activation before pooling
            (e.g. ``taps["block4"]`` is conv4_3 for SSD and FCN).

    Returns:
        The feature tensor (after ``block5_pool`` or ``block5_conv*``).
    """
    if config not in CONFIGS:
        raise ValueError(f"Unknown VGG configuration {config!r}; choose from {', '.join(CONFIGS)}")
    blocks = CONFIGS[config]
    for b, layers in enumerate(blocks, start=1):
        conv = 0
        for spec in layers:
            if spec == "LRN":
                x = LocalResponseNormalization(depth=5, k=2.0, alpha=1e-4, beta=0.75, name=f"block{b}_lrn")(x)
                continue
            conv += 1
            filters, kernel = (spec[1], 1) if isinstance(spec, tuple) else (spec, 3)
            name = f"block{b}_conv{conv}"
            x = keras.layers.Conv2D(
                scaled_filters(filters, width),
                kernel,
                padding="same",
                activation=None if batch_norm else "relu",
                name=name,
            )(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
                x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
        if taps is not None:
            taps[f"block{b}"] = x
        if b < len(blocks) or last_pool:
            x = keras.layers.MaxPooling2D(2, strides=2, padding=pool_padding, name=f"block{b}_pool")(x)
    return x


# name: (config, batch_norm, keras.applications arch for ImageNet weights, reference numbers)
VARIANTS: dict[str, tuple[str, bool, str | None, dict[str, Any]]] = {
    "vgg11": ("A", False, None, {"num_params": 132_863_336, "num_params_source": "torchvision",
                                 "imagenet_top1": 69.020, "imagenet_top1_source": "torchvision"}),
    "vgg11_lrn": ("A-LRN", False, None, {"num_params": 132_863_336, "num_params_source": "torchvision vgg11 (LRN adds none)",
                                         "imagenet_top1": 70.3, "imagenet_top1_source": "paper Table 3 (29.7% top-1 error)"}),
    "vgg13": ("B", False, None, {"num_params": 133_047_848, "num_params_source": "torchvision",
                                 "imagenet_top1": 69.928, "imagenet_top1_source": "torchvision"}),
    "vgg16_c": ("C", False, None, {"num_params": 133_638_952, "num_params_source": "paper Table 2 (134 million)",
                                   "imagenet_top1": 71.9, "imagenet_top1_source": "paper Table 3 (28.1% top-1 error)"}),
    "vgg16": ("D", False, "vgg16", {"num_params": 138_357_544, "num_params_source": "keras.applications VGG16",
                                    "imagenet_top1": 71.3, "imagenet_top1_source": "keras.applications"}),
    "vgg19": ("E", False, "vgg19", {"num_params": 143_667_240, "num_params_source": "keras.applications VGG19",
                                    "imagenet_top1": 71.3, "imagenet_top1_source": "keras.applications"}),
    "vgg11_bn": ("A", True, None, {"num_params": 132_868_840, "num_params_source": _TV,
                                   "imagenet_top1": 70.370, "imagenet_top1_source": "torchvision"}),
    "vgg13_bn": ("B", True, None, {"num_params": 133_053_736, "num_params_source": _TV,
                                   "imagenet_top1": 71.586, "imagenet_top1_source": "torchvision"}),
    "vgg16_bn": ("D", True, None, {"num_params": 138_365_992, "num_params_source": _TV,
                                   "imagenet_top1": 73.360, "imagenet_top1_source": "torchvision"}),
    "vgg19_bn": ("E", True, None, {"num_params": 143_678_248, "num_params_source": _TV,
                                   "imagenet_top1": 74.218, "imagenet_top1_source": "torchvision"}),
}  # fmt: skip


def _vgg(
    name: str,
    include_top: bool,
    weights: Any,
    input_tensor: Any,
    input_shape: tuple[int, ...] | None,
    pooling: str | None,
    classes: int | None,
    num_classes: int | None,
    classifier_activation: str | None,
) -> keras.Model:
    config, batch_norm, arch, _ = VARIANTS[name]
    n = resolve_classes(classes, num_classes, weights, include_top, has_imagenet=arch is not None)
    x, inputs = image_input(
        input_shape,
        input_tensor,
        default_size=224,
        min_size=32,
        include_top=include_top,
        weights=weights,
        model_name=name,
        fixed_top_size=True,
    )
    x = vgg_features(x, config, batch_norm=batch_norm)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc1")(x)
        x = keras.layers.Dropout(0.5, name="fc1_dropout")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc2")(x)
        x = keras.layers.Dropout(0.5, name="fc2_dropout")(x)
        x = keras.layers.Dense(n, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    return finish(inputs, x, name=name, weights=weights, arch=arch, include_top=include_top)


def _meta(name: str) -> dict[str, Any]:
    """Registry metadata of one variant."""
    _, _, arch, references = VARIANTS[name]
    return dict(
        task="classification",
        paper=PAPER,
        input_shape=(224, 224, 3),
        weights=("imagenet",) if arch else (),
        references=references,
        preprocess="caffe" if arch else "torch",
    )


@register("vgg11", **_meta("vgg11"))
def vgg11(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """VGG-11 (configuration A).

    Arguments as keras.applications.VGG16; see ``VARIANTS`` for the reference numbers.

    Example:
        >>> model = zoo.get("vgg11", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _vgg(
        "vgg11",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
    )


@register("vgg11_lrn", **_meta("vgg11_lrn"))
def vgg11_lrn(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """VGG-11 with LRN after the first convolution (configuration A-LRN).

    Arguments as keras.applications.VGG16; see ``VARIANTS`` for the reference numbers.

    Example:
        >>> model = zoo.get("vgg11_lrn", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _vgg(
        "vgg11_lrn",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
    )


@register("vgg13", **_meta("vgg13"))
def vgg13(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """VGG-13 (configuration B).

    Arguments as keras.applications.VGG16; see ``VARIANTS`` for the reference numbers.

    Example:
        >>> model = zoo.get("vgg13", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _vgg(
        "vgg13",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
    )


@register("vgg16_c", **_meta("vgg16_c"))
def vgg16_c(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """VGG-16 with 1x1 convolutions in blocks 3-5 (configuration C).

    Arguments as keras.applications.VGG16; see ``VARIANTS`` for the reference numbers.

    Example:
        >>> model = zoo.get("vgg16_c", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _vgg(
        "vgg16_c",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
    )


@register("vgg16", **_meta("vgg16"))
def vgg16(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """VGG-16 (configuration D); ImageNet weights from keras.applications.

    Arguments as keras.applications.VGG16; see ``VARIANTS`` for the reference numbers.

    Example:
        >>> model = zoo.get("vgg16", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _vgg(
        "vgg16",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
    )


@register("vgg19", **_meta("vgg19"))
def vgg19(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """VGG-19 (configuration E); ImageNet weights from keras.applications.

    Arguments as keras.applications.VGG16; see ``VARIANTS`` for the reference numbers.

    Example:
        >>> model = zoo.get("vgg19", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _vgg(
        "vgg19",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
    )


@register("vgg11_bn", **_meta("vgg11_bn"))
def vgg11_bn(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """VGG-11 with batch normalisation.

    Arguments as keras.applications.VGG16; see ``VARIANTS`` for the reference numbers.

    Example:
        >>> model = zoo.get("vgg11_bn", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _vgg(
        "vgg11_bn",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
    )


@register("vgg13_bn", **_meta("vgg13_bn"))
def vgg13_bn(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """VGG-13 with batch normalisation.

    Arguments as keras.applications.VGG16; see ``VARIANTS`` for the reference numbers.

    Example:
        >>> model = zoo.get("vgg13_bn", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _vgg(
        "vgg13_bn",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
    )


@register("vgg16_bn", **_meta("vgg16_bn"))
def vgg16_bn(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """VGG-16 with batch normalisation.

    Arguments as keras.applications.VGG16; see ``VARIANTS`` for the reference numbers.

    Example:
        >>> model = zoo.get("vgg16_bn", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _vgg(
        "vgg16_bn",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
    )


@register("vgg19_bn", **_meta("vgg19_bn"))
def vgg19_bn(
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """VGG-19 with batch normalisation.

    Arguments as keras.applications.VGG16; see ``VARIANTS`` for the reference numbers.

    Example:
        >>> model = zoo.get("vgg19_bn", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _vgg(
        "vgg19_bn",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        num_classes,
        classifier_activation,
    )
