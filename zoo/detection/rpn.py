"""Region Proposal Network (Ren et al., Faster R-CNN, NeurIPS 2015): head, proposals and targets.

Boxes are **xyxy in absolute pixels** of the model input, float32, everywhere in this module.
Everything is keras.ops with fixed shapes, so it runs inside ``model.fit`` graphs on TensorFlow
and under ``jax.jit``.

- :class:`RPNHead`: a 3x3 convolution (512 channels for VGG16, ``rpn_conv``) then sibling 1x1
  convolutions: ``k`` objectness logits (``rpn_cls``, sigmoid, i.e. torchvision's form of the
  paper's 2k softmax) and ``4k`` box deltas (``rpn_deltas``). Outputs are flattened to
  ``[B, H * W * k]`` / ``[B, H * W * k, 4]`` in the order of ``zoo.ops.anchors.grid_anchors``
  (row-major cell, then ratio, then size).
- :func:`propose`: decode the deltas at the anchors, clip to the image, drop boxes smaller than
  ``min_size``, keep the ``pre_nms_top_k`` best (12000 train / 6000 test), NMS at IoU 0.7, keep
  ``post_nms_top_k`` (2000 train / 300 test): the course material's steps 3-5.
- :func:`rpn_targets`: IoU > 0.7 positive (plus the best anchor of each ground truth), < 0.3
  negative, others ignored; 256 anchors sampled per image with at most half positives.
- :func:`roi_targets`: proposals plus the ground-truth boxes, 128 sampled per image with up to
  25 % foreground (IoU >= 0.5) and background IoU in [0.1, 0.5); class and per-class box targets
  (``FASTER_RCNN_WEIGHTS`` = (10, 10, 5, 5)).
- :func:`rpn_loss`: the paper's L = L_cls / N_cls + L_reg / N_reg with smooth L1 at sigma = 3
  (py-faster-rcnn's ``rpn_loss_bbox``; beta = 1 / sigma^2), both normalised by the number of
  sampled anchors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from zoo.detection.losses import smooth_l1
from zoo.ops.boxes import FASTER_RCNN_WEIGHTS, box_iou, clip_boxes, decode_boxes, encode_boxes
from zoo.ops.matching import assign_targets, sample_balanced
from zoo.ops.nms import non_max_suppression

__all__ = ["RPNHead", "RPN_TRAIN", "RPN_TEST", "propose", "rpn_targets", "roi_targets", "rpn_loss"]

# Proposal settings of the reference (py-faster-rcnn config.py; the course material's steps 4-5).
RPN_TRAIN = {"pre_nms_top_k": 12000, "post_nms_top_k": 2000, "nms_iou": 0.7}
RPN_TEST = {"pre_nms_top_k": 6000, "post_nms_top_k": 300, "nms_iou": 0.7}


@keras.saving.register_keras_serializable(package="zoo")
class RPNHead(keras.layers.Layer):
    """RPN head: ``features [B, H, W, C] -> (logits [B, H*W*k], deltas [B, H*W*k, 4])``.

    Args:
        num_anchors: k, anchors per feature-map cell (9 = 3 sizes x 3 ratios).
        channels: width of the shared 3x3 convolution (512 for VGG16, 256 for ZF).
        conv_depth: number of 3x3 convolutions (torchvision's ``conv_depth``; 2 in Faster R-CNN v2),
            named ``rpn_conv``, ``rpn_conv_1``, ...

    Example:
        >>> logits, deltas = RPNHead(9, 512)(conv5_3)
    """

    def __init__(self, num_anchors: int = 9, channels: int = 512, conv_depth: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        if int(num_anchors) < 1 or int(channels) < 1:
            raise ValueError(f"num_anchors and channels must be positive, got {num_anchors}, {channels}")
        self.num_anchors = int(num_anchors)
        self.channels = int(channels)
        init = keras.initializers.RandomNormal(stddev=0.01)  # the reference's N(0, 0.01)
        if int(conv_depth) < 1:
            raise ValueError(f"conv_depth must be >= 1, got {conv_depth}")
        self.conv_depth = int(conv_depth)
        convs = [
            keras.layers.Conv2D(
                self.channels,
                3,
                padding="same",
                activation="relu",
                kernel_initializer=init,
                name="rpn_conv" if i == 0 else f"rpn_conv_{i}",
            )
            for i in range(self.conv_depth)
        ]
        self.conv, self.extra_convs = convs[0], convs[1:]  # ``conv`` keeps saved weight files' paths
        self.cls = keras.layers.Conv2D(self.num_anchors, 1, kernel_initializer=init, name="rpn_cls")
        self.deltas = keras.layers.Conv2D(4 * self.num_anchors, 1, kernel_initializer=init, name="rpn_deltas")

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        for conv in (self.conv, *self.extra_convs):
            conv.build(shape)
            shape = (*input_shape[:-1], self.channels)
        self.cls.build(shape)
        self.deltas.build(shape)

    def call(self, features: Any) -> tuple[Any, Any]:
        x = features
        for conv in (self.conv, *self.extra_convs):
            x = conv(x)
        h, w = features.shape[1], features.shape[2]
        logits = ops.reshape(self.cls(x), (-1, h * w * self.num_anchors))
        deltas = ops.reshape(self.deltas(x), (-1, h * w * self.num_anchors, 4))
        return logits, deltas

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, Any]:
        n = input_shape[1] * input_shape[2] * self.num_anchors
        return (input_shape[0], n), (input_shape[0], n, 4)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_anchors": self.num_anchors,
            "channels": self.channels,
            "conv_depth": self.conv_depth,
        }


def propose(
    logits: Any,
    deltas: Any,
    anchors: Any,
    image_size: tuple[int, int],
    *,
    pre_nms_top_k: int = 6000,
    post_nms_top_k: int = 300,
    nms_iou: float = 0.7,
    min_size: float = 0.0,
) -> tuple[Any, Any, Any]:
    """RPN proposals: decode, clip, drop tiny boxes, top-k, NMS, top-k (fixed shapes).

    Args:
        logits: [B, A] objectness logits; deltas: [B, A, 4] (weights 1, 1, 1, 1).
        anchors: [A, 4] xyxy pixel anchors.
        image_size: (height, width) to clip to.
        pre_nms_top_k, post_nms_top_k, nms_iou: see ``RPN_TRAIN`` / ``RPN_TEST``.
        min_size: drop boxes whose width or height is below this (pixels).

    Returns:
        (proposals [B, P, 4] xyxy pixels, scores [B, P] objectness probability, valid [B, P] bool),
        P = min(post_nms_top_k, pre_nms_top_k, A), best first; invalid slots hold zero boxes and score 0.

    Example:
        >>> boxes, scores, valid = propose(logits, deltas, anchors, (600, 800), **RPN_TEST)
    """
    height, width = (int(v) for v in image_size)
    anchors = ops.convert_to_tensor(anchors, dtype="float32")
    boxes = clip_boxes(decode_boxes(deltas, anchors[None]), height, width)
    boxes = ops.stop_gradient(boxes)
    scores = ops.stop_gradient(ops.sigmoid(ops.cast(logits, "float32")))
    bw = boxes[..., 2] - boxes[..., 0]
    bh = boxes[..., 3] - boxes[..., 1]
    big = ops.logical_and(bw >= min_size, bh >= min_size) & (bw > 0) & (bh > 0)
    ranked = ops.where(big, scores, -1.0)
    num = int(anchors.shape[0])
    k = min(int(pre_nms_top_k), num)
    top, order = ops.top_k(ranked, k=k, sorted=True)
    top_boxes = ops.take_along_axis(boxes, ops.cast(order, "int32")[..., None], axis=1)
    idx, _ = non_max_suppression(
        top_boxes, ops.where(top >= 0.0, top, -float("inf")), min(int(post_nms_top_k), k), float(nms_iou)
    )
    valid = idx >= 0
    safe = ops.maximum(idx, 0)
    props = ops.take_along_axis(top_boxes, safe[..., None], axis=1)
    props = ops.where(valid[..., None], props, 0.0)
    out_scores = ops.where(valid, ops.take_along_axis(top, safe, axis=1), 0.0)
    return props, out_scores, valid


def rpn_targets(
    anchors: Any,
    gt_boxes: Any,
    gt_valid: Any,
    *,
    pos_iou: float = 0.7,
    neg_iou: float = 0.3,
    num_samples: int = 256,
    positive_fraction: float = 0.5,
    seed: Any = None,
) -> dict[str, Any]:
    """Anchor labels and regression targets for the RPN (Faster R-CNN section 3.1.2).

    Args:
        anchors: [A, 4] xyxy pixels; gt_boxes: [B, G, 4] xyxy pixels; gt_valid: [B, G] bool.
        pos_iou, neg_iou: IoU > pos_iou positive (and each ground truth's best anchor), < neg_iou negative.
        num_samples, positive_fraction: anchors sampled per image and the cap on positives.
        seed: int or ``keras.random.SeedGenerator``.

    Returns:
        dict(labels [B, A] float32 (1 positive, 0 otherwise), sampled [B, A] bool (positives and
        negatives that enter the loss), positive [B, A] bool (sampled positives), box_targets [B, A, 4]).

    Example:
        >>> t = rpn_targets(anchors, gt["boxes"], gt["valid"])
    """
    gt_boxes = ops.convert_to_tensor(gt_boxes, dtype="float32")
    classes = ops.ones(ops.shape(gt_boxes)[:2], dtype="int32")
    t = assign_targets(anchors, gt_boxes, classes, gt_valid, pos_iou=pos_iou, neg_iou=neg_iou)
    pos, neg = sample_balanced(
        t["positive"], t["negative"], num_samples=num_samples, positive_fraction=positive_fraction, seed=seed
    )
    return {
        "labels": ops.cast(pos, "float32"),
        "sampled": pos | neg,
        "positive": pos,
        "box_targets": t["box_targets"],
    }


def rpn_loss(logits: Any, deltas: Any, targets: dict[str, Any], sigma: float = 3.0) -> tuple[Any, Any]:
    """RPN classification (binary cross-entropy) and regression (smooth L1, sigma 3) losses.

    Both are summed over the sampled anchors of the batch and divided by their number (N_cls = N_reg
    = 256 per image as in py-faster-rcnn; lambda = 1).

    Returns:
        (cls_loss, reg_loss) scalars.
    """
    sampled = ops.cast(targets["sampled"], "float32")
    norm = ops.maximum(ops.sum(sampled), 1.0)
    ce = ops.binary_crossentropy(targets["labels"], ops.cast(logits, "float32"), from_logits=True)
    cls_loss = ops.sum(ce * sampled) / norm
    diff = ops.cast(deltas, "float32") - targets["box_targets"]
    reg = ops.sum(smooth_l1(diff, beta=1.0 / sigma**2), axis=-1)
    reg_loss = ops.sum(reg * ops.cast(targets["positive"], "float32")) / norm
    return cls_loss, reg_loss


def roi_targets(
    proposals: Any,
    proposal_valid: Any,
    gt_boxes: Any,
    gt_classes: Any,
    gt_valid: Any,
    *,
    num_samples: int = 128,
    fg_fraction: float = 0.25,
    fg_iou: float = 0.5,
    bg_iou: tuple[float, float] = (0.1, 0.5),
    weights: Sequence[float] = FASTER_RCNN_WEIGHTS,
    seed: Any = None,
) -> dict[str, Any]:
    """Samples the RoIs that train the detection head (Fast R-CNN section 2.3) with their targets.

    The ground-truth boxes are added to the proposals (as in the reference), then per image up to
    ``fg_fraction * num_samples`` foreground RoIs (IoU >= fg_iou with a ground truth) and background
    RoIs (IoU in ``bg_iou``) are drawn at random; slots left over (too few candidates) are marked
    invalid and carry no loss. Output order: foreground RoIs first, then background, then invalid
    slots (the Mask R-CNN branch relies on it).

    Args:
        proposals: [B, P, 4] xyxy pixels; proposal_valid: [B, P] bool.
        gt_boxes: [B, G, 4]; gt_classes: [B, G] int (1..K); gt_valid: [B, G] bool.
        num_samples, fg_fraction, fg_iou, bg_iou: the sampling rule (128, 0.25, 0.5, [0.1, 0.5)).
        weights: box coding weights of the head.
        seed: int or ``keras.random.SeedGenerator``.

    Returns:
        dict(rois [B, S, 4], classes [B, S] int32 (0 background, -1 invalid slot), box_targets
        [B, S, 4], valid [B, S] bool, matched_gt [B, S] int32 index into G of each RoI's ground
        truth, meaningful for foreground), S = min(num_samples, P + G).

    Example:
        >>> t = roi_targets(props, valid, gt["boxes"], gt["classes"], gt["valid"])
    """
    gt_boxes = ops.convert_to_tensor(gt_boxes, dtype="float32")
    gt_valid = ops.cast(gt_valid, "bool")
    gt_classes = ops.cast(gt_classes, "int32")
    rois = ops.concatenate([ops.convert_to_tensor(proposals, dtype="float32"), gt_boxes], axis=1)
    rois = ops.stop_gradient(rois)
    valid = ops.concatenate([ops.cast(proposal_valid, "bool"), gt_valid], axis=1)
    iou = box_iou(rois, gt_boxes)  # [B, P+G, G]
    iou = ops.where(gt_valid[:, None, :], iou, -1.0)
    if gt_boxes.shape[1] == 0:
        best = ops.zeros_like(valid, dtype="float32") - 1.0
        matched = ops.zeros_like(valid, dtype="int32")
    else:
        best = ops.max(iou, axis=-1)
        matched = ops.cast(ops.argmax(iou, axis=-1), "int32")
    fg = valid & (best >= fg_iou)
    bg = valid & (best < bg_iou[1]) & (best >= bg_iou[0])
    fg, bg = sample_balanced(fg, bg, num_samples=num_samples, positive_fraction=fg_fraction, seed=seed)
    total = int(rois.shape[1])
    s = min(int(num_samples), total)
    key = ops.cast(fg, "float32") * 2.0 + ops.cast(bg, "float32")
    _, order = ops.top_k(key, k=s, sorted=True)
    order = ops.cast(order, "int32")
    take = lambda t: ops.take_along_axis(t, order, axis=1)  # noqa: E731
    sel_fg, sel_bg = take(fg), take(bg)
    out_rois = ops.take_along_axis(rois, order[..., None], axis=1)
    sel_gt = take(matched)
    if gt_boxes.shape[1] == 0:
        cls = ops.zeros_like(sel_gt)
        gt_sel = ops.zeros_like(out_rois)
    else:
        cls = ops.take_along_axis(gt_classes, sel_gt, axis=1)
        gt_sel = ops.take_along_axis(gt_boxes, sel_gt[..., None], axis=1)
    classes = ops.where(sel_fg, cls, ops.where(sel_bg, 0, -1))
    box_targets = ops.where(sel_fg[..., None], encode_boxes(gt_sel, out_rois, weights), 0.0)
    return {
        "rois": out_rois,
        "classes": ops.cast(classes, "int32"),
        "box_targets": box_targets,
        "valid": sel_fg | sel_bg,
        "matched_gt": sel_gt,
    }
