"""Segmentation metrics against a hand-worked example, set-based NumPy counts and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.metrics.segmentation import (
    SegmentationEvaluator,
    confusion_matrix,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)


def test_hand_worked_example():
    # labels  0 0 1 1 / predictions 0 1 1 1: IoU_0 = 1/2, IoU_1 = 2/3, accuracy 3/4.
    cm = confusion_matrix([[0, 0, 1, 1]], [[0, 1, 1, 1]], num_classes=2)
    np.testing.assert_array_equal(cm, [[1, 1], [0, 2]])
    assert pixel_accuracy(cm) == pytest.approx(0.75)
    np.testing.assert_allclose(per_class_iou(cm), [0.5, 2 / 3])
    assert mean_iou(cm) == pytest.approx((0.5 + 2 / 3) / 2)


def test_streaming_equals_one_shot_and_set_counts_with_ignore_label():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=(6, 9, 11))
    labels[rng.random(labels.shape) < 0.1] = 255
    logits = rng.normal(size=(6, 9, 11, 4))
    preds = logits.argmax(-1)
    ev = SegmentationEvaluator(4, ignore_label=255, class_names=["bg", "a", "b", "c"])
    for i in range(0, 6, 2):
        ev.update(labels[i : i + 2, ..., None], logits[i : i + 2])
    result = ev.result()
    keep = labels != 255
    ious = []
    for c in range(4):
        inter = np.sum((labels == c) & (preds == c) & keep)
        union = np.sum(((labels == c) | (preds == c)) & keep)
        ious.append(inter / union)
        assert result["per_class_iou"][["bg", "a", "b", "c"][c]] == pytest.approx(ious[-1])
    assert result["mean_iou"] == pytest.approx(np.mean(ious))
    assert result["pixel_accuracy"] == pytest.approx(np.mean(labels[keep] == preds[keep]))
    assert result["pixels"] == keep.sum()
    sk = pytest.importorskip("sklearn.metrics")
    np.testing.assert_array_equal(ev.matrix, sk.confusion_matrix(labels[keep], preds[keep], labels=range(4)))


def test_absent_class_is_left_out_of_the_mean():
    cm = confusion_matrix([0, 0, 1], [0, 0, 1], num_classes=3)
    assert np.isnan(per_class_iou(cm)[2])
    assert mean_iou(cm) == 1.0
    assert SegmentationEvaluator(3).result()["per_class_iou"] == {"0": None, "1": None, "2": None}


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 5], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="does not match"):
        confusion_matrix(np.zeros((2, 3)), np.zeros((2, 4)), num_classes=2)
    with pytest.raises(ValueError, match="scores per pixel"):
        confusion_matrix(np.zeros((2, 3)), np.zeros((2, 3, 5)), num_classes=2)
    with pytest.raises(ValueError, match="class names"):
        SegmentationEvaluator(2, class_names=["a"])
