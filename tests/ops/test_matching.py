"""Tests of zoo.ops.matching: hand-made matching cases, mining counts, balanced sampling."""

import keras
import numpy as np
import pytest

from zoo.ops.boxes import SSD_WEIGHTS, decode_boxes
from zoo.ops.matching import assign_targets, hard_negative_mining, match_boxes, sample_balanced


def as_np(x):
    return keras.ops.convert_to_numpy(x)


ANCHORS = np.array(
    [
        [0, 0, 10, 10],  # 0: IoU 1 with gt 0
        [0, 0, 10, 12],  # 1: IoU 10/12 with gt 0
        [20, 20, 30, 30],  # 2: IoU 0.64 with gt 1 ([21, 21, 29, 29])... see below
        [50, 50, 60, 60],  # 3: nothing
        [0, 0, 20, 10],  # 4: IoU 0.5 with gt 0
        [22, 20, 34, 30],  # 5: overlaps gt 1 a little
    ],
    np.float32,
)


@pytest.mark.multibackend
def test_match_ssd_threshold_and_bipartite():
    gt = np.array([[[0, 0, 10, 10], [21, 21, 29, 29], [0, 0, 0, 0]]], np.float32)
    valid = np.array([[True, True, False]])
    idx, labels = match_boxes(ANCHORS, gt, valid, pos_iou=0.5)
    # anchor 2 vs gt 1: 64 / 100 = 0.64; anchor 5 vs gt 1: inter 7*8=56, union 120+64-56=128 -> 0.4375
    np.testing.assert_array_equal(as_np(labels)[0], [1, 1, 1, 0, 1, 0])
    np.testing.assert_array_equal(as_np(idx)[0], [0, 0, 1, 0, 0, 0])


def test_bipartite_forces_a_match_below_threshold():
    gt = np.array([[[22, 21, 33, 29]]], np.float32)  # best anchor is 5 with IoU < 0.5
    idx, labels = match_boxes(ANCHORS, gt, pos_iou=0.9)
    assert as_np(labels)[0].tolist() == [0, 0, 0, 0, 0, 1]
    _, labels = match_boxes(ANCHORS, gt, pos_iou=0.9, force_best=False)
    assert as_np(labels)[0].sum() == 0


@pytest.mark.multibackend
def test_rpn_ignore_band_and_empty_gt():
    gt = np.array([[[0, 0, 10, 10]], [[0, 0, 0, 0]]], np.float32)
    valid = np.array([[True], [False]])
    _, labels = match_boxes(ANCHORS, gt, valid, pos_iou=0.7, neg_iou=0.3)
    # anchor 4 has IoU 0.5 -> ignored; anchors 0, 1 positive
    np.testing.assert_array_equal(as_np(labels)[0], [1, 1, 0, 0, -1, 0])
    np.testing.assert_array_equal(as_np(labels)[1], [0] * 6)  # no ground truth: all background
    empty = np.zeros((2, 0, 4), np.float32)
    t = assign_targets(ANCHORS, empty, np.zeros((2, 0), np.int32), np.zeros((2, 0), bool))
    assert as_np(t["classes"]).tolist() == [[0] * 6] * 2
    assert not as_np(t["positive"]).any()
    with pytest.raises(ValueError, match="neg_iou"):
        match_boxes(ANCHORS, gt, pos_iou=0.3, neg_iou=0.7)


def test_assign_targets_classes_and_decodable_box_targets():
    gt = np.array([[[0, 0, 10, 10], [21, 21, 29, 29]]], np.float32)
    cls = np.array([[3, 1]], np.int32)
    t = assign_targets(ANCHORS, gt, cls, pos_iou=0.5, weights=SSD_WEIGHTS)
    np.testing.assert_array_equal(as_np(t["classes"])[0], [3, 3, 1, 0, 3, 0])
    decoded = as_np(decode_boxes(t["box_targets"], ANCHORS[None], SSD_WEIGHTS))[0]
    np.testing.assert_allclose(decoded[2], gt[0, 1], atol=1e-4)
    np.testing.assert_allclose(decoded[1], gt[0, 0], atol=1e-4)
    assert np.all(as_np(t["box_targets"])[0, 3] == 0)


@pytest.mark.multibackend
def test_hard_negative_mining_3_to_1():
    loss = np.array([[0.1, 0.9, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6], [0.1] * 8], np.float32)
    pos = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [0] * 8], bool)
    neg = hard_negative_mining(loss, pos, ratio=3)
    np.testing.assert_array_equal(as_np(neg)[0], [0, 1, 0, 1, 0, 1, 0, 0])  # 0.9, 0.8, 0.7
    assert as_np(neg)[1].sum() == 0  # no positives, min_negatives=0
    assert as_np(hard_negative_mining(loss, pos, ratio=3, min_negatives=2))[1].sum() == 2
    cand = np.ones((2, 8), bool)
    cand[0, 1] = False  # ignored anchor is never mined
    neg = as_np(hard_negative_mining(loss, pos, cand, ratio=3))
    np.testing.assert_array_equal(neg[0], [0, 0, 0, 1, 0, 1, 0, 1])
    # more wanted than available: all candidates, never a positive
    pos_many = np.array([[1, 1, 1, 0, 0, 0, 0, 0], [0] * 8], bool)
    neg = as_np(hard_negative_mining(loss, pos_many, ratio=3))
    assert neg[0].tolist() == [0, 0, 0, 1, 1, 1, 1, 1]


def test_sample_balanced_counts():
    rng = np.random.default_rng(0)
    pos = rng.uniform(size=(3, 2000)) < 0.05  # ~100 positives
    neg = ~pos & (rng.uniform(size=(3, 2000)) < 0.9)
    pos[2] = False
    ps, ns = sample_balanced(pos, neg, num_samples=256, positive_fraction=0.5, seed=1)
    ps, ns = as_np(ps), as_np(ns)
    for i in range(3):
        n_pos = min(pos[i].sum(), 128)
        assert ps[i].sum() == n_pos and ns[i].sum() == 256 - n_pos
        assert not (ps[i] & ~pos[i]).any() and not (ns[i] & ~neg[i]).any()
    ps, ns = sample_balanced(pos, neg, num_samples=128, positive_fraction=0.25, seed=2)
    assert as_np(ps)[0].sum() == 32 and as_np(ns)[0].sum() == 96
