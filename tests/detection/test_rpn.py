"""RPN head, proposals, anchor targets and RoI targets on hand-made cases (IoUs worked out by hand)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.detection.rpn import RPNHead, propose, roi_targets, rpn_loss, rpn_targets
from zoo.ops.anchors import grid_anchors


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.multibackend
def test_rpn_targets_hand_made():
    anchors = np.array(
        [
            [0, 0, 10, 10],  # IoU 1 with gt0 -> positive
            [0, 0, 20, 20],  # IoU 100/400 = 0.25 -> negative
            [100, 100, 110, 110],  # IoU 100/900 = 0.11 with gt1, but gt1's best anchor -> positive
            [5, 5, 15, 15],  # IoU 25/175 = 0.14 -> negative
            [0, 0, 12, 10],  # IoU 100/120 = 0.83 -> positive
            [0, 0, 10, 20],  # IoU 0.5 -> ignored
        ],
        np.float32,
    )
    gt = np.array([[[0, 0, 10, 10], [100, 100, 130, 130], [0, 0, 0, 0]]], np.float32)
    valid = np.array([[True, True, False]])
    t = rpn_targets(anchors, gt, valid, num_samples=256, seed=0)
    np.testing.assert_array_equal(_np(t["positive"])[0], [1, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(_np(t["sampled"])[0], [1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(_np(t["labels"])[0], [1, 0, 1, 0, 1, 0])
    box = _np(t["box_targets"])[0]
    np.testing.assert_allclose(box[0], 0.0, atol=1e-6)
    # anchor 4 (w 12, cx 6) -> gt0 (w 10, cx 5): dx = -1/12, dw = log(10/12)
    np.testing.assert_allclose(box[4], [-1 / 12, 0, np.log(10 / 12), 0], atol=1e-5)
    # anchor 2 (centre 105, side 10) -> gt1 (centre 115, side 30)
    np.testing.assert_allclose(box[2], [1.0, 1.0, np.log(3.0), np.log(3.0)], atol=1e-5)


def test_rpn_sampling_caps_positives_at_half():
    anchors = np.array([[0, 0, 10, 10]] * 6 + [[50, 50, 60, 60]] * 6, np.float32)
    gt = np.array([[[0, 0, 10, 10]]], np.float32)
    t = rpn_targets(anchors, gt, np.array([[True]]), num_samples=4, seed=1)
    pos, sampled = _np(t["positive"])[0], _np(t["sampled"])[0]
    assert pos.sum() == 2 and sampled.sum() == 4
    assert pos[:6].sum() == 2 and sampled[6:].sum() == 2


def test_rpn_loss_values():
    targets = {
        "labels": np.array([[1.0, 0.0, 0.0]], np.float32),
        "sampled": np.array([[True, True, False]]),
        "positive": np.array([[True, False, False]]),
        "box_targets": np.zeros((1, 3, 4), np.float32),
    }
    logits = np.array([[0.0, 0.0, 5.0]], np.float32)
    deltas = np.array([[[0.05, 1.0, 0, 0], [9, 9, 9, 9], [9, 9, 9, 9]]], np.float32)
    cls, reg = rpn_loss(logits, deltas, targets, sigma=3.0)
    np.testing.assert_allclose(_np(cls), np.log(2.0), rtol=1e-5)  # two samples at p = 0.5
    # sigma 3: 0.5 * (3 * 0.05)^2 = 0.01125 (inside 1/9), 1.0 - 0.5/9 (outside); / 2 sampled
    np.testing.assert_allclose(_np(reg), (0.01125 + 1.0 - 0.5 / 9) / 2, rtol=1e-5)


def test_propose_decodes_clips_drops_tiny_and_suppresses():
    anchors = np.array(
        [
            [10, 10, 50, 50],
            [12, 10, 52, 50],  # IoU 0.905 with the first -> suppressed at 0.7
            [60, 60, 90, 90],
            [-20, -20, 20, 20],  # clipped to [0, 0, 20, 20]
            [70, 5, 72, 7],  # 2 px -> dropped by min_size 4
        ],
        np.float32,
    )
    logits = np.array([[3.0, 2.0, 1.0, 0.5, 4.0]], np.float32)
    deltas = np.zeros((1, 5, 4), np.float32)
    boxes, scores, valid = propose(
        logits, deltas, anchors, (100, 100), pre_nms_top_k=5, post_nms_top_k=4, nms_iou=0.7, min_size=4.0
    )
    np.testing.assert_array_equal(_np(valid)[0], [True, True, True, False])
    np.testing.assert_allclose(_np(boxes)[0, :3], [[10, 10, 50, 50], [60, 60, 90, 90], [0, 0, 20, 20]])
    np.testing.assert_allclose(_np(scores)[0, :3], 1 / (1 + np.exp(-np.array([3.0, 1.0, 0.5]))), rtol=1e-5)
    np.testing.assert_allclose(_np(boxes)[0, 3], 0.0)


def test_roi_targets_hand_made():
    gt = np.array([[[0, 0, 10, 10]]], np.float32)
    props = np.array(
        [
            [
                [0, 0, 10, 10],  # IoU 1 -> foreground
                [0, 0, 10, 30],  # IoU 1/3 -> background
                [0, 0, 100, 100],  # IoU 0.01 < 0.1 -> neither
                [0, 0, 10, 15],  # IoU 0.67 -> foreground
            ]
        ],
        np.float32,
    )
    t = roi_targets(
        props,
        np.ones((1, 4), bool),
        gt,
        np.array([[2]]),
        np.array([[True]]),
        num_samples=8,
        fg_fraction=0.5,
        seed=0,
    )
    rois, classes, valid = _np(t["rois"])[0], _np(t["classes"])[0], _np(t["valid"])[0]
    assert rois.shape == (5, 4)  # min(8, 4 proposals + 1 ground truth)
    assert valid.sum() == 4 and sorted(classes.tolist()) == [-1, 0, 2, 2, 2]
    assert [0, 0, 100, 100] in rois[classes == -1].tolist()
    assert rois[classes == 0].tolist() == [[0, 0, 10, 30]]
    fg_targets = _np(t["box_targets"])[0][classes == 2]
    exact = np.all(np.abs(fg_targets) < 1e-6, axis=1)
    assert exact.sum() == 2  # the proposal equal to the gt and the gt itself
    # [0, 0, 10, 15] -> gt: dy = 10 * (5 - 7.5) / 15, dh = 5 * log(10 / 15)
    np.testing.assert_allclose(fg_targets[~exact][0], [0, 10 * -2.5 / 15, 0, 5 * np.log(10 / 15)], atol=1e-5)


def test_roi_targets_fg_fraction():
    gt = np.array([[[0, 0, 10, 10]]], np.float32)
    props = np.array([[[0, 0, 10, 10]] * 10 + [[0, 0, 10, 30]] * 10], np.float32)
    t = roi_targets(
        props, np.ones((1, 20), bool), gt, np.array([[1]]), np.array([[True]]), num_samples=8, seed=3
    )
    classes = _np(t["classes"])[0]
    assert (classes == 1).sum() == 2 and (classes == 0).sum() == 6  # 25 % of 8
    assert classes[:2].tolist() == [1, 1]  # foreground first (the mask branch uses the first slots)


def test_rpn_head_order_matches_grid_anchors():
    head = RPNHead(num_anchors=6, channels=8)
    feats = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype(np.float32)
    logits, deltas = head(feats)
    assert tuple(logits.shape) == (2, 3 * 4 * 6) and tuple(deltas.shape) == (2, 72, 4)
    assert len(grid_anchors((3, 4), 16, sizes=(32, 64), ratios=(0.5, 1, 2))) == 72
    # cell (1, 2), anchor 4 is flat index (1 * 4 + 2) * 6 + 4
    raw = _np(head.cls(head.conv(feats)))
    np.testing.assert_allclose(_np(logits)[:, (1 * 4 + 2) * 6 + 4], raw[:, 1, 2, 4], rtol=1e-6)
    cfg = head.get_config()
    assert RPNHead.from_config(cfg).get_config() == cfg
