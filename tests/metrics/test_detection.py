"""Tests of zoo.metrics.detection: the course material's worked example and hand-computed cases."""

import numpy as np
import pytest

from zoo.metrics.detection import DetectionEvaluator, coco_ap, voc_ap

# Course material (seeds/001, "AP(类A) = (1+1+3/4+6/13+6/13+6/13+7/17)/25 = 0.1819"):
# 20 detections numbered 1..20 with their confidence and whether they are a true positive; 25 GT boxes.
WORKED = {
    1: (0.35, 0), 2: (0.15, 0), 3: (0.92, 1), 4: (0.03, 0), 5: (0.24, 1), 6: (0.10, 0), 7: (0.78, 1),
    8: (0.01, 0), 9: (0.47, 0), 10: (0.09, 1), 11: (0.69, 0), 12: (0.43, 0), 13: (0.26, 0), 14: (0.35, 1),
    15: (0.11, 0), 16: (0.07, 0), 17: (0.45, 0), 18: (0.16, 1), 19: (0.32, 0), 20: (0.52, 1),
}  # fmt: skip


def worked_example_evaluator():
    gt = np.array(
        [[40 * (i % 5), 40 * (i // 5), 40 * (i % 5) + 30, 40 * (i // 5) + 30] for i in range(25)], float
    )
    boxes, scores = [], []
    next_gt = 0
    for n in range(1, 21):  # detections arrive in their numbering order: 1 before 14 at the tie 0.35
        score, tp = WORKED[n]
        if tp:
            boxes.append(gt[next_gt] + [1, 0, 1, 0])  # IoU 29/31 with one distinct ground truth
            next_gt += 1
        else:
            boxes.append([500 + 10 * n, 500, 505 + 10 * n, 505])  # overlaps nothing
        scores.append(score)
    ev = DetectionEvaluator(num_classes=2, class_names=["background", "A"])
    ev.add_image(boxes, scores, np.ones(20, int), gt, np.ones(25, int))
    return ev


def test_worked_example_all_point_ap_0_1819():
    result = worked_example_evaluator().result()
    expected = (1 + 1 + 3 / 4 + 6 / 13 + 6 / 13 + 6 / 13 + 7 / 17) / 25
    assert round(expected, 4) == 0.1819
    assert result["per_class"]["A"]["voc_ap"] == pytest.approx(expected, abs=1e-12)
    assert round(result["voc_map"], 4) == 0.1819
    # VOC2007 11-point by hand: recall >= 0 -> 1, >= 0.1 -> 3/4, >= 0.2 -> 6/13, >= 0.3 -> none.
    assert result["voc07_map"] == pytest.approx((1 + 3 / 4 + 6 / 13) / 11, abs=1e-12)


def test_voc_ap_on_the_table_directly():
    tps = [WORKED[n][1] for n in (3, 7, 11, 20, 9, 17, 12, 1, 14, 19, 13, 5, 18, 2, 15, 6, 10, 16, 4, 8)]
    tp = np.cumsum(tps)
    rec, prec = tp / 25, tp / np.arange(1, 21)
    assert voc_ap(rec, prec) == pytest.approx(0.18186, abs=1e-5)
    assert voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_duplicates_difficult_and_missing_classes():
    ev = DetectionEvaluator(num_classes=4)
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]], float)
    ev.add_image(
        det_boxes=[[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]],
        det_scores=[0.9, 0.8, 0.7, 0.6],
        det_classes=[1, 1, 1, 2],
        gt_boxes=gt,
        gt_classes=[1, 2, 1],
        gt_difficult=[False, False, True],
    )
    r = ev.result()
    # class 1: TP (0.9), duplicate FP (0.8), difficult match ignored (0.7); 1 non-difficult GT.
    # precision 1 at recall 1 -> AP 1 (the FP comes after full recall).
    assert r["per_class"]["1"]["voc_ap"] == pytest.approx(1.0)
    assert r["per_class"]["1"]["num_gt"] == 1
    assert r["per_class"]["2"]["voc_ap"] == pytest.approx(1.0)
    assert np.isnan(r["per_class"]["3"]["voc_ap"])  # no ground truth: left out of the mean
    assert r["voc_map"] == pytest.approx(1.0)


def test_voc_fp_order_matters_and_batched_update():
    ev = DetectionEvaluator(num_classes=2)
    detections = {
        "boxes": np.array([[[100, 100, 110, 110], [0, 0, 10, 10], [0, 0, 0, 0]]], float),
        "scores": np.array([[0.9, 0.8, 0.0]]),
        "classes": np.array([[1, 1, -1]]),
        "num_detections": np.array([2]),
    }
    gt = {
        "boxes": np.array([[[0, 0, 10, 10], [30, 30, 40, 40], [0, 0, 0, 0]]], float),
        "classes": np.array([[1, 1, -1]]),
        "valid": np.array([[True, True, False]]),
    }
    ev.update(detections, gt)
    r = ev.result()
    # FP then TP: precision 1/2 at recall 1/2 -> all-point AP 0.25; 11-point: 6 points at 0.5 -> 3/11
    assert r["voc_map"] == pytest.approx(0.25)
    assert r["voc07_map"] == pytest.approx(6 * 0.5 / 11)
    assert r["num_images"] == 1


def test_coco_thresholds_and_area_ranges():
    ev = DetectionEvaluator(num_classes=2)
    gt = [[0, 0, 20, 20], [100, 100, 200, 200]]  # small (400 px^2) and large (10000 px^2)
    dets = [[0, 0, 20, 17.6], [100, 100, 200, 200]]  # IoU 0.88 and 1.0
    ev.add_image(dets, [0.9, 0.8], [1, 1], gt, [1, 1])
    r = ev.result()
    # small: a TP at IoU 0.5..0.85 (8 of 10 thresholds) -> 0.8; large: 1.0
    assert r["ap_small"] == pytest.approx(0.8)
    assert r["ap_large"] == pytest.approx(1.0)
    assert np.isnan(r["ap_medium"])
    assert r["ap50"] == pytest.approx(1.0)
    # at 0.9..0.95 only the large box: recall 1/2 reached at precision 1/2 (the 0.9 detection is FP) -> 101-pt
    p_high = coco_ap(np.array([0.0, 0.5]), np.array([0.0, 0.5]))
    assert r["coco_map"] == pytest.approx((8 * 1.0 + 2 * p_high) / 10)
    assert r["ap75"] == pytest.approx(1.0)


def test_coco_ap_101_points():
    assert coco_ap(np.array([1.0]), np.array([1.0])) == pytest.approx(1.0)
    assert coco_ap(np.array([0.5]), np.array([1.0])) == pytest.approx(51 / 101)
    assert coco_ap(np.zeros(0), np.zeros(0)) == 0.0


def test_empty_and_bad_input():
    ev = DetectionEvaluator(num_classes=3)
    assert np.isnan(ev.result()["voc_map"])
    ev.add_image(np.zeros((0, 4)), [], [], [[0, 0, 5, 5]], [1])
    assert ev.result()["voc_map"] == 0.0
    with pytest.raises(ValueError, match="NaN"):
        ev.add_image([[np.nan, 0, 1, 1]], [0.5], [1], np.zeros((0, 4)), [])
    with pytest.raises(ValueError, match="num_classes"):
        ev.add_image([[0, 0, 1, 1]], [0.5], [7], np.zeros((0, 4)), [])
    with pytest.raises(ValueError, match="disagree"):
        ev.add_image([[0, 0, 1, 1]], [0.5, 0.4], [1], np.zeros((0, 4)), [])
    ev.reset()
    assert ev.num_images == 0


def test_update_with_loader_targets_and_perfect_detections():
    from zoo.data.shapes import NUM_CLASSES, shapes_dataset

    _, targets = next(iter(shapes_dataset(num_images=4, image_size=32, max_objects=3, seed=9, batch_size=4)))
    t = {k: v.numpy() for k, v in targets.items()}
    valid = t["valid"]
    detections = {  # the ground truth itself, in the batched_nms format (padding: classes -1, count)
        "boxes": t["boxes"],
        "scores": valid.astype(np.float32),
        "classes": np.where(valid, t["classes"], -1),
        "num_detections": valid.sum(1).astype(np.int32),
    }
    ev = DetectionEvaluator(NUM_CLASSES)
    ev.update(detections, t)
    r = ev.result()
    assert r["num_images"] == 4
    assert r["voc_map"] == pytest.approx(1.0) and r["coco_map"] == pytest.approx(1.0)
    assert r["voc07_map"] == pytest.approx(1.0)
