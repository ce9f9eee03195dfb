"""Box operations shared by every detector: formats, area, IoU, clipping, coding, validation.

Convention: inside the zoo a box is **xyxy in absolute pixels** (x1, y1, x2, y2), float32, shape
[..., 4]. Other formats exist only at the edges and are converted once with ``convert_format``.

Provides:
    convert_format: "xyxy", "yxyx", "xywh", "center_xywh" and their "rel_" (0..1) variants.
    box_area, box_iou, clip_boxes: area (0 for degenerate boxes), pairwise IoU matrix, clipping.
    pairwise_iou: the IoU formula itself for any array namespace (NumPy for the metrics, tf for
        tf.data), with pycocotools' crowd overlap.
    encode_boxes, decode_boxes: center-size deltas scaled by weights (SSD variances, Faster R-CNN).
    validate_boxes: NumPy check of ground-truth boxes for data loaders (NaN, x2 < x1, outside image).

Everything except ``validate_boxes`` is written in ``keras.ops`` and runs on TensorFlow and JAX,
inside graphs as well.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh")
# SSD's variances (0.1, 0.1, 0.2, 0.2) expressed as weights (1 / variance).
SSD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
# Faster R-CNN box head (Fast R-CNN regression targets normalised by std 0.1, 0.1, 0.2, 0.2).
FASTER_RCNN_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
# Clamp of decoded log-scales, as in Detectron (boxes at most 1000/16 times their anchor).
DEFAULT_MAX_LOG_SCALE = math.log(1000.0 / 16.0)


def _check_format(name: str) -> tuple[str, bool]:
    relative = name.startswith("rel_")
    base = name[4:] if relative else name
    if base not in FORMATS:
        allowed = ", ".join(list(FORMATS) + [f"rel_{f}" for f in FORMATS])
        raise ValueError(f"Unknown box format {name!r}; choose from {allowed}")
    return base, relative


def _to_xyxy(boxes: Any, fmt: str) -> Any:
    a, b, c, d = (boxes[..., i] for i in range(4))
    if fmt == "xyxy":
        return a, b, c, d
    if fmt == "yxyx":
        return b, a, d, c
    if fmt == "xywh":
        return a, b, a + c, b + d
    # center_xywh
    return a - c / 2.0, b - d / 2.0, a + c / 2.0, b + d / 2.0


def _from_xyxy(x1: Any, y1: Any, x2: Any, y2: Any, fmt: str) -> list:
    if fmt == "xyxy":
        return [x1, y1, x2, y2]
    if fmt == "yxyx":
        return [y1, x1, y2, x2]
    if fmt == "xywh":
        return [x1, y1, x2 - x1, y2 - y1]
    return [(x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1]


def convert_format(
    boxes: Any, source: str, target: str, height: float | None = None, width: float | None = None
) -> Any:
    """Converts boxes between formats.

    Formats: "xyxy" (x1, y1, x2, y2; the zoo's own), "yxyx" (TF's order), "xywh" (COCO: corner and
    size), "center_xywh" (center and size); a "rel_" prefix means coordinates divided by the image
    width (x) and height (y), and needs ``height`` and ``width``.

    Args:
        boxes: [..., 4] boxes in ``source`` format.
        source: format of ``boxes``.
        target: wanted format.
        height: image height in pixels (scalar or tensor broadcastable to [...]); needed for "rel_".
        width: image width in pixels; needed for "rel_".

    Returns:
        [..., 4] float32 boxes in ``target`` format.

    Example:
        >>> convert_format([[10., 20., 30., 40.]], "xyxy", "rel_center_xywh", height=100, width=200)
        # -> [[0.1, 0.3, 0.1, 0.2]]
    """
    src, src_rel = _check_format(source)
    dst, dst_rel = _check_format(target)
    boxes = ops.convert_to_tensor(boxes, dtype="float32")
    if boxes.shape[-1] != 4:
        raise ValueError(f"Boxes must have a last dimension of 4, got shape {tuple(boxes.shape)}")
    if (src_rel or dst_rel) and (height is None or width is None):
        raise ValueError(f"Converting {source!r} -> {target!r} needs the image height and width")
    x1, y1, x2, y2 = _to_xyxy(boxes, src)
    if src_rel:
        h = ops.cast(height, "float32")
        w = ops.cast(width, "float32")
        x1, y1, x2, y2 = x1 * w, y1 * h, x2 * w, y2 * h
    if dst_rel:
        h = ops.cast(height, "float32")
        w = ops.cast(width, "float32")
        x1, y1, x2, y2 = x1 / w, y1 / h, x2 / w, y2 / h
    return ops.stack(_from_xyxy(x1, y1, x2, y2, dst), axis=-1)


def box_area(boxes: Any) -> Any:
    """Area of xyxy pixel boxes [..., 4] -> [...]; degenerate boxes (x2 < x1 or y2 < y1) have area 0.

    Example:
        >>> box_area([[0., 0., 10., 5.]])  # -> [50.]
    """
    boxes = ops.convert_to_tensor(boxes, dtype="float32")
    w = ops.maximum(boxes[..., 2] - boxes[..., 0], 0.0)
    h = ops.maximum(boxes[..., 3] - boxes[..., 1], 0.0)
    return w * h


def box_iou(boxes_a: Any, boxes_b: Any) -> Any:
    """Pairwise intersection over union of xyxy pixel boxes.

    Args:
        boxes_a: [..., N, 4] xyxy boxes.
        boxes_b: [..., M, 4] xyxy boxes (leading dimensions broadcast with ``boxes_a``'s).

    Returns:
        [..., N, M] float32 IoU; 0 where the union is empty (two zero-area boxes).

    Example:
        >>> box_iou([[0., 0., 2., 2.]], [[1., 0., 3., 2.], [5., 5., 6., 6.]])  # -> [[1/3, 0.]]
    """
    a = ops.convert_to_tensor(boxes_a, dtype="float32")
    b = ops.convert_to_tensor(boxes_b, dtype="float32")
    return pairwise_iou(a, b, xp=ops)


def pairwise_iou(boxes_a: Any, boxes_b: Any, crowd: Any | None = None, xp: Any = np) -> Any:
    """The zoo's one IoU formula, written against an array namespace (NumPy, ``keras.ops``, ``tf``).

    ``box_iou`` calls it with ``keras.ops`` (float32, any backend); the NumPy evaluators in
    ``zoo.metrics`` call it with NumPy (in the inputs' dtype, float64 there, so that thresholds and
    ties are exact) and the tf.data loaders with ``tensorflow``. Continuous pixel coordinates (no
    VOC "+1"); degenerate boxes have area 0 and an empty union gives IoU 0.

    Args:
        boxes_a: [..., N, 4] xyxy pixel boxes (the detections, for ``crowd``).
        boxes_b: [..., M, 4] xyxy pixel boxes.
        crowd: optional [..., M] bool: for these columns the overlap is intersection / area of the
            ``boxes_a`` box, as pycocotools scores a detection against a COCO crowd region.
        xp: the namespace providing ``maximum``, ``minimum`` and ``where``.

    Returns:
        [..., N, M] IoU.

    Example:
        >>> pairwise_iou(np.array([[0., 0., 2., 2.]]), np.array([[1., 0., 3., 2.]]))  # -> [[1/3]]
        >>> pairwise_iou(np.array([[0., 0., 1., 1.]]), np.array([[0., 0., 4., 4.]]), crowd=[True])  # [[1.]]
    """
    a, b = boxes_a, boxes_b

    def area(x: Any) -> Any:
        return xp.maximum(x[..., 2] - x[..., 0], 0.0) * xp.maximum(x[..., 3] - x[..., 1], 0.0)

    lo = xp.maximum(a[..., :, None, :2], b[..., None, :, :2])
    hi = xp.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    iw = xp.maximum(hi[..., 0] - lo[..., 0], 0.0)
    ih = xp.maximum(hi[..., 1] - lo[..., 1], 0.0)
    inter = iw * ih
    area_a = area(a)[..., :, None]
    union = area_a + area(b)[..., None, :] - inter
    if crowd is not None:
        union = xp.where(crowd[..., None, :], area_a, union)
    return xp.where(union > 0.0, inter / xp.maximum(union, 1e-12), 0.0)


def clip_boxes(boxes: Any, height: Any, width: Any) -> Any:
    """Clips xyxy pixel boxes [..., 4] to the image [0, width] x [0, height].

    Example:
        >>> clip_boxes([[-5., 10., 120., 50.]], height=40, width=100)  # -> [[0., 10., 100., 40.]]
    """
    boxes = ops.convert_to_tensor(boxes, dtype="float32")
    h = ops.cast(height, "float32")
    w = ops.cast(width, "float32")
    x1 = ops.clip(boxes[..., 0], 0.0, w)
    y1 = ops.clip(boxes[..., 1], 0.0, h)
    x2 = ops.clip(boxes[..., 2], 0.0, w)
    y2 = ops.clip(boxes[..., 3], 0.0, h)
    return ops.stack([x1, y1, x2, y2], axis=-1)


def _center_size(boxes: Any) -> tuple[Any, Any, Any, Any]:
    w = boxes[..., 2] - boxes[..., 0]
    h = boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * w, boxes[..., 1] + 0.5 * h, w, h


def _check_weights(weights: Sequence[float]) -> tuple[float, float, float, float]:
    weights = tuple(float(w) for w in weights)
    if len(weights) != 4 or any(w <= 0 for w in weights):
        raise ValueError(f"weights must be 4 positive numbers (wx, wy, ww, wh), got {weights}")
    return weights


def encode_boxes(boxes: Any, anchors: Any, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)) -> Any:
    """Encodes xyxy pixel boxes as center-size deltas relative to xyxy pixel anchors.

    deltas = (wx * (cx - cxa) / wa, wy * (cy - cya) / ha, ww * log(w / wa), wh * log(h / ha)).
    SSD's variances (0.1, 0.1, 0.2, 0.2) are ``weights=SSD_WEIGHTS`` = (10, 10, 5, 5); Faster R-CNN's
    RPN uses (1, 1, 1, 1) and its box head ``FASTER_RCNN_WEIGHTS``. Widths and heights are floored at
    1e-6 so that degenerate boxes give large but finite deltas.

    Args:
        boxes: [..., 4] target boxes (xyxy pixels).
        anchors: [..., 4] anchors / default boxes (xyxy pixels), broadcastable to ``boxes``.
        weights: (wx, wy, ww, wh) multipliers.

    Returns:
        [..., 4] float32 deltas.

    Example:
        >>> encode_boxes([[0., 0., 20., 20.]], [[0., 0., 10., 10.]], SSD_WEIGHTS)
        # -> [[5., 5., 5 * log 2, 5 * log 2]]
    """
    wx, wy, ww, wh = _check_weights(weights)
    boxes = ops.convert_to_tensor(boxes, dtype="float32")
    anchors = ops.convert_to_tensor(anchors, dtype="float32")
    cx, cy, w, h = _center_size(boxes)
    cxa, cya, wa, ha = _center_size(anchors)
    eps = 1e-6
    wa = ops.maximum(wa, eps)
    ha = ops.maximum(ha, eps)
    dx = wx * (cx - cxa) / wa
    dy = wy * (cy - cya) / ha
    dw = ww * ops.log(ops.maximum(w, eps) / wa)
    dh = wh * ops.log(ops.maximum(h, eps) / ha)
    return ops.stack([dx, dy, dw, dh], axis=-1)


def decode_boxes(
    deltas: Any,
    anchors: Any,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    max_log_scale: float = DEFAULT_MAX_LOG_SCALE,
) -> Any:
    """Inverse of ``encode_boxes``: center-size deltas + xyxy pixel anchors -> xyxy pixel boxes.

    The log-scale deltas are clamped at ``max_log_scale`` (after dividing by the weights) so that an
    untrained network cannot overflow ``exp``.

    Args:
        deltas: [..., 4] deltas (dx, dy, dw, dh) as produced by ``encode_boxes`` with the same weights.
        anchors: [..., 4] anchors (xyxy pixels), broadcastable to ``deltas``.
        weights: (wx, wy, ww, wh) used when encoding.
        max_log_scale: upper clamp of log(w / wa) and log(h / ha).

    Returns:
        [..., 4] float32 xyxy pixel boxes.

    Example:
        >>> decode_boxes(encode_boxes(boxes, anchors, SSD_WEIGHTS), anchors, SSD_WEIGHTS)  # == boxes
    """
    wx, wy, ww, wh = _check_weights(weights)
    deltas = ops.convert_to_tensor(deltas, dtype="float32")
    anchors = ops.convert_to_tensor(anchors, dtype="float32")
    cxa, cya, wa, ha = _center_size(anchors)
    dx = deltas[..., 0] / wx
    dy = deltas[..., 1] / wy
    dw = ops.minimum(deltas[..., 2] / ww, max_log_scale)
    dh = ops.minimum(deltas[..., 3] / wh, max_log_scale)
    cx = cxa + dx * wa
    cy = cya + dy * ha
    w = wa * ops.exp(dw)
    h = ha * ops.exp(dh)
    return ops.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=-1)


def validate_boxes(
    boxes: Any, height: float, width: float, mode: str = "raise", min_size: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Checks ground-truth xyxy pixel boxes of one image before they enter a pipeline (NumPy, eager).

    Problems detected: non-finite coordinates (NaN, inf), x2 < x1 or y2 < y1, boxes reaching outside
    the image [0, width] x [0, height], and boxes thinner than ``min_size`` pixels.

    Args:
        boxes: [N, 4] xyxy pixel boxes (N may be 0).
        height: image height in pixels.
        width: image width in pixels.
        mode: "raise" raises ``ValueError`` naming the first bad box and the problem; "clip" clips boxes
            to the image and marks boxes that are non-finite, inverted or (after clipping) thinner than
            ``min_size`` as not kept.
        min_size: smallest accepted width and height in pixels (0 accepts zero-size boxes).

    Returns:
        (boxes [N, 4] float32, keep [N] bool). In "raise" mode ``keep`` is all True.

    Example:
        >>> boxes, keep = validate_boxes([[-3, 5, 50, 40], [10, 10, 5, 20]], 32, 48, mode="clip")
        >>> boxes[keep]  # -> [[0, 5, 48, 32]]
    """
    if mode not in ("raise", "clip"):
        raise ValueError(f"mode must be 'raise' or 'clip', got {mode!r}")
    arr = np.asarray(boxes, dtype=np.float32)
    if arr.size == 0:
        return arr.reshape(0, 4), np.zeros((0,), dtype=bool)
    if arr.ndim != 2 or arr.shape[-1] != 4:
        raise ValueError(f"Ground-truth boxes must have shape [N, 4] (xyxy pixels), got {arr.shape}")
    finite = np.all(np.isfinite(arr), axis=-1)
    inverted = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    outside = (arr[:, 0] < 0) | (arr[:, 1] < 0) | (arr[:, 2] > width) | (arr[:, 3] > height)
    if mode == "raise":
        problems = [
            (~finite, "has a non-finite coordinate (NaN or inf)"),
            (finite & inverted, "has x2 < x1 or y2 < y1 (expected xyxy pixels)"),
            (finite & ~inverted & outside, f"reaches outside the {width}x{height} (w x h) image"),
        ]
        if min_size > 0:
            thin = (
                finite & ~inverted & ((arr[:, 2] - arr[:, 0] < min_size) | (arr[:, 3] - arr[:, 1] < min_size))
            )
            problems.append((thin, f"is smaller than min_size={min_size} pixels"))
        for mask, text in problems:
            if np.any(mask):
                i = int(np.argmax(mask))
                raise ValueError(
                    f"Ground-truth box {i} {arr[i].tolist()} {text}; fix the annotation or load with "
                    "mode='clip' to clip boxes to the image and drop invalid ones"
                )
        return arr, np.ones((arr.shape[0],), dtype=bool)
    clipped = np.stack(
        [
            np.clip(arr[:, 0], 0, width),
            np.clip(arr[:, 1], 0, height),
            np.clip(arr[:, 2], 0, width),
            np.clip(arr[:, 3], 0, height),
        ],
        axis=-1,
    )
    clipped = np.where(finite[:, None], clipped, 0.0).astype(np.float32)
    size_ok = (clipped[:, 2] - clipped[:, 0] >= min_size) & (clipped[:, 3] - clipped[:, 1] >= min_size)
    if min_size <= 0:
        size_ok = (clipped[:, 2] >= clipped[:, 0]) & (clipped[:, 3] >= clipped[:, 1])
    return clipped, finite & ~inverted & size_ok


def to_numpy(x: Any) -> np.ndarray:
    """Converts a backend tensor (or array-like) to a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x)) if not isinstance(x, np.ndarray) else x
