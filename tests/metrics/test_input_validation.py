"""Bad input to the evaluators is refused with a message naming the argument, image and index
(or, for ground-truth boxes, dropped and counted when asked). NumPy only."""

import numpy as np
import pytest

from zoo.metrics.detection import DetectionEvaluator, MaskIoUEvaluator
from zoo.metrics.segmentation import SegmentationEvaluator

GOOD = [[0, 0, 10, 10]]


def batch(num=None, scores=None, classes=None, gt_boxes=None, gt_classes=None, valid=None):
    det = {
        "boxes": np.array([[[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 0, 0]]] * 2, float),
        "scores": np.array([[0.9, 0.8, 0.0]] * 2) if scores is None else np.asarray(scores),
        "classes": np.array([[1, 1, -1]] * 2) if classes is None else np.asarray(classes),
        "num_detections": np.array([2, 2]) if num is None else np.asarray(num),
    }
    gt = {
        "boxes": np.array([[[0, 0, 10, 10], [0, 0, 0, 0]]] * 2, float) if gt_boxes is None else gt_boxes,
        "classes": np.array([[1, -1]] * 2) if gt_classes is None else np.asarray(gt_classes),
    }
    if valid is not None:
        gt["valid"] = np.asarray(valid)
    return det, gt


@pytest.mark.parametrize(
    "box, index",
    [([np.nan, 0, 5, 5], 1), ([0, 0, np.inf, 5], 1), ([5, 0, 1, 5], 1), ([0, 0, 0, 5], 1), ([3, 3, 9, 3], 1)],
)
def test_bad_ground_truth_boxes_are_refused_naming_image_and_index(box, index):
    ev = DetectionEvaluator(3)
    ev.add_image(GOOD, [0.9], [1], GOOD, [1])
    with pytest.raises(ValueError, match=rf"gt_boxes of image 1: box {index} .*invalid_gt='drop'"):
        ev.add_image(GOOD, [0.9], [1], [GOOD[0], box], [1, 2])


def test_bad_ground_truth_boxes_dropped_and_counted_when_asked():
    ev = DetectionEvaluator(3, invalid_gt="drop")
    with pytest.warns(UserWarning, match="Dropped 2 invalid ground-truth boxes of image 0"):
        ev.add_image(GOOD, [0.9], [1], [GOOD[0], [np.nan] * 4, [5, 5, 5, 9]], [1, 1, 2])
    r = ev.result()
    assert r["dropped_gt"] == 2 and r["per_class"]["1"]["num_gt"] == 1 and r["voc_map"] == 1.0
    mask_ev = MaskIoUEvaluator(invalid_gt="drop")
    m = np.ones((1, 10, 10), np.uint8)
    with pytest.warns(UserWarning, match="Dropped 1"):
        mask_ev.add_image(GOOD, [0.9], [1], m, [[4, 4, 2, 2]], [1], m)
    assert mask_ev.result()["dropped_gt"] == 1 and mask_ev.result()["num_objects"] == 0


@pytest.mark.parametrize("num, text", [([-1, 2], r"\[0\] = -1 is outside \[0, 3\]"), ([2, 4], r"\[1\] = 4")])
def test_num_detections_out_of_range(num, text):
    det, gt = batch(num=num)
    with pytest.raises(ValueError, match=r"num_detections'\]" + text):
        DetectionEvaluator(3).update(det, gt)


@pytest.mark.parametrize("key", ["scores", "classes", "num_detections"])
def test_detection_batch_sizes_differ_named_by_argument(key):
    det, gt = batch()
    det[key] = det[key][:1]
    with pytest.raises(ValueError, match=rf"Batch sizes differ: detections\['{key}'\] has 1 images"):
        DetectionEvaluator(3).update(det, gt)


@pytest.mark.parametrize("key", ["boxes", "classes", "valid"])
def test_ground_truth_batch_sizes_differ_named_by_argument(key):
    det, gt = batch(valid=[[True, False]] * 2)
    gt[key] = gt[key][:1]
    with pytest.raises(ValueError, match=rf"Batch sizes differ: ground_truth\['{key}'\] has 1 images"):
        DetectionEvaluator(3).update(det, gt)


def test_padded_lengths_and_missing_keys_are_named():
    det, gt = batch()
    det["scores"] = det["scores"][:, :2]
    with pytest.raises(ValueError, match=r"detections\['scores'\] has 2 detections per image"):
        DetectionEvaluator(3).update(det, gt)
    det, gt = batch()
    del det["scores"]
    with pytest.raises(ValueError, match="detections has no 'scores'"):
        DetectionEvaluator(3).update(det, gt)


def test_nan_score_only_checked_in_the_valid_part():
    det, gt = batch(scores=[[0.9, 0.8, np.nan]] * 2)  # NaN in the padding: never read
    ev = DetectionEvaluator(3)
    ev.update(det, gt)
    assert ev.num_images == 2
    det, gt = batch(scores=[[0.9, np.nan, 0.1]] * 2)  # NaN inside num_detections
    with pytest.raises(ValueError, match=r"det_scores of image 0: entry 1 is NaN or inf"):
        DetectionEvaluator(3).update(det, gt)
    det, gt = batch(scores=[[0.9, 0.8, np.nan]] * 2)  # without num_detections: class -1 is the padding
    del det["num_detections"]
    DetectionEvaluator(3).update(det, gt)


@pytest.mark.parametrize(
    "classes, text",
    [
        ([[1, -2, -1]] * 2, r"det_classes of image 0: entry 1 is class -2, outside \[0, num_classes=3\)"),
        ([[1.0, 1.9, -1.0]] * 2, "det_classes of image 0: entry 1 is 1.9, not an integral class id"),
        ([[1, 3, -1]] * 2, "entry 1 is class 3, outside"),
        ([[1, -1, -1]] * 2, "entry 1 is class -1"),  # -1 inside num_detections is not padding
    ],
)
def test_bad_detection_classes_are_refused(classes, text):
    det, gt = batch(classes=classes)
    with pytest.raises(ValueError, match=text):
        DetectionEvaluator(3).update(det, gt)


def test_bad_ground_truth_classes_are_refused():
    det, gt = batch(valid=[[True, True]] * 2)  # the -1 of the padding marked valid
    with pytest.raises(ValueError, match=r"gt_classes of image 0: entry 1 is class -1"):
        DetectionEvaluator(3).update(det, gt)
    det, gt = batch(gt_classes=[[1.5, -1]] * 2)
    with pytest.raises(ValueError, match="entry 0 is 1.5, not an integral class id"):
        DetectionEvaluator(3).update(det, gt)
    det, gt = batch(gt_classes=[[7, -1]] * 2)
    with pytest.raises(ValueError, match="gt_classes of image 0: entry 0 is class 7"):
        DetectionEvaluator(3).update(det, gt)


def test_detection_nan_box_and_wrong_shapes():
    det, gt = batch()
    det["boxes"][1, 0, 2] = np.nan
    with pytest.raises(ValueError, match="det_boxes of image 1: entry 0 is NaN or inf"):
        DetectionEvaluator(3).update(det, gt)
    det, gt = batch()
    det["boxes"] = det["boxes"][..., :3]
    with pytest.raises(ValueError, match=r"detections\['boxes'\] must be \[B, N, 4\]"):
        DetectionEvaluator(3).update(det, gt)
    with pytest.raises(ValueError, match=r"ground_truth\['boxes'\] must have 3 dimensions"):
        DetectionEvaluator(3).update(batch()[0], {"boxes": np.zeros((2, 4)), "classes": np.zeros((2, 1))})
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1"):
        DetectionEvaluator(2.5)
    with pytest.raises(ValueError, match="invalid_gt"):
        DetectionEvaluator(3, invalid_gt="ignore")


def mask_batch():
    det = {
        "boxes": np.array([[[0, 0, 10, 10], [0, 0, 0, 0]]], float),
        "scores": np.array([[0.9, 0.0]]),
        "classes": np.array([[1, -1]]),
        "masks": np.ones((1, 2, 10, 10), np.float32),
        "num_detections": np.array([1]),
    }
    gt = {
        "boxes": np.array([[[0, 0, 10, 10]]], float),
        "classes": np.array([[1]]),
        "masks": np.ones((1, 1, 10, 10)),
    }
    return det, gt


def test_mask_evaluator_refuses_nan_scores_boxes_and_bad_counts():
    det, gt = mask_batch()
    ev = MaskIoUEvaluator()
    ev.update(det, gt)
    assert ev.result()["mean_mask_iou"] == 1.0
    for key, index, text in (
        ("scores", (0, 0), "det_scores of image 0: entry 0 is NaN"),
        ("boxes", (0, 0, 1), "det_boxes of image 0: entry 0 is NaN"),
        ("masks", (0, 0, 3, 3), "det_masks of image 0: mask 0 has NaN"),
    ):
        det, gt = mask_batch()
        det[key] = det[key].astype(float)
        det[key][index] = np.nan
        with pytest.raises(ValueError, match=text):
            MaskIoUEvaluator().update(det, gt)
    det, gt = mask_batch()
    det["scores"][0, 1] = np.nan  # padding: not read
    MaskIoUEvaluator().update(det, gt)
    det, gt = mask_batch()
    det["num_detections"] = np.array([-1])
    with pytest.raises(ValueError, match="num_detections'\\]\\[0\\] = -1"):
        MaskIoUEvaluator().update(det, gt)
    det, gt = mask_batch()
    det["masks"] = np.ones((2, 2, 10, 10))
    with pytest.raises(ValueError, match=r"Batch sizes differ: detections\['masks'\] has 2"):
        MaskIoUEvaluator().update(det, gt)
    det, gt = mask_batch()
    det["classes"] = np.array([[1.5, -1]])
    with pytest.raises(ValueError, match="not an integral class id"):
        MaskIoUEvaluator().update(det, gt)


def test_segmentation_refuses_nan_logits_and_float_labels():
    ev = SegmentationEvaluator(3)
    logits = np.zeros((1, 2, 2, 3))
    logits[0, 1, 0, 2] = np.nan
    with pytest.raises(ValueError, match=r"y_pred \(logits\) has NaN or inf at index \(0, 1, 0, 2\)"):
        ev.update(np.zeros((1, 2, 2), np.int32), logits)
    with pytest.raises(ValueError, match=r"y_true \(labels\) must be integral class ids, got 1.5"):
        ev.update(np.array([[0.0, 1.5]]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r"y_pred \(class ids\) must be integral"):
        ev.update(np.array([[0, 1]]), np.array([[0.0, 0.7]]))
    with pytest.raises(ValueError, match="must be integral"):
        ev.update(np.array([[0.0, np.nan]]), np.array([[0, 1]]))
    ev.update(np.array([[0.0, 2.0]]), np.array([[0, 2]]))  # whole numbers in a float array are accepted
    assert ev.result()["pixel_accuracy"] == 1.0
    with pytest.raises(ValueError, match="num_classes must be an integer"):
        SegmentationEvaluator(0)
