"""Target assignment for detectors (keras.ops, batched, fixed shapes; TF and JAX).

Boxes are xyxy in absolute pixels. Ground truth arrives padded: gt_boxes [B, G, 4] with a valid mask
[B, G] (padding rows are ignored; an image without any valid box gets only background).

Provides:
    match_boxes: anchors/default boxes -> matched ground-truth index and a label per anchor
        (1 positive, 0 negative, -1 ignored), SSD style (best anchor per ground truth first, then every
        anchor with IoU >= pos_iou) or RPN style (ignore band neg_iou <= IoU < pos_iou).
    assign_targets: ``match_boxes`` + class targets + encoded box targets in one call.
    hard_negative_mining: SSD's 3:1 selection of the highest-loss negatives per image.
    sample_balanced: random subsampling to a fixed number with a positive fraction (RPN 256 at 1:1,
        Fast R-CNN 128 RoIs at 25 % foreground).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from zoo.ops.boxes import box_iou, encode_boxes

POSITIVE, NEGATIVE, IGNORE = 1, 0, -1


def _gt_valid(gt_boxes: Any, gt_valid: Any | None) -> Any:
    if gt_valid is None:
        return ops.ones(ops.shape(gt_boxes)[:-1], dtype="bool")
    return ops.cast(gt_valid, "bool")


def match_boxes(
    anchors: Any,
    gt_boxes: Any,
    gt_valid: Any | None = None,
    *,
    pos_iou: float = 0.5,
    neg_iou: float | None = None,
    force_best: bool = True,
) -> tuple[Any, Any]:
    """Matches every anchor to a ground-truth box.

    Rules: (1) if ``force_best``, each valid ground truth first gets its best-overlapping anchor (the
    bipartite step of SSD / MultiBox, and Faster R-CNN's "highest IoU" rule) provided that IoU > 0;
    (2) every other anchor whose best IoU is >= ``pos_iou`` is positive; (3) anchors with best IoU
    < ``neg_iou`` are negative (background); those in [neg_iou, pos_iou) are ignored (-1).
    ``neg_iou=None`` means ``neg_iou = pos_iou`` (SSD: no ignore band). RPN: pos_iou=0.7, neg_iou=0.3.

    Args:
        anchors: [A, 4] or [B, A, 4] xyxy pixel anchors.
        gt_boxes: [B, G, 4] xyxy pixel ground truth, padded.
        gt_valid: [B, G] bool (None: all valid). G may be 0.
        pos_iou, neg_iou, force_best: see above.

    Returns:
        (matched_gt [B, A] int32 index into G (0 where unmatched), labels [B, A] int32).

    Example:
        >>> idx, labels = match_boxes(default_boxes, gt_boxes, gt_valid, pos_iou=0.5)
    """
    neg_iou = pos_iou if neg_iou is None else neg_iou
    if not 0.0 <= neg_iou <= 1.0 or not 0.0 <= pos_iou <= 1.0:
        raise ValueError(f"pos_iou and neg_iou must be in [0, 1], got {pos_iou}, {neg_iou}")
    if neg_iou > pos_iou:
        raise ValueError(f"neg_iou ({neg_iou}) must be <= pos_iou ({pos_iou})")
    gt_boxes = ops.convert_to_tensor(gt_boxes, dtype="float32")
    anchors = ops.convert_to_tensor(anchors, dtype="float32")
    if len(gt_boxes.shape) != 3:
        raise ValueError(f"gt_boxes must be padded [B, G, 4], got shape {tuple(gt_boxes.shape)}")
    valid = _gt_valid(gt_boxes, gt_valid)
    # Sentinel ground truth (never valid) so that G == 0 works with fixed shapes.
    gt_boxes = ops.concatenate([gt_boxes, ops.zeros_like(ops.sum(gt_boxes, axis=1, keepdims=True))], axis=1)
    valid = ops.concatenate([valid, ops.zeros_like(ops.any(valid, axis=1, keepdims=True))], axis=1)
    if len(anchors.shape) == 2:
        anchors = anchors[None]
    iou = box_iou(gt_boxes, anchors)  # [B, G+1, A]
    iou = ops.where(valid[:, :, None], iou, -1.0)
    best_iou = ops.max(iou, axis=1)  # [B, A]
    matched = ops.cast(ops.argmax(iou, axis=1), "int32")
    labels = ops.where(best_iou >= pos_iou, POSITIVE, ops.where(best_iou < neg_iou, NEGATIVE, IGNORE))
    labels = ops.cast(labels, "int32")
    if force_best:
        num_anchors = iou.shape[-1]
        best_anchor = ops.argmax(iou, axis=2)  # [B, G+1]
        gt_best_iou = ops.max(iou, axis=2)
        forced = (
            (ops.arange(num_anchors)[None, None, :] == best_anchor[:, :, None])
            & valid[:, :, None]
            & (gt_best_iou[:, :, None] > 0.0)
        )  # [B, G+1, A]
        is_forced = ops.any(forced, axis=1)
        forced_gt = ops.cast(ops.argmax(ops.where(forced, iou, -2.0), axis=1), "int32")
        matched = ops.where(is_forced, forced_gt, matched)
        labels = ops.where(is_forced, POSITIVE, labels)
    matched = ops.where(labels == POSITIVE, matched, 0)
    return matched, labels


def assign_targets(
    anchors: Any,
    gt_boxes: Any,
    gt_classes: Any,
    gt_valid: Any | None = None,
    *,
    pos_iou: float = 0.5,
    neg_iou: float | None = None,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    force_best: bool = True,
) -> dict[str, Any]:
    """Class and box regression targets for every anchor.

    Args:
        anchors: [A, 4] or [B, A, 4] xyxy pixel anchors.
        gt_boxes: [B, G, 4] xyxy pixels; gt_classes: [B, G] int class ids (1..K; 0 is background);
        gt_valid: [B, G] bool (None: all valid).
        pos_iou, neg_iou, force_best: as in ``match_boxes``.
        weights: box coding weights (``zoo.ops.boxes.SSD_WEIGHTS`` for SSD).

    Returns:
        dict(classes [B, A] int32: class of the matched box for positives, 0 for negatives, -1 ignored;
        box_targets [B, A, 4] float32 encoded deltas (0 where not positive); positive [B, A] bool;
        negative [B, A] bool; matched_gt [B, A] int32).

    Example:
        >>> t = assign_targets(default_boxes, gt["boxes"], gt["classes"], gt["valid"], weights=SSD_WEIGHTS)
    """
    gt_boxes = ops.convert_to_tensor(gt_boxes, dtype="float32")
    matched, labels = match_boxes(
        anchors, gt_boxes, gt_valid, pos_iou=pos_iou, neg_iou=neg_iou, force_best=force_best
    )
    gt_classes = ops.cast(gt_classes, "int32")
    safe = ops.maximum(matched, 0)
    if gt_boxes.shape[1] == 0:
        cls = ops.zeros_like(matched)
        boxes = ops.zeros_like(ops.cast(matched, "float32"))[..., None] + ops.zeros((4,), dtype="float32")
    else:
        cls = ops.take_along_axis(gt_classes, safe, axis=1)
        boxes = ops.take_along_axis(gt_boxes, safe[..., None], axis=1)
    positive = labels == POSITIVE
    negative = labels == NEGATIVE
    classes = ops.where(positive, cls, ops.where(negative, 0, -1))
    anchors = ops.convert_to_tensor(anchors, dtype="float32")
    deltas = encode_boxes(boxes, anchors if len(anchors.shape) == 3 else anchors[None], weights)
    box_targets = ops.where(positive[..., None], deltas, 0.0)
    return {
        "classes": ops.cast(classes, "int32"),
        "box_targets": box_targets,
        "positive": positive,
        "negative": negative,
        "matched_gt": matched,
    }


def _rank_desc(values: Any) -> Any:
    """Rank of each entry in descending order along the last axis (0 = largest; ties: lower index first)."""
    order = ops.argsort(-values, axis=-1)
    return ops.argsort(order, axis=-1)


def hard_negative_mining(
    loss: Any, positive: Any, negative: Any | None = None, *, ratio: float = 3.0, min_negatives: int = 0
) -> Any:
    """Selects, per image, the ``ratio * num_positives`` negatives with the highest loss (SSD: 3:1).

    Args:
        loss: [B, A] per-anchor classification loss (e.g. background cross-entropy).
        positive: [B, A] bool positives.
        negative: [B, A] bool candidates (default: every non-positive anchor; pass
            ``assign_targets(...)["negative"]`` to exclude ignored anchors).
        ratio: negatives per positive.
        min_negatives: negatives taken even from an image with no positive (0: none; an image without
            ground truth then contributes no classification loss).

    Returns:
        [B, A] bool mask of the selected negatives (never more than the available candidates).

    Example:
        >>> neg = hard_negative_mining(ce_loss, targets["positive"], targets["negative"], ratio=3)
    """
    loss = ops.convert_to_tensor(loss, dtype="float32")
    positive = ops.cast(positive, "bool")
    negative = ~positive if negative is None else ops.cast(negative, "bool") & ~positive
    num_pos = ops.sum(ops.cast(positive, "float32"), axis=-1, keepdims=True)
    num_neg = ops.maximum(ops.floor(ratio * num_pos), float(min_negatives))
    masked = ops.where(negative, ops.where(ops.isnan(loss), 0.0, loss), -1e30)
    rank = ops.cast(_rank_desc(ops.stop_gradient(masked)), "float32")
    return negative & (rank < num_neg)


def sample_balanced(
    positive: Any,
    negative: Any,
    *,
    num_samples: int,
    positive_fraction: float,
    seed: int | keras.random.SeedGenerator | None = None,
) -> tuple[Any, Any]:
    """Random subsample of at most ``num_samples`` anchors/RoIs per image with a positive fraction.

    Takes min(#positives, num_samples * positive_fraction) random positives and fills the rest with
    random negatives (RPN: 256 anchors, 0.5; Fast R-CNN: 128 RoIs, 0.25).

    Args:
        positive: [B, A] bool; negative: [B, A] bool (ignored anchors are neither).
        num_samples: samples per image.
        positive_fraction: upper bound of the positive share.
        seed: int, ``keras.random.SeedGenerator`` (use one inside jitted/compiled code) or None.

    Returns:
        (positive_selected [B, A] bool, negative_selected [B, A] bool).

    Example:
        >>> pos, neg = sample_balanced(t["positive"], t["negative"], num_samples=256, positive_fraction=0.5)
    """
    positive = ops.cast(positive, "bool")
    negative = ops.cast(negative, "bool") & ~positive
    noise = keras.random.uniform(ops.shape(positive), seed=seed)
    max_pos = float(int(num_samples * positive_fraction))
    num_pos = ops.minimum(ops.sum(ops.cast(positive, "float32"), axis=-1, keepdims=True), max_pos)
    num_neg = float(num_samples) - num_pos
    pos_rank = ops.cast(_rank_desc(ops.where(positive, noise, -1.0)), "float32")
    neg_rank = ops.cast(_rank_desc(ops.where(negative, noise, -1.0)), "float32")
    return positive & (pos_rank < num_pos), negative & (neg_rank < num_neg)
