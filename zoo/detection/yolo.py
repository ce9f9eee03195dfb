"""YOLO v1: You Only Look Once (Redmon, Divvala, Girshick & Farhadi, CVPR 2016).

One network looks at the whole image once and regresses, for an S x S grid, B boxes per cell
(x, y, w, h, confidence) and C class probabilities per cell: an output of S x S x (B * 5 + C),
7 x 7 x 30 for PASCAL VOC (S = 7, B = 2, C = 20). Variants are data (``CONFIGS``):

- ``yolo_v1``: the paper's Fig. 3, 24 convolutional layers (GoogLeNet-inspired 1x1 reductions
  followed by 3x3 convolutions) and 2 fully connected layers (4096, S * S * (B * 5 + C)), leaky
  ReLU 0.1 everywhere but the last layer (linear), dropout 0.5 after the first fully connected
  layer. 448 x 448 input, total stride 64 (a 7 x 7 x 1024 last map). The leaky layers start from
  He-normal weights (std sqrt(2 / fan_in), darknet's initialisation of convolutional layers); with
  Keras' default Glorot-uniform the from-scratch network's output starts near 0 and learns slower
  (one batch overfitted for 300 steps: training-batch mAP 0.48 vs 0.80 with He, docs/RESULTS.md).
  ``batch_norm=True`` (not the paper: YOLO v2's change) puts batch normalisation after every
  convolution (which then has no bias) for from-scratch training.
- ``fast_yolo_v1``: "Fast YOLO", 9 convolutional layers with fewer filters (16 ... 1024, the
  layout of darknet's tiny model; the paper gives no table), the same head.
- ``head="conv"`` (not the paper: YOLO v2's kind of head) replaces the two fully connected layers by
  one linear ``head_kernel`` x ``head_kernel`` convolution on the last feature map, which must then be
  S x S (at 448 px the paper's body ends on 7 x 7; at 112 px ``max_stride=16`` for Fast YOLO). All
  cells share one predictor, so every object trains it, where the FC head gives each cell its own
  output weights. From scratch on the shapes at 112 px (Fast YOLO, width 0.25, batch norm,
  ``max_stride=16``, 1200 Adam steps), the FC head stays at "predict the average box and class"
  (mAP@0.5 0.021) and the 1 x 1 conv head learns (0.789; docs/RESULTS.md, issue 16 session 7).

Output layout (raw, linear; training, prediction and export use the same graph): ``grid``
[batch, S, S, B * 5 + C]; per cell the B boxes come first as (x, y, sqrt(w), sqrt(h), confidence),
then the C class probabilities. x, y are the box centre's offset inside its cell (0..1); w, h are
relative to the image, and the network predicts their square roots (darknet's ``sqrt=1``; the
paper: "we predict the square root of the bounding box width and height"), so the loss's
sqrt(w) - sqrt(w_hat) never takes the root of a negative prediction.

Classes follow the zoo's detector convention (as SSD): ``num_classes`` counts the background id 0,
objects have ids 1..num_classes-1, so C = num_classes - 1 (``num_classes=21`` -> 7 x 7 x 30).

Provides ``yolo_targets`` (ground truth -> per-cell targets), ``yolo_loss`` (the paper's equation 3),
``yolo_decode`` (grid -> 98 boxes and class-specific confidences), ``YOLOv1`` (the Keras model:
``compute_loss`` for ``fit``, ``detect_batch`` / ``zoo.detection.detect`` for detections through the
shared per-class NMS) and the registered builders ``yolo_v1`` and ``fast_yolo_v1``.

Input: RGB 0..255 (divided by 255 inside the model). Smaller inputs keep the layers: the input must be a
multiple of S (each cell covers whole pixels; else ``ValueError``) and at least 64 px; the fully
connected head maps whatever last feature map the input gives to the S x S grid.
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.detection.base import Detector, PostprocessConfig, check_kwargs
from zoo.ops.boxes import box_iou
from zoo.ops.nms import batched_nms
from zoo.registry import register, resolve_num_classes
from zoo.weights import WeightsError, load_weights

PAPER = (
    "Redmon, Divvala, Girshick & Farhadi, You Only Look Once: Unified, Real-Time Object Detection, CVPR 2016"
)

LAMBDA_COORD = 5.0
LAMBDA_NOOBJ = 0.5

# A layer: (filters, kernel, stride) for a convolution, "M" for a 2x2/2 max-pool.
_C = tuple[int, int, int] | str
CONFIGS: dict[str, dict[str, Any]] = {
    # Paper Fig. 3: 24 convolutional layers.
    "yolo_v1": {
        "layers": [
            (64, 7, 2), "M",
            (192, 3, 1), "M",
            (128, 1, 1), (256, 3, 1), (256, 1, 1), (512, 3, 1), "M",
            *[(256, 1, 1), (512, 3, 1)] * 4, (512, 1, 1), (1024, 3, 1), "M",
            *[(512, 1, 1), (1024, 3, 1)] * 2, (1024, 3, 1), (1024, 3, 2),
            (1024, 3, 1), (1024, 3, 1),
        ],
        "fc_units": 4096,
    },
    # Fast YOLO: 9 convolutional layers (darknet's tiny layout).
    "fast_yolo_v1": {
        "layers": [
            (16, 3, 1), "M", (32, 3, 1), "M", (64, 3, 1), "M", (128, 3, 1), "M",
            (256, 3, 1), "M", (512, 3, 1), "M", (1024, 3, 1), (1024, 3, 1), (1024, 3, 1),
        ],
        "fc_units": 4096,
    },
}  # fmt: skip
MIN_SIZE = 64


def _scaled(filters: int, width: float) -> int:
    return max(1, int(round(filters * width)))


def check_grid(image_size: tuple[int, int], grid_size: int) -> tuple[int, int]:
    """Checks that the S x S grid divides the (height, width) input; returns the cell size in pixels.

    Raises:
        ValueError: S < 1, or a side that is not a multiple of S (cells would not cover whole pixels).

    Example:
        >>> check_grid((448, 448), 7)
        (64, 64)
    """
    h, w = (int(v) for v in image_size)
    if not isinstance(grid_size, (int, np.integer)) or grid_size < 1:
        raise ValueError(f"grid_size S must be a positive integer, got {grid_size!r}")
    if h % grid_size or w % grid_size:
        raise ValueError(
            f"The {grid_size}x{grid_size} grid does not divide the {h}x{w} input; use an input size that is a "
            f"multiple of S={grid_size} (e.g. {grid_size * max(1, round(h / grid_size))}) or another grid_size."
        )
    return h // grid_size, w // grid_size


def _network(
    image: Any,
    variant: str,
    grid: int,
    boxes: int,
    classes: int,
    width: float,
    fc_units: int,
    batch_norm: bool = False,
    max_stride: int | None = None,
    head: str = "fc",
    head_kernel: int = 1,
    fc_dropout: float = 0.5,
) -> Any:
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(image)
    conv, pool, total = 0, 0, 1
    for layer in CONFIGS[variant]["layers"]:
        if layer == "M":
            pool += 1
            if max_stride is not None and total * 2 > max_stride:
                continue  # a small input keeps a last map as fine as the grid (see YOLOv1's max_stride)
            total *= 2
            x = keras.layers.MaxPooling2D(2, strides=2, padding="same", name=f"pool{pool}")(x)
            continue
        filters, kernel, stride = layer
        total *= stride
        conv += 1
        x = keras.layers.Conv2D(
            _scaled(filters, width),
            kernel,
            strides=stride,
            padding="same",
            kernel_initializer="he_normal",
            use_bias=not batch_norm,
            name=f"conv{conv}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"conv{conv}_bn")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.1, name=f"conv{conv}_leaky")(x)
    depth = boxes * 5 + classes
    if head == "conv":
        # one predictor shared by all cells (YOLO v2's head, not v1's): a linear convolution on the
        # last map, whose positions must then be the S x S cells (checked in YOLOv1.__init__)
        x = keras.layers.Conv2D(depth, head_kernel, padding="same", name="head_conv")(x)
        return keras.layers.Reshape((grid, grid, depth), name="grid")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(fc_units, kernel_initializer="he_normal", name="fc1")(x)
    x = keras.layers.LeakyReLU(negative_slope=0.1, name="fc1_leaky")(x)
    if fc_dropout > 0:
        x = keras.layers.Dropout(fc_dropout, name="fc1_dropout")(x)
    x = keras.layers.Dense(grid * grid * depth, name="fc2")(x)  # linear (the paper's last layer)
    return keras.layers.Reshape((grid, grid, depth), name="grid")(x)


def last_map_size(variant: str, size: int, max_stride: int | None = None) -> int:
    """Side of the body's last feature map for a ``size`` px input ("same" padding: ceil at each stride).

    Example:
        >>> last_map_size("yolo_v1", 448), last_map_size("fast_yolo_v1", 112, max_stride=16)
        (7, 7)
    """
    side, total = int(size), 1
    for layer in CONFIGS[variant]["layers"]:
        stride = 2 if layer == "M" else layer[2]
        if layer == "M" and max_stride is not None and total * 2 > max_stride:
            continue
        total *= stride
        side = -(-side // stride)
    return side


HEADS = ("fc", "conv")


def check_head(
    variant: str,
    image_size: tuple[int, int],
    grid_size: int,
    max_stride: int | None,
    head: str,
    head_kernel: int,
) -> None:
    """Checks YOLOv1's ``head`` / ``head_kernel``; a "conv" head needs a last feature map of S x S.

    Raises:
        ValueError: an unknown head, a kernel that is not a positive odd integer, or a conv head on a
            body whose last map is not S x S (the message names a ``max_stride`` that gives S x S, if any).

    Example:
        >>> check_head("fast_yolo_v1", (112, 112), 7, 16, "conv", 1)  # 112 / 16 = 7: fine
    """
    if head not in HEADS:
        raise ValueError(
            f"head must be one of {', '.join(map(repr, HEADS))} ('fc' = the paper), got {head!r}"
        )
    odd = isinstance(head_kernel, (int, np.integer)) and not isinstance(head_kernel, bool) and head_kernel % 2
    if not odd or head_kernel < 1:
        raise ValueError(f"head_kernel must be a positive odd integer (1, 3, ...), got {head_kernel!r}")
    if head != "conv":
        return
    sides = tuple(last_map_size(variant, v, max_stride) for v in image_size)
    if sides == (grid_size, grid_size):
        return
    fits = [
        m
        for m in (2**k for k in range(8))
        if all(last_map_size(variant, v, m) == grid_size for v in image_size)
    ]
    hint = f"use max_stride={fits[-1]}" if fits else f"use an input of {grid_size} x the body's stride"
    raise ValueError(
        f"head='conv' predicts one cell per position of the last feature map, which is {sides[0]}x{sides[1]} "
        f"for {variant} at {image_size[0]}x{image_size[1]} (max_stride={max_stride}), not the "
        f"{grid_size}x{grid_size} grid; {hint}, or head='fc' (the paper's)."
    )


# ----------------------------------------------------------------------------------------------
# Targets, loss and decoding: pure keras.ops functions of the grid (TensorFlow and JAX).


def yolo_targets(
    boxes: Any, classes: Any, valid: Any, image_size: tuple[int, int], grid_size: int, num_object_classes: int
) -> dict[str, Any]:
    """Per-cell YOLO targets from padded ground truth.

    The cell responsible for an object is the one containing its box centre. A cell can hold one
    object only (the paper's limitation): when several centres fall in one cell the first valid
    object in the list wins and the others are not trained on. Boxes are clipped to the image first.

    Args:
        boxes: [N, G, 4] xyxy pixels of the model input.
        classes: [N, G] ids 1..C (the zoo's convention; -1 or invalid entries are ignored).
        valid: [N, G] bool/int, or None (= classes >= 1).
        image_size: (height, width) of the input.
        grid_size: S.
        num_object_classes: C.

    Returns:
        dict(obj [N, S*S] float 0/1, xy [N, S*S, 2] centre offsets in the cell, wh [N, S*S, 2]
        width/height relative to the image, box [N, S*S, 4] xyxy relative to the image, probs
        [N, S*S, C] one-hot). Cells without an object hold zeros.

    Example:
        >>> t = yolo_targets(boxes, classes, valid, (448, 448), 7, 20)
        >>> t["obj"].shape  # (N, 49)
    """
    h, w = (float(v) for v in image_size)
    s = int(grid_size)
    boxes = ops.convert_to_tensor(boxes, dtype="float32")
    classes = ops.cast(ops.convert_to_tensor(classes), "int32")
    ok = classes >= 1
    if valid is not None:
        ok = ok & ops.cast(ops.convert_to_tensor(valid), "bool")
    scale = ops.convert_to_tensor([w, h, w, h], dtype="float32")
    rel = ops.clip(boxes / scale, 0.0, 1.0)  # [N, G, 4]
    ok = ok & (rel[..., 2] > rel[..., 0]) & (rel[..., 3] > rel[..., 1])
    cx = (rel[..., 0] + rel[..., 2]) / 2.0
    cy = (rel[..., 1] + rel[..., 3]) / 2.0
    col = ops.clip(ops.cast(ops.floor(cx * s), "int32"), 0, s - 1)
    row = ops.clip(ops.cast(ops.floor(cy * s), "int32"), 0, s - 1)
    cell = row * s + col  # [N, G]
    g = boxes.shape[1]
    in_cell = (cell[..., None] == ops.arange(s * s, dtype="int32")) & ok[..., None]  # [N, G, S*S]
    # first valid object of each cell: the highest priority G - g
    priority = ops.cast(in_cell, "int32") * (g - ops.arange(g, dtype="int32"))[None, :, None]
    first = ops.argmax(priority, axis=1)  # [N, S*S]
    obj = ops.cast(ops.any(in_cell, axis=1), "float32")  # [N, S*S]

    def pick(values: Any) -> Any:  # [N, G, K] -> [N, S*S, K]
        index = ops.repeat(ops.cast(first, "int32")[..., None], values.shape[-1], axis=-1)
        return ops.take_along_axis(values, index, axis=1)

    rel_c = pick(rel)
    xy = ops.stack([pick(cx[..., None])[..., 0] * s, pick(cy[..., None])[..., 0] * s], axis=-1)
    xy = xy - ops.floor(ops.minimum(xy, s - 1e-4))
    wh = ops.stack([rel_c[..., 2] - rel_c[..., 0], rel_c[..., 3] - rel_c[..., 1]], axis=-1)
    onehot = ops.one_hot(ops.clip(classes - 1, 0, num_object_classes - 1), num_object_classes)
    probs = pick(onehot)
    m = obj[..., None]
    return {"obj": obj, "xy": xy * m, "wh": wh * m, "box": rel_c * m, "probs": probs * m}


def _cell_offsets(grid_size: int) -> tuple[Any, Any]:
    idx = ops.arange(grid_size * grid_size, dtype="int32")
    return ops.cast(idx % grid_size, "float32"), ops.cast(idx // grid_size, "float32")


def _pred_boxes_rel(pred_boxes: Any, grid_size: int) -> Any:
    """[N, S*S, B, 5] raw predictions -> [N, S*S, B, 4] xyxy relative to the image."""
    col, row = _cell_offsets(grid_size)
    cx = (col[None, :, None] + pred_boxes[..., 0]) / grid_size
    cy = (row[None, :, None] + pred_boxes[..., 1]) / grid_size
    bw = ops.square(pred_boxes[..., 2])
    bh = ops.square(pred_boxes[..., 3])
    return ops.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=-1)


def _split(grid: Any, num_boxes: int) -> tuple[Any, Any]:
    n, s = grid.shape[0], grid.shape[1]
    flat = ops.reshape(grid, (-1, s * s, grid.shape[-1]))
    pred_boxes = ops.reshape(flat[..., : num_boxes * 5], (-1, s * s, num_boxes, 5))
    del n
    return pred_boxes, flat[..., num_boxes * 5 :]


def yolo_loss(
    grid: Any,
    targets: dict[str, Any],
    num_boxes: int = 2,
    lambda_coord: float = LAMBDA_COORD,
    lambda_noobj: float = LAMBDA_NOOBJ,
) -> dict[str, Any]:
    """The paper's sum-squared loss (equation 3), summed over the grid and averaged over the batch.

        lambda_coord sum_ij 1obj_ij [(x - x^)^2 + (y - y^)^2]
      + lambda_coord sum_ij 1obj_ij [(sqrt w - sqrt w^)^2 + (sqrt h - sqrt h^)^2]
      + sum_ij 1obj_ij (C - C^)^2 + lambda_noobj sum_ij 1noobj_ij (C - C^)^2
      + sum_i 1obj_i sum_c (p(c) - p^(c))^2

    1obj_ij: cell i holds an object and predictor j is responsible for it, i.e. has the highest
    IoU with the ground truth among the cell's B predictors (ties: the lower j); 1noobj_ij is its
    complement. The confidence target C of a responsible predictor is that IoU (a constant, no
    gradient), 0 elsewhere. The network predicts sqrt w, sqrt h directly (see the module docstring).

    Args:
        grid: [N, S, S, B * 5 + C] raw network output.
        targets: ``yolo_targets(...)``.
        num_boxes: B.
        lambda_coord, lambda_noobj: the paper's 5 and 0.5.

    Returns:
        dict(loss, coord_loss (both coordinate terms), obj_loss, noobj_loss, class_loss), scalars.

    Example:
        >>> parts = yolo_loss(model(images), yolo_targets(boxes, classes, valid, (448, 448), 7, 20))
    """
    grid = ops.cast(grid, "float32")
    s = grid.shape[1]
    pred_boxes, pred_probs = _split(grid, num_boxes)
    obj = targets["obj"]  # [N, S*S]
    # IoU of each predictor with its cell's ground truth, [N, S*S, B] (rank-3 inputs for box_iou)
    pred_rel = ops.reshape(_pred_boxes_rel(pred_boxes, s), (-1, num_boxes, 4))
    iou = box_iou(pred_rel, ops.reshape(targets["box"], (-1, 1, 4)))
    iou = ops.reshape(iou, (-1, s * s, num_boxes))
    iou = ops.stop_gradient(iou)
    best = ops.argmax(iou, axis=-1)  # first maximum
    resp = ops.one_hot(best, num_boxes) * obj[..., None]  # 1obj_ij
    noresp = 1.0 - resp
    xy_err = ops.sum(ops.square(pred_boxes[..., 0:2] - targets["xy"][:, :, None, :]), axis=-1)
    wh_err = ops.sum(ops.square(pred_boxes[..., 2:4] - ops.sqrt(targets["wh"])[:, :, None, :]), axis=-1)
    conf = pred_boxes[..., 4]
    batch = ops.cast(ops.shape(grid)[0], "float32")
    coord = lambda_coord * ops.sum(resp * (xy_err + wh_err)) / batch
    obj_loss = ops.sum(resp * ops.square(conf - iou)) / batch
    noobj_loss = lambda_noobj * ops.sum(noresp * ops.square(conf)) / batch
    class_loss = ops.sum(obj[..., None] * ops.square(pred_probs - targets["probs"])) / batch
    return {
        "loss": coord + obj_loss + noobj_loss + class_loss,
        "coord_loss": coord,
        "obj_loss": obj_loss,
        "noobj_loss": noobj_loss,
        "class_loss": class_loss,
    }


def yolo_decode(grid: Any, image_size: tuple[int, int], num_boxes: int = 2) -> tuple[Any, Any]:
    """Grid -> S*S*B boxes (xyxy pixels, clipped) and class-specific confidences.

    The class-specific confidence of box j in cell i is Pr(class | object) x confidence_ij, both
    clipped to [0, 1] (the outputs are linear). A zero background column 0 is prepended so that the
    scores index the zoo's class ids.

    Returns:
        (boxes [N, S*S*B, 4], scores [N, S*S*B, C + 1]); 98 boxes for S = 7, B = 2.

    Example:
        >>> boxes, scores = yolo_decode(model(images), (448, 448))
        >>> boxes.shape[1]
        98
    """
    h, w = (float(v) for v in image_size)
    grid = ops.cast(grid, "float32")
    s = grid.shape[1]
    pred_boxes, pred_probs = _split(grid, num_boxes)
    rel = ops.clip(_pred_boxes_rel(pred_boxes, s), 0.0, 1.0)
    boxes = rel * ops.convert_to_tensor([w, h, w, h], dtype="float32")
    conf = ops.clip(pred_boxes[..., 4], 0.0, 1.0)  # [N, S*S, B]
    probs = ops.clip(pred_probs, 0.0, 1.0)  # [N, S*S, C]
    scores = conf[..., None] * probs[:, :, None, :]  # [N, S*S, B, C]
    c = probs.shape[-1]
    boxes = ops.reshape(boxes, (-1, s * s * num_boxes, 4))
    scores = ops.reshape(scores, (-1, s * s * num_boxes, c))
    scores = ops.concatenate([ops.zeros_like(scores[..., :1]), scores], axis=-1)
    return boxes, scores


@keras.saving.register_keras_serializable(package="zoo")
class YOLOv1(Detector, keras.Model):
    """YOLO v1 detector: a functional Keras model with the paper's loss built in.

    A contract detector (``zoo.detection.base.Detector``): ``model(images)`` returns the raw
    ``{"grid": [batch, S, S, B * 5 + C]}`` (see the module docstring; YOLO's scores are no softmax
    over background + classes, so there are no ``class_logits`` / ``box_deltas`` and
    ``decode_predictions`` is YOLO's own); ``model.predict`` returns detections. ``fit`` takes
    ``(images, targets)`` with targets = dict(boxes [N, G, 4] xyxy pixels of the input, classes
    [N, G] in 1..num_classes-1 (-1 pad), valid [N, G]), the batch format of ``zoo.data``; target
    assignment and the loss happen in ``compute_loss``. Images without any object are valid
    training data: only the no-object confidence term is non-zero for them.
    Options beyond the paper, for small CPU inputs: ``batch_norm=True`` (YOLO v2's batch normalisation
    after every convolution) and ``max_stride`` (leave out the max-pools that would take the body's
    stride above it; strided convolutions stay): at 448 px the paper's body ends on a 7 x 7 map, one
    position per cell of the 7 x 7 grid, but at 112 px it ends on 2 x 2, so the FC head must spread 4
    positions over 49 cells; ``max_stride=16`` keeps a 7 x 7 map at 112 px. Default None = the paper.
    ``head``: "fc" (default, the paper's two fully connected layers, ``fc_units`` and dropout 0.5) or
    "conv" (one shared linear ``head_kernel`` x ``head_kernel`` convolution on an S x S last map,
    ``fc_units`` and ``fc_dropout`` unused; see the module docstring). ``fc_dropout``: the rate of the
    dropout after the first FC layer (paper: 0.5; 0 leaves the layer out).
    ``predict`` / ``detect_batch`` / ``zoo.detection.detect`` give detections (xyxy pixels, classes
    1..num_classes-1) with ``model.postprocess`` (family default: score 0.005, darknet's threshold
    for the VOC evaluation (its demo uses 0.2; a 0.2 cut-off drops the low-confidence detections
    that mAP ranks, like SSD's 0.01), NMS IoU 0.5, all 98 boxes enter NMS) unless overridden.

    Example:
        >>> model = zoo.get("yolo_v1", num_classes=4, input_shape=(224, 224, 3), width=0.25, fc_units=256)
        >>> model.compile(optimizer="adam")
        >>> model.fit(zoo.data.shapes.shapes_dataset(image_size=224), steps_per_epoch=10)
    """

    POSTPROCESS = PostprocessConfig(
        score_threshold=0.005, iou_threshold=0.5, max_detections=100, pre_nms_top_k=None
    )

    def __init__(
        self,
        num_classes: int = 21,
        image_shape: tuple[int, int, int] = (448, 448, 3),
        variant: str = "yolo_v1",
        grid_size: int = 7,
        num_boxes: int = 2,
        width: float = 1.0,
        fc_units: int | None = None,
        lambda_coord: float = LAMBDA_COORD,
        lambda_noobj: float = LAMBDA_NOOBJ,
        batch_norm: bool = False,
        max_stride: int | None = None,
        head: str = "fc",
        head_kernel: int = 1,
        fc_dropout: float = 0.5,
        class_names: Any = None,
        postprocess: Any = None,
        **kwargs: Any,
    ):
        if variant not in CONFIGS:
            raise ValueError(f"Unknown YOLO variant {variant!r}; choose from {', '.join(CONFIGS)}")
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
            raise ValueError(
                f"num_classes must be an integer >= 2 (object classes + the background id 0), got {num_classes!r}"
            )
        if not isinstance(num_boxes, (int, np.integer)) or num_boxes < 1:
            raise ValueError(f"num_boxes B must be a positive integer, got {num_boxes!r}")
        if not float(width) > 0:
            raise ValueError(f"width must be positive, got {width}")
        try:
            h, w, c = (int(v) for v in image_shape)
        except (TypeError, ValueError):
            raise ValueError(
                f"{variant}: input_shape must be a fixed (height, width, 3), got {image_shape!r}"
            ) from None
        if c != 3:
            raise ValueError(f"{variant}: input must have 3 (RGB) channels, got {c}")
        if min(h, w) < MIN_SIZE:
            raise ValueError(
                f"{variant}: input {h}x{w} is too small; use at least {MIN_SIZE}x{MIN_SIZE} (paper: 448)"
            )
        check_grid((h, w), grid_size)
        if max_stride is not None and (isinstance(max_stride, bool) or not isinstance(max_stride, (int, np.integer))
                                       or max_stride < 1):  # fmt: skip
            raise ValueError(
                f"max_stride must be a positive integer or None (the paper's pools), got {max_stride!r}"
            )
        max_stride = None if max_stride is None else int(max_stride)
        check_head(variant, (h, w), int(grid_size), max_stride, head, head_kernel)
        if (
            isinstance(fc_dropout, bool)
            or not isinstance(fc_dropout, (int, float))
            or not 0 <= fc_dropout < 1
        ):
            raise ValueError(f"fc_dropout must be a rate in [0, 1) (paper: 0.5), got {fc_dropout!r}")
        fc = int(fc_units if fc_units is not None else CONFIGS[variant]["fc_units"])
        image = keras.Input((h, w, c), name="image")
        grid = _network(
            image,
            variant,
            int(grid_size),
            int(num_boxes),
            int(num_classes) - 1,
            float(width),
            fc,
            bool(batch_norm),
            max_stride,
            head,
            int(head_kernel),
            float(fc_dropout),
        )
        kwargs.setdefault("name", variant)
        super().__init__(inputs=image, outputs={"grid": grid}, **kwargs)
        self.init_detector(int(num_classes), (h, w), class_names=class_names, postprocess=postprocess)
        self.image_shape = (h, w, c)
        self.variant = variant
        self.grid_size = int(grid_size)
        self.num_boxes = int(num_boxes)
        self.width = float(width)
        self.fc_units = fc
        self.lambda_coord = float(lambda_coord)
        self.lambda_noobj = float(lambda_noobj)
        self.batch_norm = bool(batch_norm)
        self.max_stride = max_stride
        self.head = head
        self.head_kernel = int(head_kernel)
        self.fc_dropout = float(fc_dropout)
        self._trackers = {
            k: keras.metrics.Mean(name=k) for k in ("coord_loss", "obj_loss", "noobj_loss", "class_loss")
        }

    @property
    def num_predicted_boxes(self) -> int:
        """S * S * B, the boxes before NMS (98 for the paper)."""
        return self.grid_size * self.grid_size * self.num_boxes

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """``yolo_loss`` of a batch against padded ground truth (``zoo.data`` format)."""
        if not isinstance(y, dict) or "boxes" not in y or "classes" not in y:
            raise ValueError(
                "YOLO.fit/evaluate need targets: pass (images, dict(boxes=[N, G, 4] xyxy pixels, classes=[N, G], "
                f"valid=[N, G])); got {type(y).__name__}"
            )
        if isinstance(y_pred, dict):
            y_pred = y_pred["grid"]
        targets = yolo_targets(
            y["boxes"], y["classes"], y.get("valid"), self.image_size, self.grid_size, self.num_classes - 1
        )
        parts = yolo_loss(y_pred, targets, self.num_boxes, self.lambda_coord, self.lambda_noobj)
        for k, tracker in self._trackers.items():
            tracker.update_state(parts[k])
        loss = parts["loss"]
        for extra in self.losses:
            loss = loss + ops.sum(extra)
        return loss

    def decode_predictions(self, raw: dict[str, Any], postprocess: PostprocessConfig | None = None) -> dict:
        """Grid -> detections dict: ``yolo_decode`` (98 boxes, class-specific confidence), threshold,
        per-class NMS (``zoo.ops.nms.batched_nms``), with ``postprocess`` or the model's settings."""
        settings = self.postprocess if postprocess is None else postprocess
        grid = raw["grid"] if isinstance(raw, dict) else raw
        boxes, scores = yolo_decode(grid, self.image_size, self.num_boxes)
        return batched_nms(boxes, scores, background_class=0, **settings.as_dict())

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "image_shape": self.image_shape,
            "variant": self.variant,
            "grid_size": self.grid_size,
            "num_boxes": self.num_boxes,
            "width": self.width,
            "fc_units": self.fc_units,
            "lambda_coord": self.lambda_coord,
            "lambda_noobj": self.lambda_noobj,
            "batch_norm": self.batch_norm,
            "max_stride": self.max_stride,
            "head": self.head,
            "head_kernel": self.head_kernel,
            "fc_dropout": self.fc_dropout,
            **self.detector_config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> YOLOv1:
        config = dict(config)
        config["image_shape"] = tuple(config["image_shape"])
        return cls(**config)


def _yolo(variant: str, num_classes: Any, input_shape: Any, weights: Any, **kwargs: Any) -> YOLOv1:
    num_classes = resolve_num_classes(num_classes, kwargs.pop("classes", None), default=21)
    check_kwargs(YOLOv1, kwargs, variant)
    shape = (448, 448, 3) if input_shape is None else tuple(input_shape)
    model = YOLOv1(num_classes=num_classes, image_shape=shape, variant=variant, **kwargs)
    if weights is None:
        return model
    if isinstance(weights, (str, os.PathLike)) and weights not in ("imagenet", "imagenet_backbone"):
        return load_weights(model, weights)
    raise WeightsError(
        f"YOLO v1 has no published Keras weights; use weights=None or a file path, got {weights!r}"
    )


@register(
    "yolo_v1",
    task="detection",
    paper=PAPER,
    input_shape=(448, 448, 3),
    references={
        "num_params": 271_703_550,
        "num_params_source": "paper Fig. 3 layer table (24 conv with biases + FC 4096 + FC 1470), counted by hand",
        "voc07_map": 63.4,
        "voc07_map_source": "paper Table 1 (VOC 2007+2012)",
        "fps_titan_x": 45,
    },
)
def yolo_v1(
    num_classes: int | None = None,
    input_shape: tuple[int, int, int] | None = (448, 448, 3),
    weights: Any = None,
    **kwargs: Any,
) -> YOLOv1:
    """YOLO v1 (paper Fig. 3): 24 conv + 2 FC layers, 7 x 7 x 30 output for VOC at 448 x 448.

    Args:
        num_classes: classes including the background id 0 (VOC: 21 -> C = 20; ``classes=`` also works).
        input_shape: (height, width, 3), a multiple of ``grid_size`` and at least 64 px.
        weights: None or a path to a saved YOLO weight file.
        **kwargs: ``YOLOv1`` settings: ``grid_size`` (S, 7), ``num_boxes`` (B, 2), ``width``
            (channel multiplier of the convolutions, 1.0 = the paper), ``fc_units`` (units of the
            first fully connected layer; paper: 4096), ``lambda_coord``, ``lambda_noobj``, ``batch_norm``,
            ``max_stride``, ``head`` ("fc" = the paper, or "conv"), ``head_kernel``, ``fc_dropout``, ``class_names``,
            ``postprocess``.

    Example:
        >>> zoo.get("yolo_v1").output_shape
        (None, 7, 7, 30)
    """
    return _yolo("yolo_v1", num_classes, input_shape, weights, **kwargs)


@register(
    "fast_yolo_v1",
    task="detection",
    paper=PAPER + " (Fast YOLO)",
    input_shape=(448, 448, 3),
    references={"fps_titan_x": 155, "voc07_map": 52.7, "voc07_map_source": "paper Table 1 (Fast YOLO)"},
)
def fast_yolo_v1(
    num_classes: int | None = None,
    input_shape: tuple[int, int, int] | None = (448, 448, 3),
    weights: Any = None,
    **kwargs: Any,
) -> YOLOv1:
    """Fast YOLO: 9 conv layers (16 ... 1024 filters) + the same 2 FC layers. Arguments as ``yolo_v1``.

    Example:
        >>> zoo.get("fast_yolo_v1", num_classes=4, input_shape=(224, 224, 3)).output_shape
        (None, 7, 7, 13)
    """
    return _yolo("fast_yolo_v1", num_classes, input_shape, weights, **kwargs)
