"""Greedy non-maximum suppression with fixed output shapes (keras.ops; TF, JAX, graphs, LiteRT).

Boxes are xyxy in absolute pixels, float32 [..., 4].

Provides:
    non_max_suppression: greedy NMS of one set of boxes (optionally batched) -> padded indices + count.
    batched_nms: per-class or class-agnostic NMS over a batch of detector outputs -> the zoo's
        detections dict ``{"boxes", "scores", "classes", "num_detections"}``, padded to max_detections.

How it stays graph- and export-friendly: candidates are first sorted with ``top_k`` (ties keep the
lower index first), the greedy pass is a ``while_loop`` of at most ``max_output_size`` iterations (it
stops early when no candidate is left) that each select the first remaining candidate and suppress the candidates
overlapping it with IoU > ``iou_threshold``. No shape depends on the data. Degenerate (zero-area or
inverted) boxes have IoU 0 with everything, so they neither suppress nor get suppressed.
"""

from __future__ import annotations

import math
from typing import Any

from keras import ops

from zoo.ops.boxes import box_iou

NEG_INF = -math.inf


def _greedy(sorted_boxes: Any, sorted_scores: Any, max_output: int, iou_threshold: float) -> Any:
    """Greedy NMS over candidates already sorted by descending score.

    Args:
        sorted_boxes: [..., K, 4]; sorted_scores: [..., K], -inf marks candidates that may not be kept.

    Returns:
        [..., max_output] int32 positions into K, -1 padded.
    """
    k = sorted_scores.shape[-1]
    positions = ops.arange(k, dtype="int32")
    alive = sorted_scores > NEG_INF
    out_slots = ops.arange(max_output, dtype="int32")
    out = ops.zeros_like(sorted_scores[..., :1], dtype="int32") + ops.zeros((max_output,), dtype="int32") - 1

    def cond(t, alive, out):
        return ops.logical_and(t < max_output, ops.any(alive))

    def body(t, alive, out):
        first = ops.min(ops.where(alive, positions, k), axis=-1)  # [...]; k when none left
        valid = first < k
        safe = ops.minimum(first, k - 1)
        picked_box = ops.take_along_axis(sorted_boxes, safe[..., None, None], axis=-2)  # [..., 1, 4]
        row = box_iou(picked_box, sorted_boxes)[..., 0, :]  # [..., K]
        suppress = (row > iou_threshold) | (positions == safe[..., None])
        alive = alive & ~(suppress & valid[..., None])
        picked = ops.where(valid, first, -1)
        out = ops.where(out_slots == t, picked[..., None], out)
        return t + 1, alive, out

    # Stops as soon as no candidate is left (in every set of the batch): after a score threshold
    # most classes of a trained detector have few candidates.
    _, _, out = ops.while_loop(
        cond, body, (ops.convert_to_tensor(0, dtype="int32"), alive, out), maximum_iterations=max_output
    )
    return out


def _pad_candidates(boxes: Any, scores: Any) -> tuple[Any, Any]:
    """Appends one never-selectable candidate so that every set has at least one (empty input)."""
    zero = ops.zeros_like(ops.sum(scores, axis=-1, keepdims=True))  # [..., 1], also when N == 0
    pad_box = zero[..., None] + ops.zeros((4,), dtype="float32")
    pad_score = zero + NEG_INF
    return ops.concatenate([boxes, pad_box], axis=-2), ops.concatenate([scores, pad_score], axis=-1)


def _check_iou_threshold(iou_threshold: float) -> float:
    if not 0.0 <= float(iou_threshold) <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    return float(iou_threshold)


def _prepare_scores(scores: Any, score_threshold: float) -> Any:
    scores = ops.convert_to_tensor(scores, dtype="float32")
    keep = (scores > score_threshold) & ~ops.isnan(scores)
    return ops.where(keep, scores, NEG_INF)


def non_max_suppression(
    boxes: Any,
    scores: Any,
    max_output_size: int,
    iou_threshold: float = 0.5,
    score_threshold: float = NEG_INF,
    pre_nms_top_k: int | None = None,
) -> tuple[Any, Any]:
    """Greedy NMS: keeps the highest-scoring box, drops boxes with IoU > ``iou_threshold`` to it, repeats.

    Args:
        boxes: [N, 4] or [B, N, 4] xyxy pixel boxes.
        scores: [N] or [B, N] scores; only scores > ``score_threshold`` are kept (NaN never).
        max_output_size: number of output slots (static int).
        iou_threshold: boxes overlapping a kept box with IoU strictly above this are suppressed.
        score_threshold: minimum (exclusive) score.
        pre_nms_top_k: if set, only the ``pre_nms_top_k`` best-scoring boxes are considered (faster,
            exact whenever fewer than that many boxes matter). Default: all N.

    Returns:
        (indices, num_valid): indices [max_output_size] or [B, max_output_size] int32 into N in
        descending score order, padded with -1; num_valid [] or [B] int32. Equal scores: lower index first.

    Example:
        >>> idx, n = non_max_suppression([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]],
        ...                              [0.9, 0.8, 0.7], max_output_size=3)
        >>> idx, n  # -> [0, 2, -1], 2
    """
    boxes = ops.convert_to_tensor(boxes, dtype="float32")
    scores = _prepare_scores(scores, score_threshold)
    if boxes.shape[-1] != 4 or len(boxes.shape) not in (2, 3) or len(scores.shape) != len(boxes.shape) - 1:
        raise ValueError(
            f"non_max_suppression expects boxes [N, 4] / [B, N, 4] and scores [N] / [B, N]; got "
            f"{tuple(boxes.shape)} and {tuple(scores.shape)}"
        )
    if int(max_output_size) < 1:
        raise ValueError(f"max_output_size must be >= 1, got {max_output_size}")
    iou_threshold = _check_iou_threshold(iou_threshold)
    unbatched = len(boxes.shape) == 2
    if unbatched:
        boxes, scores = boxes[None], scores[None]
    boxes, scores = _pad_candidates(boxes, scores)
    n = scores.shape[-1]
    k = n if (pre_nms_top_k is None or n is None) else min(int(pre_nms_top_k), n)
    if k is None:
        raise ValueError("non_max_suppression needs a static number of boxes (or pre_nms_top_k)")
    top_scores, order = ops.top_k(scores, k=k, sorted=True)
    order = ops.cast(order, "int32")
    top_boxes = ops.take_along_axis(boxes, order[..., None], axis=-2)
    positions = _greedy(top_boxes, top_scores, int(max_output_size), float(iou_threshold))
    valid = positions >= 0
    indices = ops.take_along_axis(order, ops.maximum(positions, 0), axis=-1)
    indices = ops.where(valid, indices, -1)
    num_valid = ops.sum(ops.cast(valid, "int32"), axis=-1)
    if unbatched:
        return indices[0], num_valid[0]
    return indices, num_valid


def batched_nms(
    boxes: Any,
    scores: Any,
    *,
    max_detections: int = 100,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.01,
    class_agnostic: bool = False,
    pre_nms_top_k: int | None = 400,
    max_detections_per_class: int | None = None,
    background_class: int | None = 0,
) -> dict[str, Any]:
    """Per-class (or class-agnostic) greedy NMS of a batch of detector outputs.

    This returns THE detections format of the zoo (every detector's post-processing and the LiteRT
    export emit it): boxes in xyxy pixels of the image the boxes refer to.

    Args:
        boxes: [B, N, 4] boxes shared by all classes, or [B, N, C, 4] per-class boxes (xyxy pixels).
        scores: [B, N, C] scores (e.g. softmax); column c is class id c.
        max_detections: K, number of output slots per image.
        iou_threshold: IoU above which a lower-scored box of the same class is suppressed.
        score_threshold: only scores > this are kept.
        class_agnostic: if True, each box keeps only its best class and NMS runs once over all classes.
        pre_nms_top_k: per class, only the best ``pre_nms_top_k`` boxes enter NMS (SSD uses 400).
            None: all N (exact but slower).
        max_detections_per_class: kept per class before the final top-K (default: ``max_detections``).
        background_class: class id never returned (its column is ignored); None if ``scores`` has no
            background column.

    Returns:
        dict(boxes [B, K, 4] float32, scores [B, K] float32, classes [B, K] int32,
        num_detections [B] int32), sorted by descending score; padding slots have boxes 0, scores 0
        and classes -1.

    Example:
        >>> out = batched_nms(boxes, softmax_scores, max_detections=200, iou_threshold=0.45,
        ...                   score_threshold=0.01)  # SSD's settings
        >>> out["boxes"][0, : out["num_detections"][0]]
    """
    boxes = ops.convert_to_tensor(boxes, dtype="float32")
    scores = _prepare_scores(scores, score_threshold)
    iou_threshold = _check_iou_threshold(iou_threshold)
    if int(max_detections) < 1:
        raise ValueError(f"max_detections must be >= 1, got {max_detections}")
    if len(scores.shape) != 3:
        raise ValueError(f"batched_nms expects scores [B, N, C], got shape {tuple(scores.shape)}")
    per_class_boxes = len(boxes.shape) == 4
    if boxes.shape[-1] != 4 or len(boxes.shape) not in (3, 4):
        raise ValueError(f"batched_nms expects boxes [B, N, 4] or [B, N, C, 4], got {tuple(boxes.shape)}")
    num_classes = scores.shape[-1]
    if background_class is not None:
        if not 0 <= background_class < num_classes:
            raise ValueError(
                f"background_class={background_class} is not a column of scores [B, N, {num_classes}]"
            )
        is_bg = ops.arange(num_classes) == background_class
        scores = ops.where(is_bg, NEG_INF, scores)
    max_detections = int(max_detections)
    if class_agnostic:
        best = ops.max(scores, axis=-1)  # [B, N]
        cls = ops.cast(ops.argmax(scores, axis=-1), "int32")
        if per_class_boxes:
            boxes = ops.take_along_axis(boxes, cls[..., None, None], axis=2)[:, :, 0, :]
        idx, num = non_max_suppression(
            boxes, best, max_detections, iou_threshold, pre_nms_top_k=pre_nms_top_k
        )
        valid = idx >= 0
        safe = ops.maximum(idx, 0)
        out_boxes = ops.take_along_axis(boxes, safe[..., None], axis=1)
        out_scores = ops.take_along_axis(best, safe, axis=1)
        out_classes = ops.take_along_axis(cls, safe, axis=1)
        return _finish(out_boxes, out_scores, out_classes, valid)

    per_class = int(max_detections_per_class or max_detections)
    cls_scores = ops.transpose(scores, (0, 2, 1))  # [B, C, N]
    if per_class_boxes:
        cls_boxes = ops.transpose(boxes, (0, 2, 1, 3))  # [B, C, N, 4]
    else:
        cls_boxes = ops.repeat(boxes[:, None], num_classes, axis=1)  # [B, C, N, 4]
    cls_boxes, cls_scores = _pad_candidates(cls_boxes, cls_scores)
    n = cls_scores.shape[-1]
    k = n if pre_nms_top_k is None else min(int(pre_nms_top_k), n)
    top_scores, order = ops.top_k(cls_scores, k=k, sorted=True)  # [B, C, k]
    order = ops.cast(order, "int32")
    top_boxes = ops.take_along_axis(cls_boxes, order[..., None], axis=2)  # [B, C, k, 4]
    m = min(per_class, k)
    positions = _greedy(top_boxes, top_scores, m, float(iou_threshold))  # [B, C, m]
    valid = positions >= 0
    safe = ops.maximum(positions, 0)
    kept_scores = ops.where(valid, ops.take_along_axis(top_scores, safe, axis=-1), NEG_INF)
    kept_boxes = ops.take_along_axis(top_boxes, safe[..., None], axis=2)  # [B, C, m, 4]
    flat_scores = ops.reshape(kept_scores, (-1, num_classes * m))
    flat_boxes = ops.reshape(kept_boxes, (-1, num_classes * m, 4))
    class_ids = ops.zeros_like(positions) + ops.arange(num_classes, dtype="int32")[:, None]
    flat_classes = ops.reshape(class_ids, (-1, num_classes * m))
    kk = min(max_detections, num_classes * m)
    best_scores, best = ops.top_k(flat_scores, k=kk, sorted=True)
    best = ops.cast(best, "int32")
    out_boxes = ops.take_along_axis(flat_boxes, best[..., None], axis=1)
    out_classes = ops.take_along_axis(flat_classes, best, axis=1)
    valid = best_scores > NEG_INF
    if kk < max_detections:
        pad = max_detections - kk
        out_boxes = ops.pad(out_boxes, ((0, 0), (0, pad), (0, 0)))
        best_scores = ops.pad(best_scores, ((0, 0), (0, pad)), constant_values=NEG_INF)
        out_classes = ops.pad(out_classes, ((0, 0), (0, pad)), constant_values=-1)
        valid = ops.pad(valid, ((0, 0), (0, pad)), constant_values=False)
    return _finish(out_boxes, best_scores, out_classes, valid)


def _finish(boxes: Any, scores: Any, classes: Any, valid: Any) -> dict[str, Any]:
    return {
        "boxes": ops.where(valid[..., None], boxes, 0.0),
        "scores": ops.where(valid, scores, 0.0),
        "classes": ops.where(valid, ops.cast(classes, "int32"), -1),
        "num_detections": ops.sum(ops.cast(valid, "int32"), axis=-1),
    }
