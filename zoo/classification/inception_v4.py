"""Inception-v4, Inception-ResNet-v1 and Inception-ResNet-v2.

Szegedy, Ioffe, Vanhoucke and Alemi, "Inception-v4, Inception-ResNet and the Impact of Residual
Connections on Learning", AAAI 2017. The three networks are data: each is a list of stages
(stem, Inception-A/B/C or Inception-ResNet-A/B/C blocks, Reduction-A/B), and a block is a list
of branches, a branch a list of operations. One builder (:func:`_build`) makes all three.

Every convolution is keras.applications' ``conv2d_bn``: convolution without bias, batch norm
(epsilon 1e-3, no scale) and ReLU. A residual block concatenates its branches, projects them
back to the input width with a 1x1 convolution (with bias, linear: "batch-normalization only on
top of the traditional layers, but not on top of the summations", section 3.2), scales the
result (section 3.3: "scaling factors between 0.1 and 0.3") and adds it to its input.

- ``inception_v4``: Figures 3-9 (stem, 4 x A, Reduction-A with k, l, m, n = 192, 224, 256, 384,
  7 x B, Reduction-B, 3 x C, average pooling, dropout keep 0.8). 42,711,400 parameters with
  the top as Keras counts them (batch-norm beta and moving statistics, no scale); with
  PyTorch's accounting (trainable, affine batch norm: gamma and beta) that is 42,679,816,
  osmr/imgclsmob's InceptionV4 count (and keras-hub's ``inception_v4_imagenet`` preset's).
- ``inception_resnet_v1``: Figures 14, 10, 7, 11, 12, 13 (5 x A, Reduction-A with 192, 192,
  256, 384, 10 x B, Reduction-B, 5 x C), scales 0.17 / 0.10 / 0.20 (TF-slim's values for the
  Inception-ResNets). No implementation with published numbers: the test counts the paper's
  filter numbers by hand (22,769,848 parameters with the top, ~22.8 M).
- ``inception_resnet_v2``: layer-compatible with keras.applications.InceptionResNetV2
  (55,873,736 parameters with the top), which is the released TF-slim model: its stem and
  first module are Inception-v3's (not the paper's Figure 3), it has 10 / 20 / 10 A / B / C
  blocks (the paper's Figure 15 schema shows 5 / 10 / 5), scales 0.17 / 0.10 / 0.20 and a
  linear last C block followed by a 1x1 convolution to 1536 channels (``conv_7b``). Unnamed
  layers carry the names of keras.applications' weight file (Keras 2: ``conv2d_1`` ...
  ``conv2d_203``, ``batch_normalization_1`` ... ``_203``), in keras.applications' creation
  order, so ``weights="imagenet"`` loads that file by name (and Keras' own loader, which goes by
  order, would load it too).

timm (``inception_v4``, ``inception_resnet_v2``, ported from TF-slim via Cadene's
pretrained-models) has the same layers in the same order (its Mixed_3a ... Mixed_7a and
repeat/ repeat_1/ repeat_2 blocks) with two differences: its batch norm is affine (a scale
``gamma`` per channel that TF-slim did not train, stored as ones), and its tensors are
channels-first. A timm state_dict therefore maps onto these models layer by layer in order:
conv weight ``(out, in, kh, kw)`` -> kernel ``(kh, kw, in, out)``, BN ``(running_mean,
running_var, bias)`` -> ``(moving_mean, moving_variance, beta)``, with ``gamma`` folded in as
``moving_variance = (running_var + eps) / gamma**2 - eps`` (exact when ``gamma`` is positive),
and timm's ``last_linear``/``classif`` -> ``predictions``. No converter ships here; for
Inception-ResNet-v2 the keras.applications file is the simpler source of the same weights.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.classification._common import ClassifierCfg, register_classifier, start
from zoo.weights import WeightFile

PAPER = "Szegedy et al., Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning, AAAI 2017"

# An operation: ("conv", filters, (kh, kw), stride, padding), ("avg",) a 3x3/1 "same" average
# pooling, ("max",) a 3x3/2 "valid" max pooling, or ("fork", (filters, (kh, kw)), ...) parallel
# convolutions on the same input, concatenated (Inception-C's split 1x3 / 3x1 branches).
# A branch is a list of operations; a block a list of branches.


def _c(filters: int, kernel: int | tuple[int, int] = 1, stride: int = 1, padding: str = "same") -> tuple:
    return ("conv", filters, (kernel, kernel) if isinstance(kernel, int) else kernel, stride, padding)


def _cv(filters: int, kernel: int, stride: int = 1) -> tuple:  # a "valid" convolution (paper's "V")
    return _c(filters, kernel, stride, "valid")


AVG, MAX = ("avg",), ("max",)


def _reduction_a(k: int, l: int, m: int, n: int) -> list:  # noqa: E741  (the paper's names)
    """Figure 7 (Table 1 gives k, l, m, n per network)."""
    return [[_cv(n, 3, 2)], [_c(k), _c(l, 3), _cv(m, 3, 2)], [MAX]]


V4_STEM = [  # Figure 3; branch order as TF-slim / timm (Mixed_3a, Mixed_4a, Mixed_5a)
    ("seq", [_cv(32, 3, 2), _cv(32, 3), _c(64, 3)]),
    ("mixed_3a", [[MAX], [_cv(96, 3, 2)]]),
    ("mixed_4a", [[_c(64), _cv(96, 3)], [_c(64), _c(64, (1, 7)), _c(64, (7, 1)), _cv(96, 3)]]),
    ("mixed_5a", [[_cv(192, 3, 2)], [MAX]]),
]
V4_A = [[_c(96)], [_c(64), _c(96, 3)], [_c(64), _c(96, 3), _c(96, 3)], [AVG, _c(96)]]  # Figure 4
V4_B = [  # Figure 5
    [_c(384)],
    [_c(192), _c(224, (1, 7)), _c(256, (7, 1))],
    [_c(192), _c(192, (7, 1)), _c(224, (1, 7)), _c(224, (7, 1)), _c(256, (1, 7))],
    [AVG, _c(128)],
]
V4_C = [  # Figure 6
    [_c(256)],
    [_c(384), ("fork", (256, (1, 3)), (256, (3, 1)))],
    [_c(384), _c(448, (3, 1)), _c(512, (1, 3)), ("fork", (256, (1, 3)), (256, (3, 1)))],
    [AVG, _c(256)],
]
V4_REDUCTION_B = [  # Figure 8
    [_c(192), _cv(192, 3, 2)],
    [_c(256), _c(256, (1, 7)), _c(320, (7, 1)), _cv(320, 3, 2)],
    [MAX],
]

# A stage: ("seq", ops) plain convolutions, (name, block) one concatenating block, or
# ("repeat", prefix, count, block) / ("residual", prefix, count, block, scale, last_linear).
INCEPTION_V4 = [
    *V4_STEM,
    ("repeat", "inception_a", 4, V4_A),
    ("reduction_a", _reduction_a(192, 224, 256, 384)),
    ("repeat", "inception_b", 7, V4_B),
    ("reduction_b", V4_REDUCTION_B),
    ("repeat", "inception_c", 3, V4_C),
]

INCEPTION_RESNET_V1 = [
    ("seq", [_cv(32, 3, 2), _cv(32, 3), _c(64, 3), MAX, _c(80), _cv(192, 3), _cv(256, 3, 2)]),  # Figure 14
    ("residual", "block35", 5, [[_c(32)], [_c(32), _c(32, 3)], [_c(32), _c(32, 3), _c(32, 3)]], 0.17, False),
    ("reduction_a", _reduction_a(192, 192, 256, 384)),
    ("residual", "block17", 10, [[_c(128)], [_c(128), _c(128, (1, 7)), _c(128, (7, 1))]], 0.10, False),
    (
        "reduction_b",
        [[_c(256), _cv(384, 3, 2)], [_c(256), _cv(256, 3, 2)], [_c(256), _c(256, 3), _cv(256, 3, 2)], [MAX]],
    ),
    ("residual", "block8", 5, [[_c(192)], [_c(192), _c(192, (1, 3)), _c(192, (3, 1))]], 0.20, False),
]

INCEPTION_RESNET_V2 = [  # keras.applications / TF-slim; paper Figures 16-19 for the block widths
    ("seq", [_cv(32, 3, 2), _cv(32, 3), _c(64, 3), MAX, _cv(80, 1), _cv(192, 3), MAX]),
    ("mixed_5b", [[_c(96)], [_c(48), _c(64, 5)], [_c(64), _c(96, 3), _c(96, 3)], [AVG, _c(64)]]),
    ("residual", "block35", 10, [[_c(32)], [_c(32), _c(32, 3)], [_c(32), _c(48, 3), _c(64, 3)]], 0.17, False),
    ("mixed_6a", _reduction_a(256, 256, 384, 384)),
    ("residual", "block17", 20, [[_c(192)], [_c(128), _c(160, (1, 7)), _c(192, (7, 1))]], 0.10, False),
    (
        "mixed_7a",
        [[_c(256), _cv(384, 3, 2)], [_c(256), _cv(288, 3, 2)], [_c(256), _c(288, 3), _cv(320, 3, 2)], [MAX]],
    ),
    ("residual", "block8", 10, [[_c(192)], [_c(192), _c(224, (1, 3)), _c(256, (3, 1))]], 0.20, True),
    ("seq_named", [("conv_7b", _c(1536))]),
]

# name: (stages, default size, min size, ImageNet arch, Keras 2 layer names, references)
VARIANTS: dict[str, tuple[list, int, int, str | None, bool, dict[str, Any]]] = {
    "inception_v4": (INCEPTION_V4, 299, 75, None, False, {
        "num_params": 42_711_400,
        "num_params_source": "Keras count; trainable + one per BN channel = 42,679,816, osmr/imgclsmob InceptionV4 "
        "(trainable, affine BN)",
        "imagenet_top1": 80.2, "imagenet_top1_source": "paper Table 2 (single crop, 19.8% top-1 error)"}),
    "inception_resnet_v1": (INCEPTION_RESNET_V1, 299, 75, None, False, {
        "num_params": 22_769_848,
        "num_params_source": "the paper's Figures 7, 10-14 counted by hand (tests/classification/test_inception_v4.py)",
        "imagenet_top1": 78.7, "imagenet_top1_source": "paper Table 2 (single crop, 21.3% top-1 error)"}),
    "inception_resnet_v2": (INCEPTION_RESNET_V2, 299, 75, "inception_resnet_v2", True, {
        "num_params": 55_873_736, "num_params_source": "keras.applications InceptionResNetV2 (with the top)",
        "imagenet_top1": 80.3, "imagenet_top1_source": "keras.applications InceptionResNetV2 (these weights)",
        "imagenet_top1_paper": 80.1, "imagenet_top1_paper_source": "paper Table 2 (19.9% top-1 error)"}),
}  # fmt: skip


class _Names:
    """Layer names: given ones, or keras.applications' Keras 2 counters (``conv2d_1``, ...)."""

    def __init__(self, keras2: bool) -> None:
        self.keras2 = keras2
        self.counts: dict[str, int] = {}

    def conv(self, name: str) -> tuple[str, str, str]:
        """(conv, batch norm, activation) names for a conv2d_bn called ``name`` where names are free."""
        if not self.keras2:
            return name, f"{name}_bn", f"{name}_ac"
        i = self.counts["conv"] = self.counts.get("conv", 0) + 1
        return f"conv2d_{i}", f"batch_normalization_{i}", f"activation_{i}"

    def pool(self, kind: str, name: str) -> str:
        if not self.keras2:
            return name
        prefix = {"avg": "average_pooling2d", "max": "max_pooling2d"}[kind]
        i = self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}_{i}"


def conv2d_bn(
    x: Any,
    filters: int,
    kernel: tuple[int, int],
    names: tuple[str, str, str],
    strides: int = 1,
    padding: str = "same",
    activation: str | None = "relu",
) -> Any:
    """keras.applications' conv2d_bn: convolution (no bias), batch norm (no scale, eps 1e-3), ReLU."""
    conv, bn, ac = names
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=conv)(x)
    x = keras.layers.BatchNormalization(scale=False, epsilon=1e-3, name=bn)(x)
    return keras.layers.Activation(activation, name=ac)(x) if activation else x


def _op(x: Any, op: tuple, names: _Names, name: str) -> Any:
    kind = op[0]
    if kind == "conv":
        _, filters, kernel, stride, padding = op
        return conv2d_bn(x, filters, kernel, names.conv(name), strides=stride, padding=padding)
    if kind == "avg":
        return keras.layers.AveragePooling2D(3, strides=1, padding="same", name=names.pool("avg", name))(x)
    if kind == "max":
        return keras.layers.MaxPooling2D(3, strides=2, padding="valid", name=names.pool("max", name))(x)
    if kind == "fork":
        parts = [conv2d_bn(x, f, k, names.conv(f"{name}_{i}")) for i, (f, k) in enumerate(op[1:], start=1)]
        return keras.layers.Concatenate(name=f"{name}_concat")(parts)
    raise ValueError(f"unknown operation {op!r}")


def _branches(x: Any, block: list, names: _Names, name: str) -> list[Any]:
    outs = []
    for b, branch in enumerate(block):
        y = x
        for j, op in enumerate(branch, start=1):
            y = _op(y, op, names, f"{name}_b{b}_{j}")
        outs.append(y)
    return outs


def _residual(x: Any, block: list, scale: float, linear: bool, names: _Names, name: str) -> Any:
    mixed = keras.layers.Concatenate(name=f"{name}_mixed")(_branches(x, block, names, name))
    up = keras.layers.Conv2D(x.shape[-1], 1, use_bias=True, name=f"{name}_conv")(mixed)
    up = keras.layers.Rescaling(scale, name=f"{name}_scale")(up)
    x = keras.layers.Add(name=name)([x, up])
    return x if linear else keras.layers.Activation("relu", name=f"{name}_ac")(x)


def inception_v4_features(x: Any, variant: str = "inception_v4") -> Any:
    """Applies ``variant``'s stem and blocks (no pooling, no classifier) to the image tensor ``x``.

    Example:
        >>> features = inception_v4_features(keras.Input((299, 299, 3)))  # (None, 8, 8, 1536)
    """
    stages, keras2 = VARIANTS[variant][0], VARIANTS[variant][4]
    names = _Names(keras2)
    for s, stage in enumerate(stages):
        kind = stage[0]
        if kind == "seq":
            for j, op in enumerate(stage[1], start=1):
                x = _op(x, op, names, f"stem_{s}_{j}")
        elif kind == "seq_named":
            for name, (_, filters, kernel, stride, padding) in stage[1]:
                x = conv2d_bn(x, filters, kernel, (name, f"{name}_bn", f"{name}_ac"), stride, padding)
        elif kind == "repeat":
            _, prefix, count, block = stage
            for i in range(1, count + 1):
                x = keras.layers.Concatenate(name=f"{prefix}_{i}")(
                    _branches(x, block, names, f"{prefix}_{i}")
                )
        elif kind == "residual":
            _, prefix, count, block, scale, last_linear = stage
            for i in range(1, count + 1):
                last = i == count and last_linear
                x = _residual(x, block, 1.0 if last else scale, last, names, f"{prefix}_{i}")
        else:
            x = keras.layers.Concatenate(name=kind)(_branches(x, stage[1], names, kind))
    return x


_KA_IRV2 = "https://storage.googleapis.com/tensorflow/keras-applications/inception_resnet_v2/"
default_cfgs: dict[str, ClassifierCfg] = {
    name: ClassifierCfg(
        paper=PAPER,
        references=refs,
        input_size=size,
        min_size=min_size,
        preprocess="inception",
        imagenet=(
            WeightFile(
                "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
                _KA_IRV2 + "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
                "e693bd0210a403b3192acc6073ad2e96",
            ),
            WeightFile(
                "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
                _KA_IRV2 + "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "d19885ff4a710c122648d3b5c3b684e4",
            ),
        )
        if arch
        else None,
    )
    for name, (_, size, min_size, arch, _, refs) in VARIANTS.items()
}


def _create_inception_v4(variant: str, **kwargs: Any) -> keras.Model:
    """Builds ``variant`` (a key of ``VARIANTS``) with keras.applications' arguments."""
    args = start(variant, default_cfgs[variant], **kwargs)

    def top(x: Any) -> Any:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dropout(0.2, name="dropout")(x)  # Figures 9 and 15: "Dropout (keep 0.8)"
        return args.predictions(x)

    return args.finish(args.tail(inception_v4_features(args.x, variant), top))


@register_classifier("inception_v4", default_cfgs, _create_inception_v4)
def inception_v4(**kwargs: Any) -> keras.Model:
    """Inception-v4 (paper Figures 3-9); 42,711,400 parameters with the top (osmr/imgclsmob: 42,679,816).

    Arguments as keras.applications (inputs of at least 75x75; "inception" preprocessing,
    pixels in [-1, 1]). No Keras ImageNet file exists; see the module docstring for timm's.

    Example:
        >>> model = zoo.get("inception_v4", classes=10, input_shape=(139, 139, 3))
    """
    return _create_inception_v4("inception_v4", **kwargs)


@register_classifier("inception_resnet_v1", default_cfgs, _create_inception_v4)
def inception_resnet_v1(**kwargs: Any) -> keras.Model:
    """Inception-ResNet-v1 (paper Figures 7, 10-15); 22,769,848 parameters with the top.

    Arguments as :func:`inception_v4`. No ImageNet weights are published.

    Example:
        >>> model = zoo.get("inception_resnet_v1", include_top=False, pooling="avg", input_shape=(160, 160, 3))
    """
    return _create_inception_v4("inception_resnet_v1", **kwargs)


@register_classifier("inception_resnet_v2", default_cfgs, _create_inception_v4)
def inception_resnet_v2(**kwargs: Any) -> keras.Model:
    """Inception-ResNet-v2, layer-compatible with keras.applications.InceptionResNetV2 (55,873,736 parameters).

    Arguments as keras.applications.InceptionResNetV2 (inputs of at least 75x75; ImageNet
    weights expect "inception" preprocessing, pixels in [-1, 1]).

    Example:
        >>> model = zoo.get("inception_resnet_v2", include_top=False, weights="imagenet", pooling="avg")
    """
    return _create_inception_v4("inception_resnet_v2", **kwargs)
