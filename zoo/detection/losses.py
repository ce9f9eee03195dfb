"""Detection losses: SSD's multibox loss (Liu et al., ECCV 2016, section 2.2), in keras.ops.

    L = (L_conf + alpha * L_loc) / N

N is the number of default boxes matched to a ground-truth box (positives) in the batch. Matching
(``zoo.ops.matching.assign_targets``): every ground-truth box takes its best default box, then every
default box with IoU >= 0.5 takes its best ground-truth box. L_conf is the softmax cross-entropy
over the positives and the hard negatives (``hard_negative_mining``: per image, the unmatched boxes
with the highest background loss, at most 3 per positive). L_loc is the smooth L1 loss of the
encoded offsets (SSD's variances, ``SSD_WEIGHTS``) over the positives. With N = 0 the loss is 0, as
in the paper (no NaN; an image without objects then only contributes through other images).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from zoo.ops.boxes import SSD_WEIGHTS
from zoo.ops.matching import assign_targets, hard_negative_mining


def smooth_l1(x: Any, beta: float = 1.0) -> Any:
    """Elementwise smooth L1 (Huber) loss: 0.5 x^2 / beta where |x| < beta, else |x| - 0.5 beta.

    Example:
        >>> smooth_l1([0.5, -2.0])  # -> [0.125, 1.5]
    """
    x = ops.abs(ops.convert_to_tensor(x, dtype="float32"))
    return ops.where(x < beta, 0.5 * x * x / beta, x - 0.5 * beta)


def softmax_cross_entropy(logits: Any, labels: Any) -> Any:
    """Per-box softmax cross-entropy of logits [..., C] against integer labels [...] in 0..C-1."""
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    labels = ops.cast(labels, "int32")
    return -ops.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]


def scale_loss_for_replicas(loss: Any) -> Any:
    """Divides a per-replica loss by the number of replicas under ``tf.distribute`` (as Keras' losses do).

    Keras sums the replicas' gradients, so a custom ``compute_loss`` must divide by the replica
    count to keep the same step as on one device. A no-op on JAX and without a strategy.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss / float(replicas)
    return loss


def multibox_loss(
    class_logits: Any,
    box_deltas: Any,
    default_boxes: Any,
    gt_boxes: Any,
    gt_classes: Any,
    gt_valid: Any = None,
    *,
    pos_iou: float = 0.5,
    neg_pos_ratio: float = 3.0,
    alpha: float = 1.0,
    weights: Sequence[float] = SSD_WEIGHTS,
) -> dict[str, Any]:
    """SSD's multibox loss of a batch.

    Args:
        class_logits: [B, N, C] raw class scores; column 0 is the background.
        box_deltas: [B, N, 4] predicted offsets (``encode_boxes`` with ``weights``).
        default_boxes: [N, 4] default boxes, xyxy pixels.
        gt_boxes: [B, G, 4] ground-truth boxes, xyxy pixels (G may be 0).
        gt_classes: [B, G] int class ids in 1..C-1 (padding -1).
        gt_valid: [B, G] bool, False for padding (default: classes >= 1).
        pos_iou: IoU from which a default box is a positive.
        neg_pos_ratio: hard negatives per positive (3 in the paper).
        alpha: weight of the localisation loss (1 in the paper).
        weights: box coding weights (SSD's variances 0.1/0.2 are (10, 10, 5, 5)).

    Returns:
        dict(loss, cls_loss, box_loss, num_positives): scalars; the losses are divided by the number
        of positives (0 when there are none).

    Example:
        >>> parts = multibox_loss(out["class_logits"], out["box_deltas"], model.default_boxes,
        ...                       targets["boxes"], targets["classes"], targets["valid"])
        >>> parts["loss"]
    """
    class_logits = ops.cast(class_logits, "float32")
    box_deltas = ops.cast(box_deltas, "float32")
    gt_boxes = ops.cast(gt_boxes, "float32")
    gt_classes = ops.cast(gt_classes, "int32")
    if gt_valid is None:
        gt_valid = gt_classes >= 1
    else:
        gt_valid = ops.logical_and(ops.cast(gt_valid, "bool"), gt_classes >= 1)
    # NaN coordinates would poison the IoU matrix: such boxes count as padding here (loaders reject them).
    finite = ops.all(ops.isfinite(gt_boxes), axis=-1)
    gt_valid = ops.logical_and(gt_valid, finite)
    gt_boxes = ops.where(finite[..., None], gt_boxes, 0.0)
    targets = assign_targets(
        default_boxes, gt_boxes, gt_classes, gt_valid, pos_iou=pos_iou, weights=weights, force_best=True
    )
    positive = targets["positive"]
    labels = ops.maximum(targets["classes"], 0)
    ce = softmax_cross_entropy(class_logits, labels)  # [B, N]
    hard_negative = hard_negative_mining(
        ops.stop_gradient(ce), positive, targets["negative"], ratio=neg_pos_ratio
    )
    pos_f = ops.cast(positive, "float32")
    cls_mask = ops.cast(ops.logical_or(positive, hard_negative), "float32")
    cls_sum = ops.sum(ce * cls_mask)
    box_error = ops.where(positive[..., None], box_deltas - ops.stop_gradient(targets["box_targets"]), 0.0)
    box_sum = ops.sum(smooth_l1(box_error))
    num_pos = ops.sum(pos_f)
    denom = ops.maximum(num_pos, 1.0)
    cls_loss = cls_sum / denom
    box_loss = box_sum / denom
    return {
        "loss": cls_loss + alpha * box_loss,
        "cls_loss": cls_loss,
        "box_loss": box_loss,
        "num_positives": num_pos,
    }
