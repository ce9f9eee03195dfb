"""Tests of zoo.metrics.detection.MaskIoUEvaluator / mask_iou on hand-made cases."""

import numpy as np
import pytest

from zoo.metrics.detection import MaskIoUEvaluator, mask_iou

H = W = 16


def box_mask(x1, y1, x2, y2):
    m = np.zeros((H, W), np.uint8)
    m[y1:y2, x1:x2] = 1
    return m


GT_BOX = np.array([[2, 2, 10, 10]], float)
GT_MASK = box_mask(2, 2, 10, 10)[None]  # 64 pixels


def evaluate(det_boxes, det_scores, det_classes, det_masks, gt_classes=(1,), **kw):
    ev = MaskIoUEvaluator(**kw)
    ev.add_image(det_boxes, det_scores, det_classes, det_masks, GT_BOX, np.array(gt_classes), GT_MASK)
    return ev.result()


def test_mask_iou_of_two_masks():
    assert mask_iou(box_mask(0, 0, 4, 4), box_mask(0, 0, 4, 4)) == 1.0
    assert mask_iou(box_mask(0, 0, 4, 4), box_mask(0, 0, 2, 4)) == pytest.approx(0.5)
    assert mask_iou(box_mask(0, 0, 4, 4), box_mask(8, 8, 12, 12)) == 0.0
    assert mask_iou(np.zeros((H, W)), np.zeros((H, W))) == 1.0
    with pytest.raises(ValueError, match="shape"):
        mask_iou(np.zeros((2, 2)), np.zeros((3, 3)))


def test_perfect_mask_scores_one():
    r = evaluate(GT_BOX, [0.9], [1], GT_MASK)
    assert r["mean_mask_iou"] == 1.0 and r["matched"] == 1 and r["num_objects"] == 1


def test_half_mask_and_probability_masks():
    half = box_mask(2, 2, 6, 10)[None]  # 32 of the 64 pixels
    assert evaluate(GT_BOX, [0.9], [1], half)["mean_mask_iou"] == pytest.approx(0.5)
    probs = np.where(GT_MASK > 0, 0.7, 0.2).astype(np.float32)  # thresholded at 0.5
    assert evaluate(GT_BOX, [0.9], [1], probs)["mean_mask_iou"] == 1.0
    assert evaluate(GT_BOX, [0.9], [1], probs, mask_threshold=0.8)["mean_mask_iou"] == 0.0


def test_unmatched_object_counts_zero():
    r = evaluate(np.zeros((0, 4)), np.zeros(0), np.zeros(0), np.zeros((0, H, W)))
    assert r["mean_mask_iou"] == 0.0 and r["matched"] == 0 and r["num_objects"] == 1
    far = np.array([[11, 11, 16, 16]], float)  # box IoU 0 with the object, even with a perfect mask
    assert evaluate(far, [0.9], [1], GT_MASK)["mean_mask_iou"] == 0.0


def test_wrong_class_is_not_matched():
    r = evaluate(GT_BOX, [0.9], [2], GT_MASK)
    assert r["mean_mask_iou"] == 0.0 and r["matched"] == 0


def test_score_threshold_is_strict_and_respected():
    assert evaluate(GT_BOX, [0.5], [1], GT_MASK)["matched"] == 0  # score must be > 0.5
    assert evaluate(GT_BOX, [0.4], [1], GT_MASK, score_threshold=0.3)["mean_mask_iou"] == 1.0


def test_box_iou_threshold_is_inclusive():
    box = np.array([[2, 2, 10, 6]], float)  # box IoU exactly 0.5
    assert evaluate(box, [0.9], [1], GT_MASK)["matched"] == 1
    assert evaluate(box, [0.9], [1], GT_MASK, box_iou=0.6)["matched"] == 0


def test_highest_scoring_candidate_is_used():
    boxes = np.array([[2, 2, 10, 10], [2, 2, 10, 10], [2, 2, 10, 10]], float)
    masks = np.stack([GT_MASK[0], box_mask(2, 2, 6, 10), GT_MASK[0]])
    r = evaluate(boxes, [0.6, 0.95, 0.3], [1, 1, 1], masks)  # the 0.95 one has the half mask
    assert r["mean_mask_iou"] == pytest.approx(0.5)


def test_batched_update_with_padding_and_mean_over_objects():
    # image 0: two objects, one perfect, one missed; image 1: one object at half IoU; padded to G=3, K=2
    gt_boxes = np.zeros((2, 3, 4))
    gt_classes = -np.ones((2, 3), np.int32)
    gt_masks = np.zeros((2, 3, H, W), np.uint8)
    gt_boxes[0, 0], gt_classes[0, 0], gt_masks[0, 0] = [2, 2, 10, 10], 1, box_mask(2, 2, 10, 10)
    gt_boxes[0, 1], gt_classes[0, 1], gt_masks[0, 1] = [10, 10, 16, 16], 3, box_mask(10, 10, 16, 16)
    gt_boxes[1, 0], gt_classes[1, 0], gt_masks[1, 0] = [0, 0, 8, 8], 2, box_mask(0, 0, 8, 8)
    det = {
        "boxes": np.array([[[2, 2, 10, 10], [0, 0, 0, 0]], [[0, 0, 8, 8], [0, 0, 0, 0]]], float),
        "scores": np.array([[0.9, 0.0], [0.8, 0.0]]),
        "classes": np.array([[1, -1], [2, -1]]),
        "masks": np.stack(
            [
                np.stack([box_mask(2, 2, 10, 10), np.zeros((H, W), np.uint8)]),
                np.stack([box_mask(0, 0, 4, 8), np.zeros((H, W), np.uint8)]),
            ]
        ),
        "num_detections": np.array([1, 1]),
    }
    ev = MaskIoUEvaluator(4, class_names=["bg", "circle", "square", "triangle"])
    ev.update(det, {"boxes": gt_boxes, "classes": gt_classes, "valid": gt_classes > 0, "masks": gt_masks})
    r = ev.result()
    assert r["num_objects"] == 3 and r["matched"] == 2 and r["num_images"] == 2
    assert r["mean_mask_iou"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    assert r["per_class"]["triangle"] == {"mean_mask_iou": 0.0, "matched": 0, "num_objects": 1}
    assert r["per_class"]["square"]["mean_mask_iou"] == pytest.approx(0.5)
    ev.reset()
    assert np.isnan(ev.result()["mean_mask_iou"]) and ev.result()["num_objects"] == 0


def test_inconsistent_inputs_are_errors():
    ev = MaskIoUEvaluator()
    with pytest.raises(ValueError, match="Detections disagree"):
        ev.add_image(GT_BOX, [0.9], [1], np.zeros((2, H, W)), GT_BOX, [1], GT_MASK)
    with pytest.raises(ValueError, match="differ in size"):
        ev.add_image(GT_BOX, [0.9], [1], np.zeros((1, 8, 8)), GT_BOX, [1], GT_MASK)


def test_keypoint_pck_evaluator_matches_like_mask_iou_and_counts_misses():
    from zoo.metrics.detection import KeypointPCKEvaluator

    gt_boxes = np.array([[0, 0, 30, 40], [50, 50, 60, 60]], "float32")
    gt_kp = np.array(
        [[[0, 0, 2], [30, 40, 2], [15, 20, 0]], [[50, 50, 2], [60, 60, 2], [55, 55, 2]]], "float32"
    )  # object 0: size 50 (visible 0, 1), PCK radius 10; object 1: never detected
    det_boxes = np.array([[0, 0, 30, 40], [1, 1, 30, 40], [0, 0, 30, 40]], "float32")
    det_kp = np.array(
        [[[9, 0], [30, 29], [0, 0]], [[0, 0], [30, 40], [15, 20]], [[0, 0], [30, 40], [15, 20]]], "float32"
    )
    ev = KeypointPCKEvaluator()
    # detection 0 (score 0.9) is the match: joint 0 within 9 <= 10, joint 1 off by 11; detection 2 is another
    # class, detection 1 scores lower
    ev.add_image(det_boxes, [0.9, 0.8, 0.95], [1, 1, 2], det_kp, gt_boxes, [1, 1], gt_kp)
    r = ev.result()
    assert r["matched"] == 1 and r["num_objects"] == 2 and r["num_keypoints"] == 5
    assert r["pck"] == pytest.approx(1 / 5) and r["pck_matched"] == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="same P"):
        ev.add_image(det_boxes, [0.9] * 3, [1] * 3, det_kp[:, :2], gt_boxes, [1, 1], gt_kp)
