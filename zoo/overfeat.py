"""OverFeat's efficient sliding window (Sermanet et al., ICLR 2014): fully connected layers as convolutions.

A classifier trained on W x W windows ends with Flatten + Dense layers over an h x w x c feature map.
``convolutionalize`` rewrites the first Dense as an h x w convolution over that map and every later
Dense as a 1 x 1 convolution (same weights, reshaped), so the network takes images of any size and
returns a grid of class scores in one pass: score-map cell (i, j) is the classifier's answer for the
window whose top-left corner is (j * stride, i * stride), where ``stride`` is the product of the
body's strides (32 for AlexNet and VGG16). The material's example: a 221 px network gives 1 x 1
scores and a 257 px image 2 x 2 (OverFeat's stride 36); for the zoo's AlexNet/VGG16 at 224 px a
256 px image gives 2 x 2.

Exactness: the cell equals the classifier head applied to the window of the shared feature map
(exact); it equals the classifier run on the cropped window exactly when the body does not pad
(zero padding sees different neighbours in the crop than in the full image). The zoo's AlexNet and
VGG16 pad, so their crop scores agree only approximately; ``tests/test_overfeat.py`` checks both.

``sliding_window_detect`` runs a convolutionalized classifier with a box-regression head at several
scales, turns every score-map cell into a scored box, and merges them with the shared per-class NMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.ops.nms import batched_nms

_SKIP_AT_INFERENCE = (keras.layers.Dropout, keras.layers.InputLayer)


def _chain(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers in order, checking that each feeds only the next (a plain chain)."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    previous = model.inputs[0]
    for layer in layers:
        if layer.input is not previous and not (
            isinstance(layer.input, list) and len(layer.input) == 1 and layer.input[0] is previous
        ):
            raise ValueError(
                f"convolutionalize needs a plain chain of layers (AlexNet, VGG, a Sequential model); "
                f"{model.name!r} branches at layer {layer.name!r}. Build the score head on the body's feature map instead."
            )
        previous = layer.output
    return layers


def _dense_as_conv(dense: keras.layers.Dense, kernel_hw: tuple[int, int], channels: int, name: str) -> Any:
    kernel, *bias = dense.get_weights()
    conv = keras.layers.Conv2D(
        dense.units,
        kernel_hw,
        activation=dense.activation,
        use_bias=dense.use_bias,
        name=name,
    )
    conv.build((None, None, None, channels))
    conv.set_weights([kernel.reshape(*kernel_hw, channels, dense.units), *bias])
    return conv


def convolutionalize(model: keras.Model, channels: int | None = None) -> keras.Model:
    """A fully convolutional copy of a classifier: Flatten + Dense -> k x k conv, then 1 x 1 convs.

    The body's layers are shared (same weight objects); the new convolutions hold reshaped copies of
    the Dense weights. Dropout is dropped (inference). An ``AdaptiveAvgPool2D`` before the flatten
    (torchvision's AlexNet) is kept out only where it is the identity at the model's input size
    (a 224 px AlexNet has a 6 x 6 map already). The result accepts images of any size at least the
    original input and outputs [B, H', W', units] score maps (softmax over the last axis as the
    original).

    Args:
        model: a classifier built with a fixed input size whose layers form a chain ending in
            Flatten + Dense layers (``zoo.get("alexnet")``, ``zoo.get("vgg16")``, a Sequential).
        channels: input channels of the new model (default: the classifier's).

    Returns:
        The fully convolutional ``keras.Model``; ``model.overfeat_stride`` and
        ``model.overfeat_window`` (the original input's (height, width)) are set on it.

    Raises:
        ValueError: no Flatten + Dense top, a branching model, a non-identity adaptive pooling.

    Example:
        >>> net = convolutionalize(zoo.get("alexnet", classes=10, input_shape=(224, 224, 3)))
        >>> net(np.zeros((1, 256, 256, 3))).shape
        TensorShape([1, 2, 2, 10])
    """
    from zoo.layers import AdaptiveAvgPool2D

    layers = _chain(model)
    flat = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Flatten)]
    if not flat:
        raise ValueError(
            f"{model.name!r} has no Flatten layer; convolutionalize needs a Flatten + Dense classifier top"
        )
    f = flat[0]
    body, top = layers[:f], layers[f + 1 :]
    if not any(isinstance(layer, keras.layers.Dense) for layer in top):
        raise ValueError(f"{model.name!r} has no Dense layer after its Flatten")
    window = tuple(int(v) for v in model.input_shape[1:3])
    c = int(channels or model.input_shape[-1])
    image = keras.Input((None, None, c), name="image")
    x = image
    stride = 1
    for layer in body:
        if isinstance(layer, AdaptiveAvgPool2D):
            if tuple(layer.input.shape[1:3]) != tuple(layer.output.shape[1:3]):
                raise ValueError(
                    f"{model.name!r}: adaptive pooling {layer.name!r} maps {tuple(layer.input.shape[1:3])} to "
                    f"{tuple(layer.output.shape[1:3])}; it is no sliding window. Build the classifier at an input "
                    "size where it is the identity (AlexNet: 224 px)."
                )
            continue
        if isinstance(layer, _SKIP_AT_INFERENCE):
            continue
        s = getattr(layer, "strides", 1)
        stride *= int(s[0] if isinstance(s, (tuple, list)) else s)
        x = layer(x)
    fh, fw, fc = (int(v) for v in layers[f].input.shape[1:])
    kernel_hw, channels_in = (fh, fw), fc
    for layer in top:
        if isinstance(layer, _SKIP_AT_INFERENCE):
            continue
        if isinstance(layer, keras.layers.Dense):
            x = _dense_as_conv(layer, kernel_hw, channels_in, f"{layer.name}_conv")(x)
            channels_in, kernel_hw = layer.units, (1, 1)
        elif isinstance(layer, keras.layers.Activation):
            x = layer(x)
        else:
            raise ValueError(
                f"convolutionalize cannot convert layer {layer.name!r} ({type(layer).__name__}) of the top"
            )
    net = keras.Model(image, x, name=f"{model.name}_convolutional")
    net.overfeat_stride = stride
    net.overfeat_window = window
    return net


def window_boxes(map_size: tuple[int, int], stride: int, window: tuple[int, int]) -> np.ndarray:
    """xyxy pixel boxes [H' * W', 4] of the windows behind a score map (row-major cells).

    Example:
        >>> window_boxes((2, 2), 32, (224, 224))[3]
        array([ 32.,  32., 256., 256.], dtype=float32)
    """
    rows, cols = np.meshgrid(np.arange(map_size[0]), np.arange(map_size[1]), indexing="ij")
    x1, y1 = cols.reshape(-1) * stride, rows.reshape(-1) * stride
    return np.stack([x1, y1, x1 + window[1], y1 + window[0]], axis=-1).astype("float32")


def sliding_window_detect(
    net: keras.Model,
    images: np.ndarray,
    scales: Sequence[float] = (1.0,),
    *,
    score_threshold: float = 0.3,
    iou_threshold: float = 0.3,
    max_detections: int = 20,
) -> dict[str, np.ndarray]:
    """OverFeat-style multi-scale detection with a convolutionalized classifier + box regressor.

    ``net`` maps an image to ``{"scores": [B, H', W', K] (softmax, class 0 = background),
    "boxes": [B, H', W', 4]}`` where the boxes are (x1, y1, x2, y2) relative to the cell's window
    (0..1), e.g. ``convolutionalize`` applied to a ``zoo.localization`` two-head classifier. At each
    scale the image is resized by that factor, every cell gives a box (its window's regressed box)
    scored by the classes, and all scales are merged with the per-class NMS of ``zoo.ops.nms``.

    Args:
        net: the fully convolutional two-output network (``overfeat_stride``, ``overfeat_window``).
        images: [B, H, W, 3] RGB 0..255.
        scales: resize factors (each must leave at least one window).
        score_threshold, iou_threshold, max_detections: merging settings.

    Returns:
        The zoo detections dict (xyxy pixels of ``images``).

    Example:
        >>> dets = sliding_window_detect(net, images, scales=(1.0, 1.5, 2.0))
    """
    images = np.asarray(images, dtype="float32")
    h, w = images.shape[1:3]
    stride, window = net.overfeat_stride, net.overfeat_window
    all_boxes, all_scores = [], []
    for scale in scales:
        sh, sw = int(round(h * scale)), int(round(w * scale))
        if sh < window[0] or sw < window[1]:
            raise ValueError(f"scale {scale} makes the {h}x{w} images smaller than the {window} window")
        scaled = images if (sh, sw) == (h, w) else ops.image.resize(images, (sh, sw))
        out = net(scaled, training=False)
        scores = np.asarray(ops.convert_to_numpy(out["scores"]))
        rel = np.asarray(ops.convert_to_numpy(out["boxes"]))
        mh, mw = scores.shape[1:3]
        win = window_boxes((mh, mw), stride, window)  # scaled pixels
        size = np.concatenate([win[:, 2:] - win[:, :2]] * 2, axis=-1)
        boxes = np.concatenate([win[:, :2]] * 2, axis=-1) + rel.reshape(len(rel), -1, 4) * size
        all_boxes.append(boxes / scale)
        all_scores.append(scores.reshape(len(scores), mh * mw, -1))
    boxes = np.concatenate(all_boxes, axis=1)
    scores = np.concatenate(all_scores, axis=1)
    boxes[..., 0::2] = np.clip(boxes[..., 0::2], 0, w)
    boxes[..., 1::2] = np.clip(boxes[..., 1::2], 0, h)
    dets = batched_nms(
        boxes,
        scores,
        max_detections=max_detections,
        iou_threshold=iou_threshold,
        score_threshold=score_threshold,
        pre_nms_top_k=None,
        background_class=0,
    )
    return {k: np.asarray(ops.convert_to_numpy(v)) for k, v in dets.items()}
