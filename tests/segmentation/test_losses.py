"""Segmentation losses against NumPy references."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.segmentation.losses import SegmentationLoss, dice_loss, masked_crossentropy, soft_iou_loss


def _np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _data(seed=0, ignore=None):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=(2, 5, 6))
    if ignore is not None:
        labels[rng.random(labels.shape) < 0.2] = ignore
    logits = rng.normal(size=(2, 5, 6, 3)).astype("float32")
    return labels, logits


@pytest.mark.multibackend
def test_crossentropy_with_ignore_label_matches_numpy():
    labels, logits = _data(ignore=255)
    keep = labels != 255
    p = _np_softmax(logits.astype(np.float64))
    ref = -np.log(np.take_along_axis(p, np.where(keep, labels, 0)[..., None], -1)[..., 0])[keep].mean()
    got = keras.ops.convert_to_numpy(masked_crossentropy(labels, logits, ignore_label=255))
    assert float(got) == pytest.approx(ref, rel=1e-5)


@pytest.mark.multibackend
def test_dice_and_iou_match_numpy():
    labels, logits = _data(seed=1, ignore=7)
    keep = (labels != 7)[..., None]
    p = _np_softmax(logits.astype(np.float64)) * keep
    g = np.eye(3)[np.where(labels == 7, 0, labels)] * keep
    inter, ps, gs = (p * g).sum((0, 1, 2)), p.sum((0, 1, 2)), g.sum((0, 1, 2))
    dice_ref = 1 - np.mean((2 * inter + 1) / (ps + gs + 1))
    iou_ref = 1 - np.mean((inter + 1) / (ps + gs - inter + 1))
    assert float(keras.ops.convert_to_numpy(dice_loss(labels, logits, ignore_label=7))) == pytest.approx(
        dice_ref, rel=1e-5
    )
    assert float(keras.ops.convert_to_numpy(soft_iou_loss(labels, logits, ignore_label=7))) == pytest.approx(
        iou_ref, rel=1e-5
    )


def test_perfect_prediction_has_near_zero_overlap_losses():
    labels = np.random.default_rng(2).integers(0, 3, size=(1, 8, 8, 1))
    logits = (np.eye(3)[labels[..., 0]] * 40.0).astype("float32")
    for kind in ("dice", "iou", "crossentropy", "crossentropy+dice"):
        assert float(keras.ops.convert_to_numpy(SegmentationLoss(kind)(labels, logits))) < 1e-3


def test_loss_config_round_trip_and_bad_kind():
    loss = SegmentationLoss("crossentropy+dice", ignore_label=255, smooth=0.5)
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert clone.get_config() == loss.get_config()
    with pytest.raises(ValueError, match="Unknown segmentation loss"):
        SegmentationLoss("focal")
