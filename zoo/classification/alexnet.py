"""AlexNet (Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NIPS 2012).

Two variants, as data:

- ``alexnet``: torchvision's single-tower variant (64-192-384-256-256 filters, no LRN,
  adaptive 6x6 average pooling before the classifier): 61,100,840 parameters.
- ``alexnet_lrn``: the paper's layer table (96-256-384-384-256 filters, 11x11/4 first conv,
  LRN after conv1 and conv2 with k=2, n=5, alpha=1e-4, beta=0.75, overlapping 3x3/2 max
  pooling, dropout 0.5, 4096-4096-1000). Convolutions 2, 4 and 5 are split in two groups
  as on the paper's two GPUs, giving Caffe's bvlc_alexnet count of 60,965,224 parameters
  (the paper: "60 million"); ``grouped=False`` gives the one-tower 62,378,344.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.classification._common import ClassifierCfg, register_classifier, start
from zoo.layers import AdaptiveAvgPool2D, LocalResponseNormalization
from zoo.weights_torch import Rule, TorchMapping

PAPER = "Krizhevsky, Sutskever & Hinton, ImageNet Classification with Deep CNNs, NIPS 2012"

# Per convolution: (filters, kernel, stride, padding, groups in the paper's two-tower form).
CONFIGS: dict[str, dict[str, Any]] = {
    "torchvision": {
        "convs": [
            (64, 11, 4, 2, 1),
            (192, 5, 1, 2, 1),
            (384, 3, 1, 1, 1),
            (256, 3, 1, 1, 1),
            (256, 3, 1, 1, 1),
        ],
        "lrn": False,
        "default_size": 224,
        "min_size": 63,  # smallest input that leaves a 3x3 map before the last pooling
        "adaptive_pool": True,
    },
    "paper": {
        "convs": [
            (96, 11, 4, 0, 1),
            (256, 5, 1, 2, 2),
            (384, 3, 1, 1, 1),
            (384, 3, 1, 1, 2),
            (256, 3, 1, 1, 2),
        ],
        "lrn": True,
        "default_size": 227,
        "min_size": 67,
        "adaptive_pool": False,
    },
}
_POOL_AFTER = (1, 2, 5)  # overlapping 3x3/2 max pooling after these convolutions


# Per-name settings: which configuration, references, and torchvision's weight sets.
default_cfgs: dict[str, ClassifierCfg] = {
    "alexnet": ClassifierCfg(
        paper=PAPER + " (torchvision's single-tower variant)",
        references={
            "num_params": 61_100_840,
            "num_params_source": "torchvision alexnet",
            "imagenet_top1": 56.522,
            "imagenet_top1_source": "torchvision",
        },
        input_size=CONFIGS["torchvision"]["default_size"],
        min_size=CONFIGS["torchvision"]["min_size"],
        torchvision="alexnet",
    ),
    "alexnet_lrn": ClassifierCfg(
        paper=PAPER,
        references={
            "num_params": 60_965_224,
            "num_params_source": "paper ('60 million'; Caffe bvlc_alexnet, two-tower grouping)",
            "num_params_one_tower": 62_378_344,
            "imagenet_top1": 59.3,
            "imagenet_top1_source": "paper Table 2 (1 CNN, 40.7% top-1 error)",
        },
        input_size=CONFIGS["paper"]["default_size"],
        min_size=CONFIGS["paper"]["min_size"],
        preprocess="caffe",
        fixed_top_size=True,
    ),
}
_CONFIG_OF = {"alexnet": "torchvision", "alexnet_lrn": "paper"}


def torchvision_mapping() -> TorchMapping:
    """torchvision AlexNet names -> zoo layers (``fc6`` takes the NCHW flatten of ``avgpool``)."""
    convs = [Rule(f"features.{i}", f"conv{c}", "conv") for c, i in enumerate((0, 3, 6, 8, 10), start=1)]
    head = [
        Rule("classifier.1", "fc6", "dense_nchw", source="avgpool", top=True),
        Rule("classifier.4", "fc7", "dense", top=True),
        Rule("classifier.6", "predictions", "dense", top=True),
    ]
    return TorchMapping(tuple(convs + head), layout="torchvision AlexNet")


def _create_alexnet(
    variant: str, *, dropout: float = 0.5, grouped: bool = True, **kwargs: Any
) -> keras.Model:
    """Builds AlexNet ``variant`` with keras.applications' arguments."""
    cfg = CONFIGS[_CONFIG_OF[variant]]
    args = start(variant, default_cfgs[variant], **kwargs)
    x = args.x
    for i, (filters, kernel, stride, pad, groups) in enumerate(cfg["convs"], start=1):
        if pad:
            x = keras.layers.ZeroPadding2D(pad, name=f"conv{i}_pad")(x)
        x = keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            groups=groups if grouped else 1,
            activation="relu",
            name=f"conv{i}",
        )(x)
        if cfg["lrn"] and i in (1, 2):
            x = LocalResponseNormalization(depth=5, k=2.0, alpha=1e-4, beta=0.75, name=f"conv{i}_lrn")(x)
        if i in _POOL_AFTER:
            x = keras.layers.MaxPooling2D(3, strides=2, name=f"pool{i}")(x)

    def top(x: Any) -> Any:
        if cfg["adaptive_pool"]:
            x = AdaptiveAvgPool2D((6, 6), name="avgpool")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dropout(dropout, name="fc6_dropout")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc6")(x)
        x = keras.layers.Dropout(dropout, name="fc7_dropout")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc7")(x)
        return args.predictions(x)

    return args.finish(args.tail(x, top), torchvision_mapping)


@register_classifier("alexnet", default_cfgs, _create_alexnet)
def alexnet(**kwargs: Any) -> keras.Model:
    """AlexNet as torchvision builds it: 64-192-384-256-256 filters, no LRN, 61,100,840 parameters.

    ``weights="torchvision"`` loads torchvision's ImageNet checkpoint (``grouped`` does not apply).

    Example:
        >>> model = zoo.get("alexnet", weights=None, classes=10, input_shape=(96, 96, 3))
    """
    return _create_alexnet("alexnet", **kwargs)


@register_classifier("alexnet_lrn", default_cfgs, _create_alexnet)
def alexnet_lrn(**kwargs: Any) -> keras.Model:
    """AlexNet as in the paper's layer table: 96-256-384-384-256 filters with LRN after conv1/conv2.

    ``grouped=True`` splits conv2/4/5 in two groups like the paper's two GPUs (60,965,224
    parameters); ``grouped=False`` is the one-tower form (62,378,344).

    Example:
        >>> model = zoo.get("alexnet_lrn", weights=None, classes=10)
    """
    return _create_alexnet("alexnet_lrn", **kwargs)
