"""Detection metrics (NumPy, outside the graph): VOC AP and COCO-style mAP, streamed over batches.

Boxes are xyxy in absolute pixels. Class id 0 is background and is not evaluated.

Provides:
    DetectionEvaluator: ``update(detections, ground_truth)`` per batch (the ``batched_nms`` dict and a
        padded ground-truth dict), ``result()`` -> VOC2007 11-point mAP, VOC2010+ all-point mAP (both
        at IoU 0.5 with "difficult" boxes ignored), COCO mAP@[.5:.95], AP50, AP75, AP small / medium /
        large, per class and mean; ``add_image(...)`` for one unbatched image; ``reset()``.
    voc_ap: AP of one precision/recall curve, 11-point or all-point.
    coco_ap: AP of one curve with COCO's 101 recall points.
    MaskIoUEvaluator: mean mask IoU of instance masks over ground-truth objects (each object's
        best-scoring same-class detection with score > 0.5 and box IoU >= 0.5; unmatched: 0).
    mask_iou: IoU of two binary masks.

Matching rules. VOC (devkit): detections of a class sorted by score over all images; each takes the
ground truth with the highest IoU in its image; IoU > 0.5 and not yet taken -> TP, already taken -> FP
(duplicate), a difficult box -> ignored (neither); otherwise FP. COCO (cocoeval): per image, each
detection (by score) takes the best still-free ground truth with IoU >= t, preferring non-ignored ones;
ground truth that is difficult or outside the area range is ignored, and so are detections matched to
it or (unmatched) outside the range; at most ``max_detections`` per image and class. Equal scores keep
their arrival order (stable sort). IoU uses continuous pixel coordinates (no VOC "+1").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

AREA_RANGES = {
    "all": (0.0, float("inf")),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, float("inf")),
}
COCO_IOUS = np.round(np.arange(0.5, 0.951, 0.05), 2)
COCO_RECALLS = np.linspace(0.0, 1.0, 101)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    area = lambda x: np.maximum(x[:, 2] - x[:, 0], 0) * np.maximum(x[:, 3] - x[:, 1], 0)  # noqa: E731
    iw = np.maximum(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0)
    ih = np.maximum(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0)
    inter = iw * ih
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _area(b: np.ndarray) -> np.ndarray:
    return np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)


def voc_ap(recall: Sequence[float], precision: Sequence[float], use_07_metric: bool = False) -> float:
    """Average precision of one class from its cumulative recall/precision (detections by score).

    Args:
        recall: recall after each detection (non-decreasing).
        precision: precision after each detection.
        use_07_metric: True: VOC2007's 11-point mean of the best precision at recall >= 0, 0.1, ..., 1;
            False: VOC2010+ all-point area under the precision envelope (max precision at recall >= r).

    Example:
        >>> voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3])  # -> 0.5 * 1 + 0.5 * 2/3 = 0.8333
    """
    rec = np.asarray(recall, np.float64)
    prec = np.asarray(precision, np.float64)
    if use_07_metric:
        ap = 0.0
        for t in np.linspace(0.0, 1.0, 11):
            ap += (np.max(prec[rec >= t]) if np.any(rec >= t) else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def coco_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """COCO AP: mean over 101 recall points of the precision envelope (0 beyond the last recall)."""
    if len(recall) == 0:
        return 0.0
    envelope = np.maximum.accumulate(np.asarray(precision, np.float64)[::-1])[::-1]
    idx = np.searchsorted(recall, COCO_RECALLS, side="left")
    q = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
    return float(np.mean(q))


def _np(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    try:
        import keras

        return np.asarray(keras.ops.convert_to_numpy(x))
    except Exception:  # noqa: BLE001 - plain sequences
        return np.asarray(x)


class DetectionEvaluator:
    """Streaming VOC / COCO evaluator.

    Args:
        num_classes: number of class ids including background (e.g. 21 for VOC, 4 for shapes).
        class_names: optional names indexed by class id (used as keys of ``per_class``).
        background_class: id not evaluated (None: evaluate all ids).
        voc_iou: IoU threshold of the VOC metrics.
        max_detections: COCO's per-image, per-class cap (100).

    Example:
        >>> ev = DetectionEvaluator(num_classes=4)
        >>> for images, targets in val_data:
        ...     ev.update(detector.detect(images), targets)
        >>> ev.result()["voc_map"]
    """

    def __init__(
        self,
        num_classes: int,
        class_names: Sequence[str] | None = None,
        background_class: int | None = 0,
        voc_iou: float = 0.5,
        max_detections: int = 100,
    ) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"class_names has {len(class_names)} names for num_classes={num_classes}")
        self.num_classes = int(num_classes)
        self.class_names = (
            list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        )
        self.background_class = background_class
        self.voc_iou = float(voc_iou)
        self.max_detections = int(max_detections)
        self.reset()

    def reset(self) -> None:
        """Forgets every accumulated image."""
        self._images: list[dict[str, np.ndarray]] = []

    @property
    def num_images(self) -> int:
        return len(self._images)

    def add_image(
        self,
        det_boxes: Any,
        det_scores: Any,
        det_classes: Any,
        gt_boxes: Any,
        gt_classes: Any,
        gt_difficult: Any | None = None,
    ) -> None:
        """Adds one image: unpadded detections [D, 4], [D], [D] and ground truth [G, 4], [G] (+ [G] bool)."""
        db = _np(det_boxes).astype(np.float64).reshape(-1, 4)
        ds = _np(det_scores).astype(np.float64).reshape(-1)
        dc = _np(det_classes).astype(np.int64).reshape(-1)
        gb = _np(gt_boxes).astype(np.float64).reshape(-1, 4)
        gc = _np(gt_classes).astype(np.int64).reshape(-1)
        gd = np.zeros(len(gc), bool) if gt_difficult is None else _np(gt_difficult).astype(bool).reshape(-1)
        if not (len(db) == len(ds) == len(dc)):
            raise ValueError(
                f"Detections disagree in length: boxes {len(db)}, scores {len(ds)}, classes {len(dc)}"
            )
        if not (len(gb) == len(gc) == len(gd)):
            raise ValueError(
                f"Ground truth disagrees in length: boxes {len(gb)}, classes {len(gc)}, difficult {len(gd)}"
            )
        if not np.all(np.isfinite(db)) or not np.all(np.isfinite(ds)):
            raise ValueError("Detections contain NaN or inf boxes/scores")
        if np.any(gc >= self.num_classes) or np.any(dc >= self.num_classes):
            raise ValueError(f"Class id >= num_classes={self.num_classes} in detections or ground truth")
        keep = dc >= 0
        self._images.append({"db": db[keep], "ds": ds[keep], "dc": dc[keep], "gb": gb, "gc": gc, "gd": gd})

    def update(self, detections: dict[str, Any], ground_truth: dict[str, Any]) -> None:
        """Adds a batch.

        Args:
            detections: dict(boxes [B, K, 4], scores [B, K], classes [B, K], num_detections [B]) as
                returned by ``zoo.ops.nms.batched_nms`` (xyxy pixels of the same images as the ground truth).
            ground_truth: dict(boxes [B, G, 4], classes [B, G], optional valid [B, G] bool (default:
                classes >= 0), optional difficult [B, G] bool), e.g. the targets of a zoo loader.
        """
        boxes, scores, classes = (_np(detections[k]) for k in ("boxes", "scores", "classes"))
        batch = boxes.shape[0]
        num = (
            _np(detections["num_detections"])
            if "num_detections" in detections
            else np.full(batch, boxes.shape[1])
        )
        gb, gc = _np(ground_truth["boxes"]), _np(ground_truth["classes"])
        valid = _np(ground_truth["valid"]).astype(bool) if "valid" in ground_truth else gc >= 0
        diff = (
            _np(ground_truth["difficult"]).astype(bool)
            if "difficult" in ground_truth
            else np.zeros(gc.shape, bool)
        )
        if gb.shape[0] != batch:
            raise ValueError(f"Batch sizes differ: {batch} detections vs {gb.shape[0]} ground truths")
        for b in range(batch):
            n = int(num[b])
            v = valid[b]
            self.add_image(boxes[b, :n], scores[b, :n], classes[b, :n], gb[b][v], gc[b][v], diff[b][v])

    def _eval_classes(self) -> list[int]:
        return [c for c in range(self.num_classes) if c != self.background_class]

    def _voc_class(self, c: int) -> tuple[float, float, int]:
        scores, best_iou, keys, difficult = [], [], [], []
        npos = 0
        for i, im in enumerate(self._images):
            g = im["gc"] == c
            npos += int(np.sum(g & ~im["gd"]))
            d = im["dc"] == c
            if not d.any():
                continue
            ious = _iou(im["db"][d], im["gb"][g])
            j = np.argmax(ious, axis=1) if g.any() else np.zeros(int(d.sum()), int)
            scores.append(im["ds"][d])
            best_iou.append(ious.max(axis=1) if g.any() else np.full(int(d.sum()), -1.0))
            keys.append(np.stack([np.full(len(j), i), j], axis=1))
            difficult.append(im["gd"][g][j] if g.any() else np.zeros(len(j), bool))
        if npos == 0:
            return float("nan"), float("nan"), 0
        if not scores:
            return 0.0, 0.0, npos
        order = np.argsort(-np.concatenate(scores), kind="stable")  # ties keep arrival order
        best_iou = np.concatenate(best_iou)[order]
        keys = np.concatenate(keys)[order]
        difficult = np.concatenate(difficult)[order]
        hit = best_iou > self.voc_iou
        ignored = hit & difficult
        candidate = np.nonzero(hit & ~difficult)[0]
        tp = np.zeros(len(order), bool)
        if len(candidate):
            _, first = np.unique(keys[candidate], axis=0, return_index=True)
            tp[candidate[first]] = True  # the first detection of a ground truth; later ones are duplicates
        tp, fp = tp[~ignored], ~tp[~ignored]
        tp_c, fp_c = np.cumsum(tp), np.cumsum(fp)
        rec = tp_c / npos
        prec = tp_c / np.maximum(tp_c + fp_c, np.finfo(np.float64).eps)
        return voc_ap(rec, prec, True), voc_ap(rec, prec, False), npos

    def _coco_class(self, c: int) -> dict[str, np.ndarray]:
        """AP per IoU threshold for each area range (NaN where the range has no ground truth)."""
        out = {}
        per_image = []
        for im in self._images:
            g = im["gc"] == c
            d = np.where(im["dc"] == c)[0]
            d = d[np.argsort(-im["ds"][d], kind="stable")][: self.max_detections]
            gb, gd = im["gb"][g], im["gd"][g]
            per_image.append((im["db"][d], im["ds"][d], gb, gd, _iou(im["db"][d], gb)))
        for name, (lo, hi) in AREA_RANGES.items():
            aps = np.full(len(COCO_IOUS), np.nan)
            scores, npig = [], 0
            results = [[] for _ in COCO_IOUS]
            for db, ds, gb, gd, ious in per_image:
                garea = _area(gb)
                gign = gd | (garea < lo) | (garea > hi)
                npig += int(np.sum(~gign))
                darea = _area(db)
                scores.append(ds)
                rowmax = ious.max(axis=1) if len(gb) else np.zeros(len(db))
                for t_i, t in enumerate(COCO_IOUS):
                    thr = min(t, 1 - 1e-10)
                    gtm = np.zeros(len(gb), bool)
                    dtm = np.zeros(len(db), bool)
                    dig = np.zeros(len(db), bool)
                    for di in np.nonzero(rowmax >= thr)[0]:  # detections by descending score
                        free = ~gtm & (ious[di] >= thr)
                        if not free.any():
                            continue
                        cand = free & ~gign if (free & ~gign).any() else free  # prefer non-ignored
                        m = int(np.argmax(np.where(cand, ious[di], -1.0)))
                        gtm[m] = True
                        dtm[di] = True
                        dig[di] = gign[m]
                    dig |= ~dtm & ((darea < lo) | (darea > hi))
                    results[t_i].append((dtm, dig))
            if npig == 0:
                out[name] = aps
                continue
            all_scores = np.concatenate(scores) if scores else np.zeros(0)
            order = np.argsort(-all_scores, kind="stable")
            for t_i in range(len(COCO_IOUS)):
                dtm = np.concatenate([r[0] for r in results[t_i]]) if results[t_i] else np.zeros(0, bool)
                dig = np.concatenate([r[1] for r in results[t_i]]) if results[t_i] else np.zeros(0, bool)
                dtm, dig = dtm[order], dig[order]
                keep = ~dig
                tps = np.cumsum(dtm[keep])
                fps = np.cumsum(~dtm[keep])
                rec = tps / npig
                prec = tps / np.maximum(tps + fps, np.finfo(np.float64).eps)
                aps[t_i] = coco_ap(rec, prec)
            out[name] = aps
        return out

    def result(self) -> dict[str, Any]:
        """Computes every metric over the images added so far.

        Returns:
            dict with "voc07_map", "voc_map" (all-point, = mAP@0.5), "coco_map" (mAP@[.5:.95]), "ap50",
            "ap75", "ap_small", "ap_medium", "ap_large", "num_images" and "per_class"
            {name: {"voc07_ap", "voc_ap", "coco_ap", "ap50", "ap75", "num_gt"}}. Classes without ground
            truth get NaN and are left out of the means (a mean over no class is NaN).
        """
        per_class = {}
        cols = {k: [] for k in ("voc07", "voc", "coco", "ap50", "ap75", "small", "medium", "large")}
        for c in self._eval_classes():
            ap07, ap, npos = self._voc_class(c)
            coco = self._coco_class(c)
            a = coco["all"]
            entry = {
                "voc07_ap": ap07,
                "voc_ap": ap,
                "coco_ap": float(np.mean(a)) if not np.all(np.isnan(a)) else float("nan"),
                "ap50": float(a[0]),
                "ap75": float(a[5]),
                "num_gt": npos,
            }
            per_class[self.class_names[c]] = entry
            cols["voc07"].append(ap07)
            cols["voc"].append(ap)
            cols["coco"].append(entry["coco_ap"])
            cols["ap50"].append(entry["ap50"])
            cols["ap75"].append(entry["ap75"])
            for name in ("small", "medium", "large"):
                cols[name].append(
                    float(np.mean(coco[name])) if not np.all(np.isnan(coco[name])) else float("nan")
                )

        def mean(values: list[float]) -> float:
            v = np.asarray(values, np.float64)
            v = v[~np.isnan(v)]
            return float(np.mean(v)) if len(v) else float("nan")

        return {
            "voc07_map": mean(cols["voc07"]),
            "voc_map": mean(cols["voc"]),
            "coco_map": mean(cols["coco"]),
            "ap50": mean(cols["ap50"]),
            "ap75": mean(cols["ap75"]),
            "ap_small": mean(cols["small"]),
            "ap_medium": mean(cols["medium"]),
            "ap_large": mean(cols["large"]),
            "num_images": self.num_images,
            "per_class": per_class,
        }


def mask_iou(a: Any, b: Any) -> float:
    """IoU of two binary masks of the same shape (nonzero = inside); 1.0 when both are empty."""
    a, b = _np(a).astype(bool), _np(b).astype(bool)
    if a.shape != b.shape:
        raise ValueError(f"Masks differ in shape: {a.shape} vs {b.shape}")
    union = int(np.count_nonzero(a | b))
    return float(np.count_nonzero(a & b)) / union if union else 1.0


class MaskIoUEvaluator:
    """Streaming mean mask IoU of instance masks over ground-truth objects (NumPy).

    For each ground-truth object, the highest-scoring detection with score > ``score_threshold`` of
    the same class whose box has IoU >= ``box_iou`` with the object's box is its match (a detection
    may match several objects; there is no one-to-one assignment). The object's score is the IoU of
    the match's mask (binarised at ``mask_threshold``) with its ground-truth mask, or 0 without a
    match. ``mean_mask_iou`` is the mean over all objects (every image, every class); it measures
    mask quality and detection recall together and is not mask AP.

    Args:
        num_classes: class ids including background (only needed for ``class_names``; None: any).
        class_names: optional names indexed by class id (keys of ``per_class``).
        score_threshold: detections at or below this score are ignored (0.5).
        box_iou: box IoU a match needs at least (0.5).
        mask_threshold: predicted masks (probabilities or 0/1) are foreground at >= this (0.5).

    Example:
        >>> ev = MaskIoUEvaluator()
        >>> for images, targets in val_data:                       # targets with "masks"
        ...     ev.update(mask_rcnn.detect_batch(images), targets)  # detections with "masks"
        >>> ev.result()["mean_mask_iou"], ev.result()["matched"]
    """

    def __init__(
        self,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        score_threshold: float = 0.5,
        box_iou: float = 0.5,
        mask_threshold: float = 0.5,
    ) -> None:
        if class_names is not None and num_classes is not None and len(class_names) != num_classes:
            raise ValueError(f"class_names has {len(class_names)} names for num_classes={num_classes}")
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names is not None else None
        self.score_threshold = float(score_threshold)
        self.box_iou = float(box_iou)
        self.mask_threshold = float(mask_threshold)
        self.reset()

    def reset(self) -> None:
        """Forgets every accumulated object."""
        self._ious: list[float] = []
        self._classes: list[int] = []
        self._matched: list[bool] = []
        self.num_images = 0

    def add_image(
        self,
        det_boxes: Any,
        det_scores: Any,
        det_classes: Any,
        det_masks: Any,
        gt_boxes: Any,
        gt_classes: Any,
        gt_masks: Any,
    ) -> None:
        """Adds one image: unpadded detections [D, 4], [D], [D], masks [D, H, W] and ground truth
        [G, 4], [G], masks [G, H, W] (xyxy pixels; masks in pixels of the same image)."""
        db = _np(det_boxes).astype(np.float64).reshape(-1, 4)
        ds = _np(det_scores).astype(np.float64).reshape(-1)
        dc = _np(det_classes).astype(np.int64).reshape(-1)
        dm = _np(det_masks)
        gb = _np(gt_boxes).astype(np.float64).reshape(-1, 4)
        gc = _np(gt_classes).astype(np.int64).reshape(-1)
        gm = _np(gt_masks)
        if not (len(db) == len(ds) == len(dc) == len(dm)):
            raise ValueError(
                f"Detections disagree in length: boxes {len(db)}, scores {len(ds)}, classes {len(dc)}, "
                f"masks {len(dm)}"
            )
        if not (len(gb) == len(gc) == len(gm)):
            raise ValueError(
                f"Ground truth disagrees in length: boxes {len(gb)}, classes {len(gc)}, masks {len(gm)}"
            )
        if len(dm) and len(gm) and dm.shape[1:] != gm.shape[1:]:
            raise ValueError(
                f"Detection masks {dm.shape[1:]} and ground-truth masks {gm.shape[1:]} differ in size"
            )
        keep = (ds > self.score_threshold) & (dc >= 0)
        db, ds, dc, dm = db[keep], ds[keep], dc[keep], dm[keep]
        overlaps = _iou(gb, db)  # [G, D]
        for g in range(len(gb)):
            candidates = np.flatnonzero((dc == gc[g]) & (overlaps[g] >= self.box_iou))
            if len(candidates):
                best = candidates[np.argmax(ds[candidates])]  # first of equal scores
                pred = dm[best] >= self.mask_threshold if dm.dtype.kind == "f" else dm[best] != 0
                self._ious.append(mask_iou(pred, gm[g]))
            else:
                self._ious.append(0.0)
            self._classes.append(int(gc[g]))
            self._matched.append(bool(len(candidates)))
        self.num_images += 1

    def update(self, detections: dict[str, Any], ground_truth: dict[str, Any]) -> None:
        """Adds a batch: detections dict(boxes [B, K, 4], scores [B, K], classes [B, K], masks
        [B, K, H, W], optional num_detections [B]) as ``MaskRCNN.detect_batch`` returns it, and
        ground truth dict(boxes [B, G, 4], classes [B, G], masks [B, G, H, W], optional valid [B, G]
        (default: classes >= 0)) as ``shapes_dataset(..., with_masks=True)`` yields it."""
        boxes, scores, classes, masks = (_np(detections[k]) for k in ("boxes", "scores", "classes", "masks"))
        batch = boxes.shape[0]
        num = (
            _np(detections["num_detections"])
            if "num_detections" in detections
            else np.full(batch, boxes.shape[1])
        )
        gb, gc, gm = (_np(ground_truth[k]) for k in ("boxes", "classes", "masks"))
        valid = _np(ground_truth["valid"]).astype(bool) if "valid" in ground_truth else gc >= 0
        if gb.shape[0] != batch:
            raise ValueError(f"Batch sizes differ: {batch} detections vs {gb.shape[0]} ground truths")
        for b in range(batch):
            n = int(num[b])
            v = valid[b]
            self.add_image(
                boxes[b, :n], scores[b, :n], classes[b, :n], masks[b, :n], gb[b][v], gc[b][v], gm[b][v]
            )

    def result(self) -> dict[str, Any]:
        """Returns dict(mean_mask_iou (NaN without objects), matched, num_objects, num_images,
        per_class {name: {"mean_mask_iou", "matched", "num_objects"}} for the classes seen)."""
        ious = np.asarray(self._ious, np.float64)
        classes = np.asarray(self._classes, np.int64)
        matched = np.asarray(self._matched, bool)
        per_class = {}
        for c in np.unique(classes):
            sel = classes == c
            name = (
                self.class_names[c]
                if self.class_names is not None and 0 <= c < len(self.class_names)
                else str(int(c))
            )
            per_class[name] = {
                "mean_mask_iou": float(ious[sel].mean()),
                "matched": int(matched[sel].sum()),
                "num_objects": int(sel.sum()),
            }
        return {
            "mean_mask_iou": float(ious.mean()) if len(ious) else float("nan"),
            "matched": int(matched.sum()),
            "num_objects": len(ious),
            "num_images": self.num_images,
            "per_class": per_class,
        }
