"""DetectionEvaluator against the references themselves: pycocotools' COCOeval (every one of the twelve
``summarize()`` numbers, to 1e-6, on seeded random scenarios) and the VOC devkit's tie rule."""

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from zoo.metrics.detection import DetectionEvaluator

NUM_CLASSES = 5  # 0 background; 1, 2 common; 3 only detections (no ground truth); 4 only ground truth
STATS = [
    "coco_map", "ap50", "ap75", "ap_small", "ap_medium", "ap_large",
    "ar_1", "ar_10", "ar_100", "ar_small", "ar_medium", "ar_large",
]  # fmt: skip
SIDES = [32, 96, 8, 16, 40, 64, 100, 120]  # 32 and 96: boxes exactly on the area thresholds


def _box(rng, side=None):
    w = int(side if side is not None else rng.choice(SIDES))
    h = int(side if side is not None else rng.choice(SIDES + [int(rng.integers(2, 150))]))
    x, y = int(rng.integers(0, 300 - w)), int(rng.integers(0, 300 - h))
    return [x, y, x + w, y + h]


def _jitter(rng, box):
    x1, y1, x2, y2 = (v + int(rng.integers(-4, 5)) for v in box)
    return [x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)]


def random_scenario(seed: int, num_images: int = 14):
    """Images of (gt boxes, classes, crowd, area, det boxes, scores, classes); integer pixel boxes so that
    xyxy <-> COCO's xywh is exact, scores on a coarse grid so that ties happen."""
    rng = np.random.default_rng(seed)
    images = []
    for i in range(num_images):
        n_gt = 0 if i % 5 == 4 else int(rng.integers(0, 7))  # every fifth image empty
        gb, gc, gw, ga = [], [], [], []
        for _ in range(n_gt):
            b = _box(rng)
            gb.append(b)
            gc.append(int(rng.choice([1, 2, 4])))
            gw.append(bool(rng.random() < 0.2))
            box_area = (b[2] - b[0]) * (b[3] - b[1])
            u = rng.random()
            # the annotation's (mask) area: the box area, part of it, or exactly on a threshold
            ga.append(float(box_area) if u < 0.4 else (1024.0 if u < 0.5 else 9216.0 if u < 0.6 else
                      float(np.floor(box_area * rng.uniform(0.3, 1.0)))))  # fmt: skip
        if i == 1 and n_gt:  # a tie: one detection with exactly equal IoU (0.75) to two free ground truths
            gb += [[10, 200, 25, 210], [15, 200, 30, 210]]
            gc += [1, 1]
            gw += [False, False]
            ga += [150.0, 150.0]
        db, ds, dc = [], [], []
        if i % 5 != 4:
            for b, c in zip(gb, gc):
                if c == 4 or rng.random() < 0.3:
                    continue
                for _ in range(int(rng.integers(1, 4))):
                    db.append(_jitter(rng, b))
                    dc.append(c)
            for _ in range(int(rng.integers(0, 5))):
                db.append(_box(rng))
                dc.append(int(rng.choice([1, 2, 3])))
            if i == 1:
                db += [[10, 200, 30, 210], [10, 200, 25, 210]]
                dc += [1, 1]
            if i == 2:  # more than 100 detections of one class in one image
                for _ in range(150):
                    db.append(_jitter(rng, gb[0]) if gb and rng.random() < 0.3 else _box(rng))
                    dc.append(1)
            if i == 3:  # small detections inside a crowd region
                gb.append([100, 100, 200, 200])
                gc.append(2)
                gw.append(True)
                ga.append(5000.0)
                for k in range(3):
                    db.append([110 + 30 * k, 110, 130 + 30 * k, 130])
                    dc.append(2)
            ds = list(np.round(rng.integers(1, 21, len(db)) / 20, 2))
        images.append((gb, gc, gw, ga, db, ds, dc))
    return images


def pycocotools_stats(images) -> np.ndarray:
    gt = COCO()
    anns, results = [], []
    for i, (gb, gc, gw, ga, db, ds, dc) in enumerate(images, start=1):
        for b, c, w, a in zip(gb, gc, gw, ga):
            xywh = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": c, "bbox": xywh, "area": a,
                         "iscrowd": int(w)})  # fmt: skip
        for b, s, c in zip(db, ds, dc):
            results.append({"image_id": i, "category_id": c, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                            "score": float(s)})  # fmt: skip
    gt.dataset = {
        "images": [{"id": i} for i in range(1, len(images) + 1)],
        "annotations": anns,
        "categories": [{"id": c} for c in range(1, NUM_CLASSES)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.where(ev.stats < 0, np.nan, ev.stats)


def zoo_result(images) -> dict:
    ev = DetectionEvaluator(NUM_CLASSES)
    for gb, gc, gw, ga, db, ds, dc in images:
        ev.add_image(np.reshape(db, (-1, 4)), ds, dc, np.reshape(gb, (-1, 4)), gc, gt_crowd=gw, gt_area=ga)
    return ev.result()


@pytest.mark.parametrize("seed", range(6))
def test_every_coco_metric_equals_pycocotools(seed):
    images = random_scenario(seed)
    assert sum(len(im[4]) for im in images) > 100 and any(any(im[2]) for im in images)
    expected = pycocotools_stats(images)
    got = np.array([zoo_result(images)[k] for k in STATS])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0, equal_nan=True, err_msg=str(STATS))


def test_crowd_region_takes_any_number_of_small_detections():
    # three small detections inside one crowd box and one ordinary object: pycocotools ignores the three
    # (matched to the crowd by intersection / detection area) -> AP 1.0; an ordinary ignored box -> 0.25
    images = [([[0, 0, 100, 100], [200, 200, 220, 220]], [1, 1], [True, False], [10000.0, 400.0],
               [[10, 10, 30, 30], [40, 40, 60, 60], [70, 10, 90, 30], [200, 200, 220, 220]],
               [0.9, 0.9, 0.9, 0.8], [1, 1, 1, 1])]  # fmt: skip
    r = zoo_result(images)
    assert r["coco_map"] == pytest.approx(1.0) and pycocotools_stats(images)[0] == pytest.approx(1.0)
    # VOC (devkit) has no crowd rule: their IoU with the region (400 / 10000) is < 0.5, so they are FPs
    assert r["voc_map"] == pytest.approx(0.25)
    # an ordinary ignored (difficult) box in COCO: the three are unmatched FPs before the TP -> 0.25
    ev = DetectionEvaluator(2)
    gb, gc, _, _, db, ds, dc = images[0]
    ev.add_image(db, ds, dc, gb, gc, gt_difficult=[True, False])
    assert ev.result()["coco_map"] == pytest.approx(0.25, abs=0.01)


def test_equal_iou_tie_coco_takes_the_last_voc_the_first():
    # one detection with IoU 0.75 to both ground truths, then a second detection that only fits the first
    gt = [[0, 0, 15, 10], [5, 0, 20, 10]]
    dets = [[0, 0, 20, 10], [0, 0, 14, 10]]  # second: IoU 14/15 with gt 0, 9/20 with gt 1
    images = [(gt, [1, 1], [False, False], [150.0, 150.0], dets, [0.9, 0.8], [1, 1])]
    r = zoo_result(images)
    # COCO (pycocotools): the first detection takes gt 1 (the last of equal IoUs), the second gt 0: AP 1
    assert r["ap50"] == pytest.approx(1.0) and pycocotools_stats(images)[1] == pytest.approx(1.0)
    # VOC devkit: the first detection takes gt 0 (the first), the second is a duplicate of gt 0:
    # TP, FP -> recall 1/2 at precision 1, all-point AP 0.5
    assert r["voc_map"] == pytest.approx(0.5)


def test_voc_threshold_is_inclusive_as_in_the_devkit():
    # IoU exactly 0.5: the devkit's `ovmax >= minoverlap` counts it
    ev = DetectionEvaluator(2)
    ev.add_image([[0, 0, 10, 10]], [0.9], [1], [[0, 0, 10, 20]], [1])
    assert ev.result()["voc_map"] == pytest.approx(1.0)


def test_area_comes_from_the_data_and_area_scale():
    # a 40x40 box (1600 px^2, medium) whose annotation area is 900 (small): COCO splits by the area
    ev = DetectionEvaluator(2)
    ev.add_image([[0, 0, 40, 40]], [0.9], [1], [[0, 0, 40, 40]], [1], gt_area=[900.0])
    r = ev.result()
    assert r["ap_small"] == pytest.approx(1.0) and np.isnan(r["ap_medium"])
    # boxes of a 2x downscaled image: 20x20 model pixels = 1600 original pixels -> medium
    ev = DetectionEvaluator(2)
    ev.add_image([[0, 0, 20, 20]], [0.9], [1], [[0, 0, 20, 20]], [1], area_scale=4.0)
    r = ev.result()
    assert r["ap_medium"] == pytest.approx(1.0) and np.isnan(r["ap_small"])
