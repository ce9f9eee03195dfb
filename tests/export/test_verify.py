"""Detection agreement between two sets of export outputs (the verification's mAP)."""

import numpy as np
import pytest

from zoo.export.verify import detection_map


def _outputs(boxes, classes, scores):
    n = len(boxes)
    pad = 4
    b = np.zeros((1, pad, 4), np.float32)
    c = np.zeros((1, pad), np.float32)
    s = np.zeros((1, pad), np.float32)
    b[0, :n], c[0, :n], s[0, :n] = np.reshape(boxes, (n, 4)), classes, scores
    return [b, c, s, np.array([n], np.float32)]


REF = _outputs([[0.1, 0.1, 0.5, 0.5], [0.5, 0.5, 0.9, 0.8]], [0, 2], [0.9, 0.8])


def test_identical_outputs_agree_fully():
    assert detection_map(REF, REF) == 1.0


def test_a_missed_and_a_moved_box_lower_the_agreement():
    # class 0 found, class 2 box moved off (IoU < 0.5): mean of AP 1 and AP 0
    moved = _outputs([[0.1, 0.1, 0.5, 0.5], [0.1, 0.6, 0.3, 0.9]], [0, 2], [0.9, 0.8])
    assert detection_map(REF, moved) == 0.5
    assert detection_map(REF, _outputs([], [], [])) == 0.0
    # a box that is only slightly off still matches at IoU 0.5
    nudged = _outputs([[0.12, 0.1, 0.5, 0.52], [0.5, 0.5, 0.9, 0.8]], [0, 2], [0.9, 0.8])
    assert detection_map(REF, nudged) == 1.0


def test_no_reference_detections_is_nan():
    assert np.isnan(detection_map(_outputs([], [], []), REF))


def test_detection_agreement_compares_the_matched_masks():
    from zoo.export.verify import compare_outputs

    boxes = np.array([[[0.1, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]]], np.float32)
    ref_masks = np.zeros((1, 2, 4, 4), np.float32)
    ref_masks[0, 0, :2] = 0.9  # top half of detection 0
    ref_masks[0, 1] = 0.8
    test_masks = ref_masks.copy()
    test_masks[0, 0, :1] = 0.4  # one of its two rows drops under 0.5: IoU 1/2
    ref = [boxes, np.array([[1.0, 2.0]]), np.array([[0.9, 0.8]]), np.array([2.0]), ref_masks]
    # the test file lists the same detections in the other order: masks are compared pair by pair
    test = [
        boxes[:, ::-1],
        np.array([[2.0, 1.0]]),
        np.array([[0.8, 0.9]]),
        np.array([2.0]),
        test_masks[:, ::-1],
    ]
    m = compare_outputs("detection", ref, test, "none")
    assert m["detections matched (class, IoU>=0.5)"] == 1.0
    assert m["mask IoU at 0.5 (matched)"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["max abs error (mask_probs, matched)"] == pytest.approx(0.5)
    assert "mask IoU at 0.5 (matched)" not in compare_outputs("detection", ref[:4], test[:4], "none")
