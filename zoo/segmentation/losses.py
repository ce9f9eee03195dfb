"""Per-pixel losses for semantic segmentation (keras.ops only; TensorFlow and JAX).

Labels are integer class maps ``[B, H, W]`` (or ``[B, H, W, 1]``); predictions are logits
``[B, H, W, C]``. Pixels labelled ``ignore_label`` contribute nothing.

* ``"crossentropy"``: mean per-pixel softmax cross-entropy over the counted pixels (FCN, U-Net).
* ``"dice"``: ``1 - mean_c (2 sum p_c g_c + s) / (sum p_c + sum g_c + s)`` with softmax
  probabilities ``p`` and one-hot labels ``g`` summed over the batch and all pixels
  (Milletari et al. 2016, V-Net, soft Dice).
* ``"iou"``: ``1 - mean_c (sum p_c g_c + s) / (sum p_c + sum g_c - sum p_c g_c + s)``
  (soft Jaccard; Rahman & Wang 2016).
* ``"crossentropy+dice"``: their sum.

Example:
    >>> model.compile(optimizer="adam", loss=SegmentationLoss(num_classes=4, kind="crossentropy+dice"))
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

LOSS_KINDS = ("crossentropy", "dice", "iou", "crossentropy+dice")


def _prepare(y_true: Any, logits: Any, ignore_label: int | None):
    labels = ops.cast(y_true, "int32")
    if len(labels.shape) == len(logits.shape):
        labels = ops.squeeze(labels, axis=-1)
    if ignore_label is None:
        return labels, ops.ones_like(labels, dtype=logits.dtype)
    keep = ops.not_equal(labels, ignore_label)
    return ops.where(keep, labels, 0), ops.cast(keep, logits.dtype)


def masked_crossentropy(y_true: Any, logits: Any, ignore_label: int | None = None) -> Any:
    """Mean softmax cross-entropy over the pixels whose label is not ``ignore_label``.

    Example:
        >>> masked_crossentropy(masks, logits, ignore_label=255)
    """
    safe, valid = _prepare(y_true, logits, ignore_label)
    ce = ops.sparse_categorical_crossentropy(safe, logits, from_logits=True)
    return ops.sum(ce * valid) / ops.maximum(ops.sum(valid), 1.0)


def _overlaps(y_true: Any, logits: Any, num_classes: int, ignore_label: int | None):
    safe, valid = _prepare(y_true, logits, ignore_label)
    probs = ops.softmax(logits, axis=-1) * valid[..., None]
    onehot = ops.one_hot(safe, num_classes, dtype=logits.dtype) * valid[..., None]
    axes = tuple(range(len(probs.shape) - 1))
    inter = ops.sum(probs * onehot, axis=axes)
    return inter, ops.sum(probs, axis=axes), ops.sum(onehot, axis=axes)


def dice_loss(y_true: Any, logits: Any, ignore_label: int | None = None, smooth: float = 1.0) -> Any:
    """Soft Dice loss ``1 - mean_c dice_c`` (see the module docstring).

    Example:
        >>> dice_loss(masks, logits)
    """
    inter, p, g = _overlaps(y_true, logits, int(logits.shape[-1]), ignore_label)
    return 1.0 - ops.mean((2.0 * inter + smooth) / (p + g + smooth))


def soft_iou_loss(y_true: Any, logits: Any, ignore_label: int | None = None, smooth: float = 1.0) -> Any:
    """Soft IoU (Jaccard) loss ``1 - mean_c iou_c`` (see the module docstring).

    Example:
        >>> soft_iou_loss(masks, logits)
    """
    inter, p, g = _overlaps(y_true, logits, int(logits.shape[-1]), ignore_label)
    return 1.0 - ops.mean((inter + smooth) / (p + g - inter + smooth))


@keras.saving.register_keras_serializable(package="zoo")
class SegmentationLoss(keras.losses.Loss):
    """Cross-entropy, Dice, soft-IoU or cross-entropy + Dice on logits, with an ignore label.

    Args:
        kind: one of ``LOSS_KINDS``.
        ignore_label: label value whose pixels are skipped (None: count every pixel).
        smooth: additive smoothing of the Dice/IoU ratios.

    Example:
        >>> loss = SegmentationLoss("crossentropy+dice", ignore_label=255)
        >>> model.compile(optimizer="adam", loss=loss)
    """

    def __init__(
        self,
        kind: str = "crossentropy",
        ignore_label: int | None = None,
        smooth: float = 1.0,
        name: str = "segmentation_loss",
        **kwargs,
    ):
        if kind not in LOSS_KINDS:
            raise ValueError(f"Unknown segmentation loss {kind!r}; choose from {', '.join(LOSS_KINDS)}")
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum", **kwargs)
        self.kind = kind
        self.ignore_label = ignore_label
        self.smooth = float(smooth)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        total = 0.0
        if "crossentropy" in self.kind:
            total = total + masked_crossentropy(y_true, y_pred, self.ignore_label)
        if "dice" in self.kind:
            total = total + dice_loss(y_true, y_pred, self.ignore_label, self.smooth)
        if self.kind == "iou":
            total = total + soft_iou_loss(y_true, y_pred, self.ignore_label, self.smooth)
        return total

    def get_config(self):
        return {
            "name": self.name,
            "kind": self.kind,
            "ignore_label": self.ignore_label,
            "smooth": self.smooth,
        }
