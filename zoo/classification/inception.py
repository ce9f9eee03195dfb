"""GoogLeNet (Inception v1) and Inception v3.

GoogLeNet: Szegedy et al., "Going Deeper with Convolutions", CVPR 2015, Table 1 and Figure 3.
``GOOGLENET_INCEPTIONS`` holds the table's filter numbers; one builder makes both variants:

- ``googlenet``: the paper. Convolutions with bias and ReLU, local response normalisation after
  the first pooling and after conv2 (Figure 3; Caffe's bvlc_googlenet constants: n=5,
  alpha=1e-4 / n, beta=0.75, k=1), 7x7 average pooling (global average pooling, equal at 224),
  dropout 0.4, linear. 6,998,552 parameters at 1000 classes, computed from the table's filter
  numbers (weights and biases); the table's "params" column (units of 1,024 weights) sums to
  within 0.5% of its 6.83 million weights, though some of its rows disagree with the filter
  numbers (e.g. 4c: 463K listed, 497.5K from the filters).
- ``googlenet_bn``: torchvision's layout (convolutions without bias + batch norm eps 1e-3,
  no LRN) but with the paper's 5x5 convolutions, where torchvision keeps a documented 3x3
  for weight compatibility: torchvision's 6,624,904 trainable parameters + 16 x 23,808 =
  7,005,832.

Both have the two auxiliary classifiers (after 4a and 4d: 5x5/3 average pooling, 1x1 conv 128,
fc 1024, dropout 0.7, linear) with ``aux_logits=True``: the model then has three outputs
(main, aux1, aux2) for training with ``loss_weights=GOOGLENET_LOSS_WEIGHTS`` (1, 0.3, 0.3);
:func:`inference_model` returns the main-output model sharing the same weights (the
auxiliary classifiers are used in training only).

Inception v3: Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
CVPR 2016. Layer-compatible with keras.applications.InceptionV3 (23,851,784 parameters with
the top): the weighted layers carry the names of keras.applications' ImageNet weight file
(``conv2d_1`` ... ``conv2d_94``, ``batch_normalization_1`` ... ``_94``, ``predictions``;
the concatenations are ``mixed0`` ... ``mixed10``), so ``weights="imagenet"`` loads that file.
``aux_logits=True`` adds the paper's auxiliary head on ``mixed7`` (5x5/3 average pooling,
1x1 conv 128, 5x5 conv 768, linear; needs inputs of at least 299x299) as a second output;
its layers (``aux_*``) are outside the keras.applications layer set, so ImageNet weights
still load (into everything but the auxiliary head).

torchvision's checkpoints (``weights="torchvision"``) need torchvision's layout, which that
argument selects (``layout="torchvision"``):

- googlenet_bn: conv1 padded 3 on both sides, the "5x5" branches 3x3 (as torchvision keeps
  them), pool4 2x2/2, auxiliary heads with adaptive 4x4 pooling, and ``transform_input``
  (torchvision's ImageNet-normalised -> [-1, 1] conversion). Its max poolings use "same"
  padding where torchvision's use ``ceil_mode``: equal whenever the pooled maps are even
  (224, 96, 64 inputs), as in the check against torchvision.
- inception_v3: average pooling that counts the zero padding (``count_include_pad=True``),
  batch norm with scales, and ``transform_input``.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.classification._common import (
    ClassifierArgs,
    ClassifierCfg,
    is_torchvision,
    keras_applications_files,
    register_classifier,
    start,
)
from zoo.classification._common import transform_input as _transform_input
from zoo.layers import AdaptiveAvgPool2D, LocalResponseNormalization
from zoo.weights import load_weights
from zoo.weights_torch import Rule, TorchMapping

GOOGLENET_PAPER = "Szegedy et al., Going Deeper with Convolutions, CVPR 2015"
INCEPTION_V3_PAPER = "Szegedy et al., Rethinking the Inception Architecture for Computer Vision, CVPR 2016"

# ---------------------------------------------------------------------------------------------
# GoogLeNet
# ---------------------------------------------------------------------------------------------

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj. "pool" is a 3x3/2 max pooling.
GOOGLENET_INCEPTIONS: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
GOOGLENET_POOL_AFTER = ("3b", "4e")  # max pooling 3x3/2 between the stages
GOOGLENET_AUX_AFTER = ("4a", "4d")  # the two auxiliary classifiers
GOOGLENET_AUX_LOSS_WEIGHT = 0.3  # paper section 5: "weighted by 0.3"
GOOGLENET_LOSS_WEIGHTS = (1.0, GOOGLENET_AUX_LOSS_WEIGHT, GOOGLENET_AUX_LOSS_WEIGHT)
INCEPTION_V3_AUX_LOSS_WEIGHT = 0.4  # TF-slim's Inception v3 training (the paper gives none)
INCEPTION_V3_LOSS_WEIGHTS = (1.0, INCEPTION_V3_AUX_LOSS_WEIGHT)

# name: batch_norm
GOOGLENET_VARIANTS: dict[str, bool] = {"googlenet": False, "googlenet_bn": True}
GOOGLENET_LAYOUTS = ("paper", "torchvision")

# Per-name settings (timm's default_cfgs): references, keras.applications' / torchvision's weights.
default_cfgs: dict[str, ClassifierCfg] = {
    "googlenet": ClassifierCfg(paper=GOOGLENET_PAPER, references={
        "num_params": 6_998_552,
        "num_params_source": "paper Table 1 structure (weights + biases, no auxiliary classifiers)",
        "imagenet_top5": 89.93, "imagenet_top5_source": "paper Table 3 (1 model, 1 crop: 10.07% top-5 error)"}),
    "googlenet_bn": ClassifierCfg(paper=GOOGLENET_PAPER, torchvision="googlenet", references={
        "num_params": 7_005_832,
        "num_params_source": "torchvision googlenet 6,624,904 trainable + 380,928 for the paper's 5x5 "
                             "convolutions (torchvision uses 3x3); no auxiliary classifiers",
        "imagenet_top1": 69.778, "imagenet_top1_source": "torchvision GoogLeNet_Weights.IMAGENET1K_V1"}),
    "inception_v3": ClassifierCfg(
        paper=INCEPTION_V3_PAPER, input_size=299, min_size=75, preprocess="inception", torchvision="inception_v3",
        imagenet=keras_applications_files("inception_v3", "9a0d58056eeedaa3f26cb7ebd46da564",
                                          "bcbd6486424b2319ff4ef7d526e38f63"),
        references={
            "num_params": 23_851_784,
            "num_params_source": "keras.applications InceptionV3 (all parameters, BN moving statistics included; "
            "no auxiliary head)",
            "imagenet_top1": 77.9,
            "imagenet_top1_source": "keras.applications InceptionV3 (these weights)",
            "imagenet_top1_paper": 78.8,
            "imagenet_top1_paper_source": "paper Table 3, Inception-v3 single crop (21.2% top-1 error)",
            "imagenet_top1_torchvision": 77.294,
        }),
}  # fmt: skip
INCEPTION_V3_REFERENCES = default_cfgs["inception_v3"].references


def _gconv(
    x: Any, filters: int, kernel: int, name: str, batch_norm: bool, strides: int = 1, padding: str = "same"
) -> Any:
    """GoogLeNet convolution: conv+ReLU (paper) or conv (no bias) + BN + ReLU (torchvision)."""
    x = keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        use_bias=not batch_norm,
        activation=None if batch_norm else "relu",
        name=name,
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(epsilon=1e-3, momentum=0.9, name=f"{name}_bn")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def _lrn(x: Any, name: str) -> Any:
    # Caffe's LRN (bvlc_googlenet: local_size 5, alpha 1e-4, beta 0.75) divides alpha by n, k=1.
    return LocalResponseNormalization(depth=5, k=1.0, alpha=1e-4 / 5, beta=0.75, name=name)(x)


def _googlenet_inception(x: Any, spec: tuple[int, ...], name: str, batch_norm: bool, big: int = 5) -> Any:
    """One inception module; ``big`` is the "5x5" branch's kernel (3 in torchvision's layout)."""
    n1, r3, n3, r5, n5, proj = spec
    b1 = _gconv(x, n1, 1, f"{name}_1x1", batch_norm)
    b3 = _gconv(_gconv(x, r3, 1, f"{name}_3x3_reduce", batch_norm), n3, 3, f"{name}_3x3", batch_norm)
    b5 = _gconv(_gconv(x, r5, 1, f"{name}_5x5_reduce", batch_norm), n5, big, f"{name}_5x5", batch_norm)
    bp = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _gconv(bp, proj, 1, f"{name}_pool_proj", batch_norm)
    return keras.layers.Concatenate(name=f"{name}_output")([b1, b3, b5, bp])


def _googlenet_aux(
    x: Any, classes: int, activation: str | None, name: str, batch_norm: bool, adaptive: bool = False
) -> Any:
    """Auxiliary classifier (paper section 5): 5x5/3 avg pool (torchvision: adaptive 4x4), 1x1 conv 128,
    fc 1024, dropout 0.7, linear."""
    if adaptive:
        x = AdaptiveAvgPool2D((4, 4), name=f"{name}_pool")(x)
    else:
        x = keras.layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = _gconv(x, 128, 1, f"{name}_conv", batch_norm)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = keras.layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return keras.layers.Dense(classes, activation=activation, name=f"{name}_predictions")(x)


def _check_aux_size(x: Any, min_size: int, name: str, why: str) -> None:
    """Auxiliary heads flatten or convolve fixed-size maps: they need a known, large enough input."""
    h, w = x.shape[1], x.shape[2]
    if h is None or w is None:
        raise ValueError(f"{name}: aux_logits=True needs a fixed input size (input_shape=(H, W, 3)).")
    if min(h, w) < min_size:
        raise ValueError(
            f"{name}: aux_logits=True needs inputs of at least {min_size}x{min_size} ({why}); got {h}x{w}."
        )


def googlenet_torchvision_mapping(aux_logits: bool) -> TorchMapping:
    """torchvision GoogLeNet names -> zoo layers (``googlenet_bn``, ``layout="torchvision"``)."""

    def basic(tv: str, zoo_name: str, top: bool = False) -> list[Rule]:
        return [
            Rule(f"{tv}.conv", zoo_name, "conv", top=top),
            Rule(f"{tv}.bn", f"{zoo_name}_bn", "bn", top=top),
        ]

    rows = basic("conv1", "conv1_7x7_s2") + basic("conv2", "conv2_3x3_reduce") + basic("conv3", "conv2_3x3")
    branches = [("branch1", "1x1"), ("branch2.0", "3x3_reduce"), ("branch2.1", "3x3"),
                ("branch3.0", "5x5_reduce"), ("branch3.1", "5x5"), ("branch4.1", "pool_proj")]  # fmt: skip
    for key in GOOGLENET_INCEPTIONS:
        for tv, zoo_name in branches:
            rows += basic(f"inception{key}.{tv}", f"inception_{key}_{zoo_name}")
    if aux_logits:
        for i in (1, 2):
            rows += basic(f"aux{i}.conv", f"aux{i}_conv", top=True)
            rows += [
                Rule(f"aux{i}.fc1", f"aux{i}_fc", "dense_nchw", source=f"aux{i}_conv_relu", top=True),
                Rule(f"aux{i}.fc2", f"aux{i}_predictions", "dense", top=True),
            ]
    rows.append(Rule("fc", "predictions", "dense", top=True))
    ignore = () if aux_logits else (r"^aux[12]\.",)
    return TorchMapping(
        tuple(rows), ignore=ignore, layout="torchvision GoogLeNet (googlenet_bn, layout='torchvision')"
    )


def _create_googlenet(
    variant: str,
    *,
    aux_logits: bool = False,
    layout: str | None = None,
    transform_input: bool | None = None,
    **kwargs: Any,
) -> keras.Model:
    """Builds GoogLeNet ``variant`` (paper or batch-norm form) with keras.applications' arguments."""
    batch_norm = GOOGLENET_VARIANTS[variant]
    if is_torchvision(kwargs.get("weights")) and not batch_norm:
        raise ValueError(
            "torchvision's GoogLeNet has batch norm: use zoo.get('googlenet_bn', weights='torchvision')."
        )
    args = start(variant, default_cfgs[variant], **kwargs)
    layout = layout or ("torchvision" if args.torchvision else "paper")
    if layout not in GOOGLENET_LAYOUTS or (layout == "torchvision" and not batch_norm):
        raise ValueError(
            f"{variant}: layout must be 'paper' (or 'torchvision' for googlenet_bn), got {layout!r}"
        )
    if args.torchvision and layout != "torchvision":
        raise ValueError(f"{variant}: torchvision checkpoints need layout='torchvision', got {layout!r}")
    tv = layout == "torchvision"
    if aux_logits and not args.include_top:
        raise ValueError(
            f"{variant}: aux_logits=True needs include_top=True (the auxiliary classifiers are heads)."
        )
    x = args.x
    if aux_logits and not tv:
        _check_aux_size(
            x, 65, variant, "the auxiliary classifiers' 5x5/3 pooling needs a 5x5 inception-4a map"
        )
    if args.torchvision if transform_input is None else transform_input:
        x = _transform_input(x)
    if tv:  # torchvision pads 3 on both sides (Keras "same" pads 2/3 here)
        x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = _gconv(x, 64, 7, "conv1_7x7_s2", batch_norm, strides=2, padding="valid" if tv else "same")
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_3x3_s2")(x)
    if not batch_norm:
        x = _lrn(x, "pool1_norm1")
    x = _gconv(x, 64, 1, "conv2_3x3_reduce", batch_norm)
    x = _gconv(x, 192, 3, "conv2_3x3", batch_norm)
    if not batch_norm:
        x = _lrn(x, "conv2_norm2")
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool2_3x3_s2")(x)
    aux = []
    for key, spec in GOOGLENET_INCEPTIONS.items():
        x = _googlenet_inception(x, spec, f"inception_{key}", batch_norm, big=3 if tv else 5)
        if aux_logits and key in GOOGLENET_AUX_AFTER:
            aux.append(
                _googlenet_aux(
                    x, args.classes, args.classifier_activation, f"aux{len(aux) + 1}", batch_norm, tv
                )
            )
        if key in GOOGLENET_POOL_AFTER:
            size = 2 if (tv and key == "4e") else 3  # torchvision's pool4 is 2x2/2
            x = keras.layers.MaxPooling2D(size, strides=2, padding="same", name=f"pool{key[0]}_3x3_s2")(x)

    def top(x: Any) -> Any:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return args.predictions(keras.layers.Dropout(0.4, name="dropout")(x))

    x = args.tail(x, top)
    outputs = [x, *aux] if aux_logits else x
    return args.finish(outputs, lambda: googlenet_torchvision_mapping(aux_logits))


@register_classifier("googlenet", default_cfgs, _create_googlenet)
def googlenet(**kwargs: Any) -> keras.Model:
    """GoogLeNet as in the paper (Table 1, LRN, no batch norm); 6,998,552 parameters.

    Arguments as keras.applications, plus ``aux_logits``: add the two auxiliary classifiers as
    outputs 2 and 3 (train with ``loss_weights=GOOGLENET_LOSS_WEIGHTS``, predict with
    :func:`inference_model`). No ImageNet weights are published for this layout (torchvision's
    GoogLeNet is :func:`googlenet_bn` with ``weights="torchvision"``).

    Example:
        >>> model = zoo.get("googlenet", classes=10, input_shape=(96, 96, 3), aux_logits=True)
        >>> model.compile("adam", ["sparse_categorical_crossentropy"] * 3, loss_weights=GOOGLENET_LOSS_WEIGHTS)
        >>> predictor = inference_model(model)
    """
    return _create_googlenet("googlenet", **kwargs)


@register_classifier("googlenet_bn", default_cfgs, _create_googlenet)
def googlenet_bn(**kwargs: Any) -> keras.Model:
    """GoogLeNet with batch norm instead of LRN and biases (torchvision's layout, paper's 5x5).

    Arguments as :func:`googlenet`, plus ``layout`` ("paper" or "torchvision", which
    ``weights="torchvision"`` selects) and ``transform_input`` (on with torchvision weights).

    Example:
        >>> model = zoo.get("googlenet_bn", classes=10, input_shape=(64, 64, 3))
        >>> pretrained = zoo.get("googlenet_bn", weights="torchvision")
    """
    return _create_googlenet("googlenet_bn", **kwargs)


def inference_model(model: keras.Model) -> keras.Model:
    """The main-output model of a model built with ``aux_logits=True``, sharing its weights.

    The auxiliary classifiers serve training only; predict and export with this model.
    A single-output model is returned unchanged.

    Example:
        >>> train_model = zoo.get("googlenet", classes=10, input_shape=(96, 96, 3), aux_logits=True)
        >>> predictor = inference_model(train_model)  # same weights, one output
    """
    if len(model.outputs) == 1:
        return model
    return keras.Model(model.input, model.outputs[0], name=model.name)


# ---------------------------------------------------------------------------------------------
# Inception v3 (keras.applications layout)
# ---------------------------------------------------------------------------------------------

# The modules after the stem, in order: ("A", pool projection filters) for the 35x35 modules
# (figure 5), ("B",) the 35->17 grid reduction, ("C", 7x7 width) for the 17x17 modules with
# factorised 1x7/7x1 convolutions (figure 6), ("D",) the 17->8 reduction, ("E",) the 8x8 modules
# with expanded filter banks (figure 7).
INCEPTION_V3_BLOCKS: list[tuple[Any, ...]] = [
    ("A", 32), ("A", 64), ("A", 64), ("B",),
    ("C", 128), ("C", 160), ("C", 160), ("C", 192), ("D",),
    ("E",), ("E",),
]  # fmt: skip


class _Keras2Names:
    """Names layers as the keras.applications weight file does (Keras 2: ``conv2d_1``, ``conv2d_2``...)."""

    def __init__(self, torchvision: bool = False) -> None:
        self.counts: dict[str, int] = {}
        self.torchvision = torchvision  # torchvision's layout: BN scales, pooling counts the padding

    def index(self, prefix: str) -> int:
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return self.counts[prefix]

    def __call__(self, prefix: str) -> str:
        return f"{prefix}_{self.index(prefix)}"


def _conv_bn(
    x: Any, filters: int, rows: int, cols: int, names: _Keras2Names, padding="same", strides=1
) -> Any:
    """keras.applications' conv2d_bn: conv (no bias) + BN (no scale; torchvision's has one) + ReLU."""
    i = names.index("conv")
    x = keras.layers.Conv2D(
        filters, (rows, cols), strides=strides, padding=padding, use_bias=False, name=f"conv2d_{i}"
    )(x)
    x = keras.layers.BatchNormalization(scale=names.torchvision, name=f"batch_normalization_{i}")(x)
    return keras.layers.Activation("relu", name=f"activation_{i}")(x)


def _avg_pool(x: Any, names: _Keras2Names) -> Any:
    """3x3/1 average pooling: Keras' "same" averages real pixels only; torchvision's counts the zeros."""
    name = names("average_pooling2d")
    if names.torchvision:
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        return keras.layers.AveragePooling2D(3, strides=1, name=name)(x)
    return keras.layers.AveragePooling2D(3, strides=1, padding="same", name=name)(x)


def _max_pool(x: Any, names: _Keras2Names) -> Any:
    return keras.layers.MaxPooling2D(3, strides=2, name=names("max_pooling2d"))(x)


def _module_a(x: Any, proj: int, names: _Keras2Names, name: str) -> Any:
    b1 = _conv_bn(x, 64, 1, 1, names)
    b5 = _conv_bn(_conv_bn(x, 48, 1, 1, names), 64, 5, 5, names)
    b3 = _conv_bn(_conv_bn(_conv_bn(x, 64, 1, 1, names), 96, 3, 3, names), 96, 3, 3, names)
    bp = _conv_bn(_avg_pool(x, names), proj, 1, 1, names)
    return keras.layers.Concatenate(name=name)([b1, b5, b3, bp])


def _module_b(x: Any, names: _Keras2Names, name: str) -> Any:
    b3 = _conv_bn(x, 384, 3, 3, names, padding="valid", strides=2)
    bd = _conv_bn(_conv_bn(x, 64, 1, 1, names), 96, 3, 3, names)
    bd = _conv_bn(bd, 96, 3, 3, names, padding="valid", strides=2)
    return keras.layers.Concatenate(name=name)([b3, bd, _max_pool(x, names)])


def _module_c(x: Any, width: int, names: _Keras2Names, name: str) -> Any:
    b1 = _conv_bn(x, 192, 1, 1, names)
    b7 = _conv_bn(x, width, 1, 1, names)
    b7 = _conv_bn(_conv_bn(b7, width, 1, 7, names), 192, 7, 1, names)
    bd = _conv_bn(x, width, 1, 1, names)
    for filters, rows, cols in [(width, 7, 1), (width, 1, 7), (width, 7, 1), (192, 1, 7)]:
        bd = _conv_bn(bd, filters, rows, cols, names)
    bp = _conv_bn(_avg_pool(x, names), 192, 1, 1, names)
    return keras.layers.Concatenate(name=name)([b1, b7, bd, bp])


def _module_d(x: Any, names: _Keras2Names, name: str) -> Any:
    b3 = _conv_bn(_conv_bn(x, 192, 1, 1, names), 320, 3, 3, names, padding="valid", strides=2)
    b7 = _conv_bn(_conv_bn(_conv_bn(x, 192, 1, 1, names), 192, 1, 7, names), 192, 7, 1, names)
    b7 = _conv_bn(b7, 192, 3, 3, names, padding="valid", strides=2)
    return keras.layers.Concatenate(name=name)([b3, b7, _max_pool(x, names)])


def _module_e(x: Any, names: _Keras2Names, name: str, index: int) -> Any:
    b1 = _conv_bn(x, 320, 1, 1, names)
    b3 = _conv_bn(x, 384, 1, 1, names)
    b3 = keras.layers.Concatenate(name=f"mixed9_{index}")(
        [_conv_bn(b3, 384, 1, 3, names), _conv_bn(b3, 384, 3, 1, names)]
    )
    bd = _conv_bn(_conv_bn(x, 448, 1, 1, names), 384, 3, 3, names)
    bd = keras.layers.Concatenate(name=names("concatenate"))(
        [_conv_bn(bd, 384, 1, 3, names), _conv_bn(bd, 384, 3, 1, names)]
    )
    bp = _conv_bn(_avg_pool(x, names), 192, 1, 1, names)
    return keras.layers.Concatenate(name=name)([b1, b3, bd, bp])


def inception_v3_features(x: Any, layout: str = "keras") -> Any:
    """Applies Inception v3's stem and modules to ``x`` (keras.applications layer names; ends at ``mixed10``).

    ``layout="torchvision"`` gives the batch norms scales and makes the 3x3 average poolings count
    the padding, as torchvision's Inception3.

    Example:
        >>> features = inception_v3_features(keras.Input((299, 299, 3)))  # (None, 8, 8, 2048)
    """
    names = _Keras2Names(torchvision=layout == "torchvision")
    x = _conv_bn(x, 32, 3, 3, names, padding="valid", strides=2)
    x = _conv_bn(x, 32, 3, 3, names, padding="valid")
    x = _conv_bn(x, 64, 3, 3, names)
    x = _max_pool(x, names)
    x = _conv_bn(x, 80, 1, 1, names, padding="valid")
    x = _conv_bn(x, 192, 3, 3, names, padding="valid")
    x = _max_pool(x, names)
    e_index = 0
    for i, (kind, *args) in enumerate(INCEPTION_V3_BLOCKS):
        name = f"mixed{i}"
        if kind == "A":
            x = _module_a(x, args[0], names, name)
        elif kind == "B":
            x = _module_b(x, names, name)
        elif kind == "C":
            x = _module_c(x, args[0], names, name)
        elif kind == "D":
            x = _module_d(x, names, name)
        else:
            x = _module_e(x, names, name, e_index)
            e_index += 1
    return x


def _inception_v3_aux(x: Any, classes: int, activation: str | None, scale: bool = False) -> Any:
    """The paper's auxiliary head on the 17x17 grid: 5x5/3 avg pool, 1x1 conv 128, 5x5 conv 768, linear."""
    x = keras.layers.AveragePooling2D(5, strides=3, name="aux_pool")(x)
    for filters, kernel, name in [(128, 1, "aux_conv1"), (768, 5, "aux_conv2")]:
        x = keras.layers.Conv2D(filters, kernel, use_bias=False, name=f"{name}_conv")(x)
        x = keras.layers.BatchNormalization(scale=scale, name=f"{name}_bn")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="aux_avg_pool")(x)
    return keras.layers.Dense(classes, activation=activation, name="aux_predictions")(x)


# torchvision Inception3's convolutions in the order the zoo creates conv2d_1 ... conv2d_94.
_TV_V3_STEM = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"]
_TV_V3_MODULES = {
    "A": ["branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3",
          "branch_pool"],
    "B": ["branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
    "C": ["branch1x1", "branch7x7_1", "branch7x7_2", "branch7x7_3", "branch7x7dbl_1", "branch7x7dbl_2",
          "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5", "branch_pool"],
    "D": ["branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"],
    "E": ["branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_1", "branch3x3dbl_2",
          "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"],
}  # fmt: skip
_TV_V3_MODULE_NAMES = ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                       "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]  # fmt: skip


def inception_v3_torchvision_mapping(aux_logits: bool) -> TorchMapping:
    """torchvision Inception3 names -> zoo layers (``conv2d_{i}`` / ``batch_normalization_{i}`` by creation order)."""
    order = list(_TV_V3_STEM)
    for module, (kind, *_) in zip(_TV_V3_MODULE_NAMES, INCEPTION_V3_BLOCKS):
        order += [f"{module}.{branch}" for branch in _TV_V3_MODULES[kind]]
    rows = []
    for i, tv in enumerate(order, start=1):
        rows += [
            Rule(f"{tv}.conv", f"conv2d_{i}", "conv"),
            Rule(f"{tv}.bn", f"batch_normalization_{i}", "bn"),
        ]
    if aux_logits:
        for tv, zoo_name in (("conv0", "aux_conv1"), ("conv1", "aux_conv2")):
            rows += [
                Rule(f"AuxLogits.{tv}.conv", f"{zoo_name}_conv", "conv", top=True),
                Rule(f"AuxLogits.{tv}.bn", f"{zoo_name}_bn", "bn", top=True),
            ]
        rows.append(Rule("AuxLogits.fc", "aux_predictions", "dense", top=True))
    rows.append(Rule("fc", "predictions", "dense", top=True))
    ignore = () if aux_logits else (r"^AuxLogits\.",)
    return TorchMapping(tuple(rows), ignore=ignore, layout="torchvision Inception3 (layout='torchvision')")


def _create_inception_v3(
    variant: str,
    *,
    aux_logits: bool = False,
    layout: str | None = None,
    transform_input: bool | None = None,
    **kwargs: Any,
) -> keras.Model:
    """Builds Inception v3 (keras.applications or torchvision layout) with keras.applications' arguments."""
    name = variant
    args: ClassifierArgs = start(name, default_cfgs[name], **kwargs)
    layout = layout or ("torchvision" if args.torchvision else "keras")
    if layout not in ("keras", "torchvision"):
        raise ValueError(f"{name}: layout must be 'keras' or 'torchvision', got {layout!r}")
    if args.torchvision and layout != "torchvision":
        raise ValueError(f"{name}: torchvision checkpoints need layout='torchvision', got {layout!r}")
    if args.weights == "imagenet" and layout != "keras":
        raise ValueError(
            f"{name}: weights='imagenet' (keras.applications) needs layout='keras', got {layout!r}"
        )
    if aux_logits and not args.include_top:
        raise ValueError(
            f"{name}: aux_logits=True needs include_top=True (the auxiliary classifier is a head)."
        )
    x = args.x
    if aux_logits:
        _check_aux_size(
            x, 299, name, "the auxiliary head's 5x5/3 pooling and 5x5 convolution need a 17x17 mixed7 map"
        )
    if args.torchvision if transform_input is None else transform_input:
        x = _transform_input(x)
    x = inception_v3_features(x, layout)

    def top(x: Any) -> Any:
        return args.predictions(keras.layers.GlobalAveragePooling2D(name="avg_pool")(x))

    x = args.tail(x, top)
    mapping = lambda: inception_v3_torchvision_mapping(aux_logits)  # noqa: E731
    tv = layout == "torchvision"
    if not aux_logits:
        return args.finish(x, mapping)
    if tv:
        body = args.finish(x, load=False)
        aux = _inception_v3_aux(
            body.get_layer("mixed7").output, args.classes, args.classifier_activation, True
        )
        args.inputs = body.input
        return args.finish([body.output, aux], mapping)
    # The auxiliary head is not in the ImageNet file: load the body first, then add the head.
    imagenet = isinstance(args.weights, str) and args.weights == "imagenet"
    body = args.finish(x, load=imagenet)
    aux = _inception_v3_aux(body.get_layer("mixed7").output, args.classes, args.classifier_activation)
    model = keras.Model(body.input, [body.output, aux], name=name)
    return model if imagenet else load_weights(model, args.weights, include_top=True)


@register_classifier("inception_v3", default_cfgs, _create_inception_v3)
def inception_v3(**kwargs: Any) -> keras.Model:
    """Inception v3, layer-compatible with keras.applications.InceptionV3 (23,851,784 parameters).

    Arguments as keras.applications.InceptionV3 (inputs of at least 75x75; ImageNet weights
    expect "inception" preprocessing, pixels scaled to [-1, 1]), plus ``aux_logits``: add the
    auxiliary head on ``mixed7`` as a second output (inputs of at least 299x299; train with
    ``loss_weights=INCEPTION_V3_LOSS_WEIGHTS``, predict with :func:`inference_model`);
    ``layout`` ("keras" or "torchvision") and ``transform_input``, which ``weights="torchvision"``
    sets to torchvision's (inputs: ``zoo.preprocess("inception_v3", weights="torchvision")``).

    Example:
        >>> model = zoo.get("inception_v3", include_top=False, weights="imagenet", input_shape=(150, 150, 3))
    """
    return _create_inception_v3("inception_v3", **kwargs)
