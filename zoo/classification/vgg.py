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

``adaptive_pool=True`` adds torchvision's ``AdaptiveAvgPool2d(7)`` before the classifier
(layer ``avgpool``), so the top takes any input size; it is on by default with torchvision
weights (``weights="torchvision"``), which load into vgg11/13/16/19 and their ``_bn`` forms.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.classification._common import (
    ClassifierCfg,
    is_torchvision,
    keras_applications_files,
    register_classifier,
    start,
)
from zoo.layers import AdaptiveAvgPool2D, LocalResponseNormalization
from zoo.weights_torch import Rule, TorchMapping

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


# name: (config, batch_norm)
VARIANTS: dict[str, tuple[str, bool]] = {
    "vgg11": ("A", False),
    "vgg11_lrn": ("A-LRN", False),
    "vgg13": ("B", False),
    "vgg16_c": ("C", False),
    "vgg16": ("D", False),
    "vgg19": ("E", False),
    "vgg11_bn": ("A", True),
    "vgg13_bn": ("B", True),
    "vgg16_bn": ("D", True),
    "vgg19_bn": ("E", True),
}


def _cfg(references: dict[str, Any], imagenet: Any = None, torchvision: str | None = None) -> ClassifierCfg:
    return ClassifierCfg(
        paper=PAPER,
        references=references,
        preprocess="caffe" if imagenet else "torch",
        imagenet=imagenet,
        torchvision=torchvision,
        fixed_top_size=True,
    )


# Per-name settings: reference numbers, keras.applications' files, torchvision's weight sets.
default_cfgs: dict[str, ClassifierCfg] = {
    "vgg11": _cfg({"num_params": 132_863_336, "num_params_source": "torchvision",
                   "imagenet_top1": 69.020, "imagenet_top1_source": "torchvision"}, torchvision="vgg11"),
    "vgg11_lrn": _cfg({"num_params": 132_863_336, "num_params_source": "torchvision vgg11 (LRN adds none)",
                       "imagenet_top1": 70.3, "imagenet_top1_source": "paper Table 3 (29.7% top-1 error)"}),
    "vgg13": _cfg({"num_params": 133_047_848, "num_params_source": "torchvision",
                   "imagenet_top1": 69.928, "imagenet_top1_source": "torchvision"}, torchvision="vgg13"),
    "vgg16_c": _cfg({"num_params": 133_638_952, "num_params_source": "paper Table 2 (134 million)",
                     "imagenet_top1": 71.9, "imagenet_top1_source": "paper Table 3 (28.1% top-1 error)"}),
    "vgg16": _cfg({"num_params": 138_357_544, "num_params_source": "keras.applications VGG16",
                   "imagenet_top1": 71.3, "imagenet_top1_source": "keras.applications"},
                  keras_applications_files("vgg16", "64373286793e3c8b2b4e3219cbf3544b",
                                           "6d6bbae143d832006294945121d1f1fc"), "vgg16"),
    "vgg19": _cfg({"num_params": 143_667_240, "num_params_source": "keras.applications VGG19",
                   "imagenet_top1": 71.3, "imagenet_top1_source": "keras.applications"},
                  keras_applications_files("vgg19", "cbe5617147190e668d6c5d5026f83318",
                                           "253f8cb515780f3b799900260a226db6"), "vgg19"),
    "vgg11_bn": _cfg({"num_params": 132_868_840, "num_params_source": _TV,
                      "imagenet_top1": 70.370, "imagenet_top1_source": "torchvision"}, torchvision="vgg11_bn"),
    "vgg13_bn": _cfg({"num_params": 133_053_736, "num_params_source": _TV,
                      "imagenet_top1": 71.586, "imagenet_top1_source": "torchvision"}, torchvision="vgg13_bn"),
    "vgg16_bn": _cfg({"num_params": 138_365_992, "num_params_source": _TV,
                      "imagenet_top1": 73.360, "imagenet_top1_source": "torchvision"}, torchvision="vgg16_bn"),
    "vgg19_bn": _cfg({"num_params": 143_678_248, "num_params_source": _TV,
                      "imagenet_top1": 74.218, "imagenet_top1_source": "torchvision"}, torchvision="vgg19_bn"),
}  # fmt: skip


def torchvision_mapping(config: str, batch_norm: bool, adaptive_pool: bool) -> TorchMapping:
    """torchvision VGG names -> zoo layers: ``features.{i}`` (conv, BN) in ``make_layers`` order,
    ``classifier.0/3/6`` -> ``fc1`` (NCHW flatten), ``fc2``, ``predictions``."""
    rows, index = [], 0
    for b, layers in enumerate(CONFIGS[config], start=1):
        for c, _ in enumerate(layers, start=1):
            rows.append(Rule(f"features.{index}", f"block{b}_conv{c}", "conv"))
            if batch_norm:
                rows.append(Rule(f"features.{index + 1}", f"block{b}_conv{c}_bn", "bn"))
            index += 3 if batch_norm else 2  # conv, [bn], relu
        index += 1  # max pooling
    source = "avgpool" if adaptive_pool else "block5_pool"
    rows += [
        Rule("classifier.0", "fc1", "dense_nchw", source=source, top=True),
        Rule("classifier.3", "fc2", "dense", top=True),
        Rule("classifier.6", "predictions", "dense", top=True),
    ]
    return TorchMapping(tuple(rows), layout=f"torchvision VGG configuration {config}")


def _create_vgg(variant: str, *, adaptive_pool: bool | None = None, **kwargs: Any) -> keras.Model:
    """Builds VGG ``variant`` (a key of ``VARIANTS``) with keras.applications' arguments."""
    config, batch_norm = VARIANTS[variant]
    cfg = default_cfgs[variant]
    if adaptive_pool is None:
        adaptive_pool = is_torchvision(kwargs.get("weights"))
    args = start(variant, cfg, fixed_top_size=not adaptive_pool, **kwargs)
    x = vgg_features(args.x, config, batch_norm=batch_norm)

    def top(x: Any) -> Any:
        if adaptive_pool:
            x = AdaptiveAvgPool2D((7, 7), name="avgpool")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc1")(x)
        x = keras.layers.Dropout(0.5, name="fc1_dropout")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc2")(x)
        x = keras.layers.Dropout(0.5, name="fc2_dropout")(x)
        return args.predictions(x)

    return args.finish(args.tail(x, top), lambda: torchvision_mapping(config, batch_norm, adaptive_pool))


@register_classifier("vgg11", default_cfgs, _create_vgg)
def vgg11(**kwargs: Any) -> keras.Model:
    """VGG-11 (configuration A).

    Arguments as keras.applications.VGG16 plus ``adaptive_pool``; see ``default_cfgs`` for the
    reference numbers and weight sets.

    Example:
        >>> model = zoo.get("vgg11", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_vgg("vgg11", **kwargs)


@register_classifier("vgg11_lrn", default_cfgs, _create_vgg)
def vgg11_lrn(**kwargs: Any) -> keras.Model:
    """VGG-11 with LRN after the first convolution (configuration A-LRN).

    Arguments as keras.applications.VGG16 plus ``adaptive_pool``; see ``default_cfgs`` for the
    reference numbers and weight sets.

    Example:
        >>> model = zoo.get("vgg11_lrn", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_vgg("vgg11_lrn", **kwargs)


@register_classifier("vgg13", default_cfgs, _create_vgg)
def vgg13(**kwargs: Any) -> keras.Model:
    """VGG-13 (configuration B).

    Arguments as keras.applications.VGG16 plus ``adaptive_pool``; see ``default_cfgs`` for the
    reference numbers and weight sets.

    Example:
        >>> model = zoo.get("vgg13", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_vgg("vgg13", **kwargs)


@register_classifier("vgg16_c", default_cfgs, _create_vgg)
def vgg16_c(**kwargs: Any) -> keras.Model:
    """VGG-16 with 1x1 convolutions in blocks 3-5 (configuration C).

    Arguments as keras.applications.VGG16 plus ``adaptive_pool``; see ``default_cfgs`` for the
    reference numbers and weight sets.

    Example:
        >>> model = zoo.get("vgg16_c", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_vgg("vgg16_c", **kwargs)


@register_classifier("vgg16", default_cfgs, _create_vgg)
def vgg16(**kwargs: Any) -> keras.Model:
    """VGG-16 (configuration D); ImageNet weights from keras.applications or torchvision.

    Arguments as keras.applications.VGG16 plus ``adaptive_pool``; see ``default_cfgs`` for the
    reference numbers and weight sets.

    Example:
        >>> model = zoo.get("vgg16", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_vgg("vgg16", **kwargs)


@register_classifier("vgg19", default_cfgs, _create_vgg)
def vgg19(**kwargs: Any) -> keras.Model:
    """VGG-19 (configuration E); ImageNet weights from keras.applications or torchvision.

    Arguments as keras.applications.VGG16 plus ``adaptive_pool``; see ``default_cfgs`` for the
    reference numbers and weight sets.

    Example:
        >>> model = zoo.get("vgg19", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_vgg("vgg19", **kwargs)


@register_classifier("vgg11_bn", default_cfgs, _create_vgg)
def vgg11_bn(**kwargs: Any) -> keras.Model:
    """VGG-11 with batch normalisation.

    Arguments as keras.applications.VGG16 plus ``adaptive_pool``; see ``default_cfgs`` for the
    reference numbers and weight sets.

    Example:
        >>> model = zoo.get("vgg11_bn", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_vgg("vgg11_bn", **kwargs)


@register_classifier("vgg13_bn", default_cfgs, _create_vgg)
def vgg13_bn(**kwargs: Any) -> keras.Model:
    """VGG-13 with batch normalisation.

    Arguments as keras.applications.VGG16 plus ``adaptive_pool``; see ``default_cfgs`` for the
    reference numbers and weight sets.

    Example:
        >>> model = zoo.get("vgg13_bn", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_vgg("vgg13_bn", **kwargs)


@register_classifier("vgg16_bn", default_cfgs, _create_vgg)
def vgg16_bn(**kwargs: Any) -> keras.Model:
    """VGG-16 with batch normalisation.

    Arguments as keras.applications.VGG16 plus ``adaptive_pool``; see ``default_cfgs`` for the
    reference numbers and weight sets.

    Example:
        >>> model = zoo.get("vgg16_bn", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_vgg("vgg16_bn", **kwargs)


@register_classifier("vgg19_bn", default_cfgs, _create_vgg)
def vgg19_bn(**kwargs: Any) -> keras.Model:
    """VGG-19 with batch normalisation.

    Arguments as keras.applications.VGG16 plus ``adaptive_pool``; see ``default_cfgs`` for the
    reference numbers and weight sets.

    Example:
        >>> model = zoo.get("vgg19_bn", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return _create_vgg("vgg19_bn", **kwargs)
