"""Semantic segmentation metrics from a streaming confusion matrix (NumPy).

For classes ``c`` with confusion matrix ``M[true, predicted]`` accumulated over every pixel of
every batch (pixels whose label is ``ignore_label`` are skipped):

* pixel accuracy = ``trace(M) / sum(M)``;
* IoU_c = ``M[c, c] / (sum_j M[c, j] + sum_i M[i, c] - M[c, c])`` (true positives over the
  union of the label and the prediction of class c);
* mean IoU = the mean of IoU_c over the classes that occur in the labels or the predictions
  (a class absent from both has no IoU: NaN, left out of the mean), as in the FCN paper (Long
  et al. 2015, section 5) and the PASCAL VOC evaluation.

Example:
    >>> evaluator = SegmentationEvaluator(num_classes=4, ignore_label=255)
    >>> for images, masks in dataset:
    ...     evaluator.update(masks, model.predict(images))   # logits or class ids
    >>> evaluator.result()["mean_iou"]
"""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_matrix(
    y_true: Any, y_pred: Any, num_classes: int, ignore_label: int | None = None
) -> np.ndarray:
    """Confusion matrix ``M[true, predicted]`` (int64) of two label maps of the same shape.

    Args:
        y_true: integer labels, any shape (a trailing axis of size 1 is dropped).
        y_pred: integer predictions of the same shape, or logits/probabilities with one more
            trailing axis of size ``num_classes`` (argmax is taken).
        num_classes: number of classes.
        ignore_label: label value whose pixels are skipped (e.g. 255 for VOC borders).

    Raises:
        ValueError: shapes that do not match, a label outside ``[0, num_classes)`` that is
            not the ignore label, NaN/inf logits, non-integral float labels or class ids (floats
            holding whole numbers are accepted), non-numeric arrays.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=2)  # [[1, 0], [1, 1]]
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim > 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numbers, got dtype {arr.dtype}")
    if y_pred.ndim == y_true.ndim + 1 and y_pred.dtype.kind == "f" and not np.all(np.isfinite(y_pred)):
        bad = np.argwhere(~np.isfinite(y_pred))[0]
        raise ValueError(f"y_pred (logits) has NaN or inf at index {tuple(int(i) for i in bad)}")
    if y_pred.ndim == y_true.ndim + 1:
        if y_pred.shape[-1] == num_classes:
            y_pred = np.argmax(y_pred, axis=-1)
        elif y_pred.shape[-1] == 1:
            y_pred = y_pred[..., 0]
        else:
            raise ValueError(
                f"Predictions have {y_pred.shape[-1]} scores per pixel but num_classes={num_classes}"
            )
    if y_true.shape != y_pred.shape:
        raise ValueError(f"Label shape {y_true.shape} does not match prediction shape {y_pred.shape}")
    for name, arr in (("y_true (labels)", y_true), ("y_pred (class ids)", y_pred)):
        if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):  # NaN fails too
            bad = np.argwhere(~(arr == np.round(arr)))[0]
            raise ValueError(
                f"{name} must be integral class ids, got {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}"
                " (cast integer-valued masks to int; logits need a trailing axis of num_classes)"
            )
    y_true = y_true.reshape(-1).astype(np.int64)
    y_pred = y_pred.reshape(-1).astype(np.int64)
    if ignore_label is not None:
        keep = y_true != ignore_label
        y_true, y_pred = y_true[keep], y_pred[keep]
    for name, values in (("label", y_true), ("prediction", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            bad = values[(values < 0) | (values >= num_classes)][0]
            hint = "" if ignore_label is None else f" and is not the ignore label {ignore_label}"
            raise ValueError(f"A {name} value {bad} is outside [0, {num_classes}){hint}")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def pixel_accuracy(cm: np.ndarray) -> float:
    """Fraction of counted pixels whose prediction equals the label (NaN if none were counted)."""
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def per_class_iou(cm: np.ndarray) -> np.ndarray:
    """IoU of every class (float64, NaN for a class absent from labels and predictions)."""
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def mean_iou(cm: np.ndarray) -> float:
    """Mean of :func:`per_class_iou` over the classes that occur (NaN if none does)."""
    iou = per_class_iou(cm)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")


class SegmentationEvaluator:
    """Streams batches into one confusion matrix; reports pixel accuracy, per-class and mean IoU.

    Args:
        num_classes: number of classes (the background is a class).
        ignore_label: label value to skip, or None.
        class_names: optional names for the per-class report.

    Example:
        >>> ev = SegmentationEvaluator(3, ignore_label=255)
        >>> ev.update(masks, logits)
        >>> ev.result()  # {"pixel_accuracy": ..., "mean_iou": ..., "per_class_iou": {...}}
    """

    def __init__(
        self, num_classes: int, ignore_label: int | None = None, class_names: list[str] | None = None
    ):
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names given for {num_classes} classes")
        self.num_classes = int(num_classes)
        self.ignore_label = ignore_label
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        self.reset()

    def reset(self) -> None:
        """Forgets every batch seen so far."""
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, y_true: Any, y_pred: Any) -> None:
        """Adds a batch: labels and predictions (class ids, or logits with a trailing class axis)."""
        self.matrix += confusion_matrix(y_true, y_pred, self.num_classes, self.ignore_label)

    def result(self) -> dict[str, Any]:
        """Pixel accuracy, mean IoU and per-class IoU (None for classes that never occurred)."""
        iou = per_class_iou(self.matrix)
        return {
            "pixel_accuracy": pixel_accuracy(self.matrix),
            "mean_iou": mean_iou(self.matrix),
            "per_class_iou": {
                name: (None if np.isnan(v) else float(v)) for name, v in zip(self.class_names, iou)
            },
            "pixels": int(self.matrix.sum()),
        }
