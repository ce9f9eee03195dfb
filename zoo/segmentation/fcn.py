"""Fully convolutional networks (Long, Shelhamer & Darrell, "Fully Convolutional Networks for
Semantic Segmentation", CVPR 2015; PAMI 2017): FCN-32s, FCN-16s and FCN-8s on VGG16.

The VGG16 body (``zoo.classification.vgg``, keras.applications layer names ``block1_conv1`` ...
``block5_pool``) is followed by its classifier turned into convolutions, as the course
material puts it ("instead of fully connected layers use convolutions"): ``fc6`` a 7x7x4096
convolution and ``fc7`` a 1x1x4096 convolution (with dropout 0.5), then ``score_fr``, a 1x1
convolution to the class scores at stride 32. The variants differ only in the skips they fuse
(the data in ``VARIANTS``):

* FCN-32s: ``score_fr`` upsampled 32x (``upscore32``);
* FCN-16s: ``score_fr`` upsampled 2x (``upscore2``) + ``score_pool4`` (1x1 conv on
  ``block4_pool``) -> ``fuse_pool4``, upsampled 16x (``upscore16``);
* FCN-8s: ``fuse_pool4`` upsampled 2x (``upscore_pool4``) + ``score_pool3`` (on ``block3_pool``)
  -> ``fuse_pool3``, upsampled 8x (``upscore8``).

As in the paper, the scoring layers start at zero, the 2x upsamplings start as bilinear
interpolation and are learned, and the final upsampling is fixed bilinear interpolation
(``upsampling="bilinear"``, :class:`zoo.layers.BilinearUpsampling`); ``upsampling="learned"``
makes every upsampling a randomly initialised trainable transposed convolution.

Alignment: the authors' Caffe nets pad the input by 100 pixels and use a valid 7x7 ``fc6``, so
they must crop every upsampled map back into register (their crop offsets 5, 9 and 31 for
FCN-8s). Here every convolution, ``fc6`` included, is same-padded and the input sides must be
multiples of 32, so each stride-s map is exactly ``input / s`` and the 2x-upsampled scores fall
on the pooled maps' grid with no offset: the paper's crops are identities and are left out
(``_fuse`` checks the shapes agree). Transposed convolutions use Keras ``"same"`` padding,
which equals Caffe's bilinear deconvolution with ``pad = factor / 2``. Outputs are per-pixel
class logits at the input resolution.

Weights: ``weights="imagenet"`` is the paper's initialisation (VGG16's classifier
convolutionalised: fc1 -> fc6, fc2 -> fc7; :func:`load_convolutionalized_vgg16`);
``"imagenet_backbone"`` loads only the convolutional body. Both need VGG "caffe" preprocessing
(``zoo.preprocess("fcn8s_vgg16")``).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import keras
import numpy as np

from zoo.classification.vgg import vgg16
from zoo.layers.unpooling import BilinearUpsampling
from zoo.registry import register, resolve_num_classes

PAPER = "Long, Shelhamer & Darrell, Fully Convolutional Networks for Semantic Segmentation, CVPR 2015"
STRIDE = 32
_COUNT_SOURCE = (
    "the authors' Caffe models (voc-fcn*s, 21 classes; deconvolutions without bias) counted layer by layer; "
    "the paper's Table 1 gives 134M for the convolutionalised VGG16 (body + fc6 + fc7 = 134,260,544 here)"
)

# name: (skips fused from deep to shallow as (VGG layer, score layer, fuse layer, 2x upsampling layer),
#        final upsampling factor, reference numbers for 21 classes)
VARIANTS: dict[str, tuple[tuple[tuple[str, str, str, str], ...], int, dict[str, Any]]] = {
    "fcn32s_vgg16": ((), 32, {"num_params": 136_152_917, "num_params_source": _COUNT_SOURCE,
                             "voc2011_val_mean_iou": 59.4, "voc2011_val_mean_iou_source": "CVPR 2015 Table 2 (a subset of VOC2011 val)"}),
    "fcn16s_vgg16": ((("block4_pool", "score_pool4", "fuse_pool4", "upscore2"),), 16,
                     {"num_params": 134_815_994, "num_params_source": _COUNT_SOURCE,
                      "voc2011_val_mean_iou": 62.4, "voc2011_val_mean_iou_source": "CVPR 2015 Table 2 (a subset of VOC2011 val)"}),
    "fcn8s_vgg16": ((("block4_pool", "score_pool4", "fuse_pool4", "upscore2"),
                     ("block3_pool", "score_pool3", "fuse_pool3", "upscore_pool4")), 8,
                    {"num_params": 134_489_759, "num_params_source": _COUNT_SOURCE,
                     "voc2011_val_mean_iou": 62.7, "voc2011_val_mean_iou_source": "CVPR 2015 Table 2 (a subset of VOC2011 val)"}),
}  # fmt: skip

UPSAMPLING = ("bilinear", "learned")
WEIGHTS = ("imagenet", "imagenet_backbone")


def _check_input_shape(input_shape: tuple[Any, ...] | None, weights: Any, name: str) -> tuple[Any, ...]:
    if input_shape is None:
        input_shape = (None, None, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"{name}: input_shape must be (height, width, channels), got {input_shape}")
    h, w, c = input_shape
    for side in (h, w):
        if side is not None and (side < STRIDE or side % STRIDE):
            lower = max(STRIDE, side // STRIDE * STRIDE)
            raise ValueError(
                f"{name}: input size {h}x{w} is not supported; FCN needs sides that are positive multiples of "
                f"{STRIDE} (the stride of pool5), e.g. {lower} or {lower + STRIDE}. Resize or pad the images."
            )
    if weights in WEIGHTS and c != 3:
        raise ValueError(f"{name}: the ImageNet VGG16 backbone needs 3-channel input, got {c}")
    return input_shape


def _upsample(x: Any, num_classes: int, factor: int, trainable: bool, mode: str, name: str) -> Any:
    if mode == "bilinear":
        return BilinearUpsampling(num_classes, factor=factor, trainable=trainable, name=name)(x)
    return keras.layers.Conv2DTranspose(
        num_classes, 2 * factor, strides=factor, padding="same", use_bias=False, name=name
    )(x)


def _score(x: Any, num_classes: int, name: str) -> Any:
    """1x1 class scoring, zero-initialised as in the paper (section 4.3)."""
    return keras.layers.Conv2D(num_classes, 1, kernel_initializer="zeros", name=name)(x)


def _fuse(upsampled: Any, score: Any, name: str) -> Any:
    if tuple(upsampled.shape[1:3]) != tuple(score.shape[1:3]):
        raise ValueError(f"{name}: maps out of register {upsampled.shape} vs {score.shape}")
    return keras.layers.Add(name=name)([upsampled, score])


def _fcn(
    name: str,
    num_classes: int | None,
    input_shape: tuple[Any, ...] | None,
    weights: Any,
    upsampling: str,
    fc_units: int,
    dropout: float,
    classes: int | None = None,
) -> keras.Model:
    skips, final_factor, _ = VARIANTS[name]
    num_classes = resolve_num_classes(num_classes, classes, default=21)
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{name}: num_classes must be a positive integer, got {num_classes!r}")
    if upsampling not in UPSAMPLING:
        raise ValueError(f"{name}: upsampling must be one of {', '.join(UPSAMPLING)}, got {upsampling!r}")
    if fc_units < 1:
        raise ValueError(f"{name}: fc_units must be positive, got {fc_units}")
    if not (weights is None or isinstance(weights, (str, os.PathLike))):
        raise ValueError(
            f"{name}: weights must be None, 'imagenet' (VGG16 with fc6/fc7 from its classifier), "
            f"'imagenet_backbone' (VGG16 body only) or a file path, got {weights!r}"
        )
    if weights == "imagenet" and fc_units != 4096:
        raise ValueError(
            f"{name}: weights='imagenet' fills fc6/fc7 from VGG16's fc1/fc2, which needs fc_units=4096"
        )
    input_shape = _check_input_shape(input_shape, weights, name)

    inputs = keras.Input(shape=input_shape, name="image")
    body = vgg16(include_top=False, weights=None, input_tensor=inputs)
    x = body.get_layer("block5_pool").output
    x = keras.layers.Conv2D(fc_units, 7, padding="same", activation="relu", name="fc6")(x)
    x = keras.layers.Dropout(dropout, name="drop6")(x)
    x = keras.layers.Conv2D(fc_units, 1, activation="relu", name="fc7")(x)
    x = keras.layers.Dropout(dropout, name="drop7")(x)
    x = _score(x, num_classes, "score_fr")
    for layer_name, score_name, fuse_name, up_name in skips:
        up = _upsample(x, num_classes, 2, True, upsampling, up_name)
        x = _fuse(up, _score(body.get_layer(layer_name).output, num_classes, score_name), fuse_name)
    outputs = _upsample(
        x, num_classes, final_factor, upsampling == "learned", upsampling, f"upscore{final_factor}"
    )
    model = keras.Model(inputs, outputs, name=name)
    if weights == "imagenet_backbone":
        from zoo.weights import imagenet_file, load_by_name

        load_by_name(model, imagenet_file("vgg16", include_top=False), strict=False)
    elif weights == "imagenet":
        from zoo.weights import imagenet_file

        load_convolutionalized_vgg16(model, imagenet_file("vgg16", include_top=True))
    elif weights is not None:
        from zoo.weights import load_weights

        load_weights(model, weights)
    return model


def load_convolutionalized_vgg16(model: keras.Model, path: str | os.PathLike) -> list[str]:
    """Loads a VGG16 weight file *with* its classifier into an FCN, convolutionalising fc1/fc2.

    The paper's initialisation (section 3.1): the body loads by layer name, ``fc1``'s
    ``(7 * 7 * 512, 4096)`` matrix becomes ``fc6``'s ``7x7x512x4096`` kernel (Keras flattens
    channels-last maps row by row, so a plain reshape keeps every weight on its input position)
    and ``fc2`` becomes ``fc7``'s ``1x1x4096x4096`` kernel. The 1000-class ``predictions`` layer
    is not used.

    Returns:
        Names of the model layers that were filled.

    Example:
        >>> load_convolutionalized_vgg16(model, zoo.weights.imagenet_file("vgg16", include_top=True))
    """
    import h5py

    from zoo.weights import WeightsError, load_by_name, read_legacy_h5

    loaded = load_by_name(model, path, strict=False)
    with h5py.File(path, "r") as f:
        saved = read_legacy_h5(f)
    for dense, conv in (("fc1", "fc6"), ("fc2", "fc7")):
        if dense not in saved:
            raise WeightsError(f"{path} has no {dense!r} layer; weights='imagenet' needs VGG16 with its top")
        kernel, bias = saved[dense]
        layer = model.get_layer(conv)
        shape = tuple(layer.kernel.shape)
        if kernel.size != int(np.prod(shape)) or bias.shape != (shape[-1],):
            raise WeightsError(
                f"{path}: {dense} {kernel.shape} cannot become {conv} {shape} (fc_units must match the file)"
            )
        layer.set_weights([kernel.reshape(shape), bias])
        loaded.append(conv)
    return loaded


def _meta(name: str) -> dict[str, Any]:
    return dict(
        task="segmentation",
        paper=PAPER,
        input_shape=(512, 512, 3),
        weights=WEIGHTS,
        references=VARIANTS[name][2],
        preprocess="caffe",
    )


@register("fcn32s_vgg16", **_meta("fcn32s_vgg16"))
def fcn32s_vgg16(
    num_classes: int | None = None,
    input_shape: tuple[int | None, int | None, int] | None = None,
    weights: str | None = None,
    upsampling: str = "bilinear",
    fc_units: int = 4096,
    dropout: float = 0.5,
    classes: int | None = None,
) -> keras.Model:
    """FCN-32s: VGG16 + convolutional fc6/fc7, scores upsampled 32x.

    Args:
        num_classes: classes (21 for PASCAL VOC, background included).
        input_shape: (H, W, 3) with H and W multiples of 32, or None for any such size.
        weights: None, ``"imagenet"`` (keras.applications VGG16 with its classifier: body by
            layer name, fc1/fc2 convolutionalised into fc6/fc7 as in the paper),
            ``"imagenet_backbone"`` (VGG16 no-top weights into the ``block*`` layers only) or a
            path to a weight file of this model.
        upsampling: ``"bilinear"`` (paper) or ``"learned"``.
        fc_units: width of fc6/fc7 (4096 in the paper; smaller for quick experiments).
        dropout: dropout after fc6 and fc7.
        classes: the same count under the classifiers' name (either spelling; they must agree).

    Reference: 136,152,917 parameters for 21 classes (``zoo.info("fcn32s_vgg16")``).

    Example:
        >>> model = zoo.get("fcn32s_vgg16", num_classes=21, input_shape=(320, 320, 3))
    """
    return _fcn("fcn32s_vgg16", num_classes, input_shape, weights, upsampling, fc_units, dropout, classes)


def _fcn_variant(name: str, doc: str) -> Any:
    """The registered builder of the variant ``name``: :func:`fcn32s_vgg16`'s arguments and defaults."""
    signature = inspect.signature(fcn32s_vgg16)

    def builder(**kwargs: Any) -> keras.Model:
        bound = signature.bind(**kwargs)
        bound.apply_defaults()
        return _fcn(name, **bound.arguments)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = doc
    builder.__signature__ = signature  # type: ignore[attr-defined]
    return register(name, **_meta(name))(builder)


fcn16s_vgg16 = _fcn_variant(
    "fcn16s_vgg16",
    """FCN-16s: FCN-32s plus the pool4 skip, scores upsampled 16x.

    Arguments as :func:`fcn32s_vgg16`. Reference: 134,815,994 parameters for 21 classes.

    Example:
        >>> model = zoo.get("fcn16s_vgg16", num_classes=21, weights="imagenet_backbone")
    """,
)
fcn8s_vgg16 = _fcn_variant(
    "fcn8s_vgg16",
    """FCN-8s: FCN-16s plus the pool3 skip, scores upsampled 8x.

    Arguments as :func:`fcn32s_vgg16`. Reference: 134,489,759 parameters for 21 classes.

    Example:
        >>> model = zoo.get("fcn8s_vgg16", num_classes=4, input_shape=(64, 64, 3), fc_units=256)
    """,
)
