"""Detection metrics (NumPy, outside the graph): VOC AP and COCO-style mAP, streamed over batches.

Boxes are xyxy in absolute pixels. Class id 0 is background and is not evaluated.

Provides:
    DetectionEvaluator: ``update(detections, ground_truth)`` per batch (the ``batched_nms`` dict and a
        padded ground-truth dict), ``result()`` -> VOC2007 11-point mAP, VOC2010+ all-point mAP (both
        at IoU 0.5 with "difficult" boxes ignored) and the twelve COCO numbers of pycocotools'
        ``COCOeval.summarize()`` (mAP@[.5:.95], AP50, AP75, AP small / medium / large, AR@1, AR@10,
        AR@100, AR small / medium / large), per class and mean; ``add_image(...)`` for one image.
    voc_ap: AP of one precision/recall curve, 11-point or all-point.
    coco_ap: AP of one curve with COCO's 101 recall points.
    MaskIoUEvaluator: mean mask IoU of instance masks over ground-truth objects (each object's
        best-scoring same-class detection with score > 0.5 and box IoU >= 0.5; unmatched: 0).
    mask_iou: IoU of two binary masks.
    KeypointPCKEvaluator: PCK@0.2 of detected keypoints over ground-truth objects (the same match as
        ``MaskIoUEvaluator``; a missed object's visible keypoints count as wrong).

Matching rules. VOC (devkit ``VOCevaldet.m``): detections of a class sorted by score over all images
(equal scores keep their arrival order); each takes the ground truth with the highest IoU in its image
(the first of equal IoUs); IoU >= ``voc_iou`` and not yet taken -> TP, already taken -> FP (duplicate),
a difficult or crowd box -> ignored (neither); otherwise FP.

COCO (pycocotools ``COCOeval`` for boxes, followed step by step): per image and class, at most
``max_detections`` detections by score; ground truth that is difficult, crowd or outside the area range
is ignored. Each detection (by score) takes, among the ground truths with IoU >= t that are still free
(a crowd region is never used up), the best non-ignored one, else the best ignored one; of equal IoUs
the last one wins, in the order non-ignored first, then arrival order (pycocotools' rule). Against a
crowd region the overlap is intersection / detection area. Detections matched to ignored ground truth,
and unmatched detections outside the area range, are ignored. Precision at 101 recall points, recall
at 1, 10 and ``max_detections`` detections per image.

Areas (the small / medium / large split at 32**2 and 96**2, both ends inclusive as in pycocotools) are
in the pixels of the ORIGINAL image: a ground truth's area is its ``area`` from the data where the
loader has one (COCO's annotation area, the mask's, as pycocotools uses) and otherwise its box area;
a detection's area is its box area; box areas are multiplied by ``area_scale`` (original pixels per
pixel of the boxes given, e.g. 4.0 for an image halved in both sides before the model; 1.0 by default).
IoU uses continuous pixel coordinates (no VOC "+1"; ``zoo.ops.boxes.pairwise_iou`` in float64).

Input checks. Every input is validated up front and errors name the argument, the image and the index:
shapes and batch sizes, ``num_detections`` in [0, K], finite boxes and scores in the valid part
(padding past ``num_detections`` is never read), integral class ids in [0, num_classes). Ground-truth
boxes that are NaN, inf, inverted or of zero area raise by default; ``invalid_gt="drop"`` drops them
instead, counts them (``result()["dropped_gt"]``) and warns.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo.ops.boxes import pairwise_iou

AREA_RANGES = {
    "all": (0.0, float("inf")),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, float("inf")),
}
COCO_IOUS = np.round(np.arange(0.5, 0.951, 0.05), 2)
COCO_RECALLS = np.linspace(0.0, 1.0, 101)


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
    """COCO AP: mean over 101 recall points of the precision envelope (0 beyond the last recall).

    Example:
        >>> coco_ap(np.array([0.5]), np.array([1.0]))  # -> 51 / 101
    """
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


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.reshape(-1))[0])


def _floats(x: Any, name: str, where: str, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    """A float64 array of shape [n, *shape_tail]; refuses non-numbers and NaN/inf naming the index."""
    arr = _np(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}{where} must be numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.size == 0:
        return arr.reshape((0,) + shape_tail)
    arr = arr.reshape((-1,) + shape_tail) if shape_tail else arr.reshape(-1)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = _first(bad.reshape(len(arr), -1).any(axis=1))
        raise ValueError(f"{name}{where}: entry {i} is NaN or inf ({arr[i].tolist()})")
    return arr


def _class_ids(x: Any, name: str, where: str, num_classes: int | None, allow_pad: bool = False) -> np.ndarray:
    """Integral class ids in [0, num_classes) (and -1 if ``allow_pad``) as int64; refuses the others."""
    arr = _np(x)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise ValueError(f"{name}{where} must be integer class ids, got dtype {arr.dtype}")
    arr = arr.reshape(-1)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = _first(bad)
            raise ValueError(f"{name}{where}: entry {i} is {arr[i]}, not an integral class id")
    ids = arr.astype(np.int64)
    low = -1 if allow_pad else 0
    bad = (ids < low) | ((ids >= num_classes) if num_classes is not None else False)
    if np.any(bad):
        i = _first(np.asarray(bad))
        upper = f", num_classes={num_classes})" if num_classes is not None else ", inf)"
        raise ValueError(f"{name}{where}: entry {i} is class {ids[i]}, outside [{low}{upper}")
    return ids


def _flags(x: Any, name: str, where: str, n: int) -> np.ndarray:
    if x is None:
        return np.zeros(n, bool)
    arr = _np(x)
    if arr.dtype.kind == "f" and np.any((arr != 0) & (arr != 1)):
        raise ValueError(f"{name}{where} must be booleans (0/1), got {arr.reshape(-1)[:5].tolist()}...")
    arr = arr.astype(bool).reshape(-1)
    if len(arr) != n:
        raise ValueError(f"{name}{where} has {len(arr)} entries for {n} ground-truth boxes")
    return arr


def _batch_arrays(arrays: dict[str, Any], source: str, ndims: dict[str, int]) -> dict[str, np.ndarray]:
    """Converts a batch dict, naming missing keys (boxes, classes and scores/masks where listed) and
    wrong ranks."""
    required = [k for k in ("boxes", "scores", "classes", "masks") if k in ndims]
    missing = [k for k in required if k not in arrays]
    if missing:
        raise ValueError(f"{source} has no {', '.join(repr(k) for k in missing)} (keys: {sorted(arrays)})")
    out = {}
    for key, ndim in ndims.items():
        if key not in arrays or arrays[key] is None:
            continue
        arr = _np(arrays[key])
        if arr.ndim != ndim:
            raise ValueError(f"{source}[{key!r}] must have {ndim} dimensions, got shape {arr.shape}")
        out[key] = arr
    return out


def _checked_batch(
    detections: dict[str, Any],
    ground_truth: dict[str, Any],
    det_ndims: dict[str, int],
    gt_ndims: dict[str, int],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The checks every ``update`` makes up front: (detections, ground truth, num_detections [B],
    valid [B, G]) as NumPy, with keys, ranks, batch sizes, padded lengths and counts checked."""
    det = _batch_arrays(detections, "detections", det_ndims)
    gt = _batch_arrays(ground_truth, "ground_truth", gt_ndims)
    named = {f"detections[{k!r}]": v for k, v in det.items()}
    named.update({f"ground_truth[{k!r}]": v for k, v in gt.items()})
    batch = _check_batch(named, "detections['boxes']")
    size = _padding_check(
        {k: v for k, v in named.items() if k.startswith("detections") and "num" not in k},
        "detections['boxes']",
        "detections",
    )
    _padding_check(
        {k: v for k, v in named.items() if k.startswith("ground_truth") and "scale" not in k},
        "ground_truth['boxes']",
        "boxes",
    )
    for src, arr in (("detections", det["boxes"]), ("ground_truth", gt["boxes"])):
        if arr.shape[-1] != 4:
            raise ValueError(f"{src}['boxes'] must be [B, N, 4] xyxy pixels, got shape {arr.shape}")
    num = _num_valid(det.get("num_detections"), batch, size, "detections['num_detections']")
    gc = gt["classes"]
    valid = (
        _flags(gt["valid"], "ground_truth['valid']", "", gc.size).reshape(gc.shape)
        if "valid" in gt
        else gc >= 0
    )
    return det, gt, num, valid


def _detections_of(det: dict[str, np.ndarray], num: np.ndarray, b: int) -> np.ndarray:
    """Indices of image b's detections: the first num_detections[b]; without num_detections every
    entry whose class is not the padding value -1."""
    n = int(num[b])
    if "num_detections" in det:
        return np.arange(n)
    return np.flatnonzero(np.asarray(det["classes"][b, :n]) != -1)


def _check_batch(named: dict[str, np.ndarray], reference: str) -> int:
    batch = named[reference].shape[0]
    for name, arr in named.items():
        if arr.shape[0] != batch:
            raise ValueError(f"Batch sizes differ: {name} has {arr.shape[0]} images, {reference} has {batch}")
    return batch


def _padding_check(named: dict[str, np.ndarray], reference: str, axis_name: str) -> int:
    size = named[reference].shape[1]
    for name, arr in named.items():
        if arr.shape[1] != size:
            raise ValueError(f"{name} has {arr.shape[1]} {axis_name} per image, {reference} has {size}")
    return size


def _num_valid(num: np.ndarray | None, batch: int, size: int, name: str) -> np.ndarray:
    if num is None:
        return np.full(batch, size, np.int64)
    num = _np(num)
    if num.shape != (batch,) and num.size == batch:
        num = num.reshape(batch)
    if num.shape != (batch,):
        raise ValueError(f"{name} must have shape [{batch}] (one count per image), got {num.shape}")
    if num.dtype.kind == "f" and np.any(num != np.round(num)):
        raise ValueError(f"{name} must be whole numbers, got {num.tolist()}")
    num = num.astype(np.int64)
    bad = (num < 0) | (num > size)
    if bad.any():
        b = _first(bad)
        raise ValueError(f"{name}[{b}] = {num[b]} is outside [0, {size}] (the padded length)")
    return num


def _valid_gt_boxes(gb: np.ndarray, where: str, mode: str) -> np.ndarray:
    """keep [G]: False for NaN, inf, inverted or zero-area boxes; raises on the first with mode "raise"."""
    bad = ~np.all(np.isfinite(gb), axis=1)
    with np.errstate(invalid="ignore"):
        bad |= ~((gb[:, 2] > gb[:, 0]) & (gb[:, 3] > gb[:, 1]))
    if bad.any() and mode == "raise":
        i = _first(bad)
        raise ValueError(
            f"gt_boxes{where}: box {i} {gb[i].tolist()} is NaN, inf, inverted or of zero area "
            "(expected xyxy pixels with x2 > x1, y2 > y1); fix the data or pass "
            "invalid_gt='drop' to leave such boxes out (counted)"
        )
    return ~bad


def _warn_dropped(n: int, where: str, total: int) -> None:
    warnings.warn(
        f"Dropped {n} invalid ground-truth boxes{where} (NaN, inf, inverted or zero area; {total} so far)",
        stacklevel=3,
    )


def _gt_boxes(x: Any, where: str) -> np.ndarray:
    arr = _np(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"gt_boxes{where} must be numbers, got dtype {arr.dtype}")
    if arr.size and arr.shape[-1] != 4:
        raise ValueError(f"gt_boxes{where} must be [G, 4] xyxy pixels, got shape {arr.shape}")
    return arr.astype(np.float64).reshape(-1, 4)


class DetectionEvaluator:
    """Streaming VOC / COCO evaluator (pycocotools' and the VOC devkit's rules; see the module doc).

    Args:
        num_classes: number of class ids including background (e.g. 21 for VOC, 4 for shapes).
        class_names: optional names indexed by class id (used as keys of ``per_class``).
        background_class: id not evaluated (None: evaluate all ids).
        voc_iou: IoU threshold of the VOC metrics (a match needs IoU >= it, as in the devkit).
        max_detections: COCO's per-image, per-class cap (100); AR is reported at 1, 10 and this.
        invalid_gt: "raise" (default) refuses a ground-truth box that is NaN, inf, inverted or of zero
            area, naming image and index; "drop" leaves it out, counts it and warns.

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
        invalid_gt: str = "raise",
    ) -> None:
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"class_names has {len(class_names)} names for num_classes={num_classes}")
        if not 0.0 < float(voc_iou) <= 1.0:
            raise ValueError(f"voc_iou must be in (0, 1], got {voc_iou}")
        if int(max_detections) != max_detections or max_detections < 1:
            raise ValueError(f"max_detections must be an integer >= 1, got {max_detections!r}")
        if invalid_gt not in ("raise", "drop"):
            raise ValueError(f"invalid_gt must be 'raise' or 'drop', got {invalid_gt!r}")
        self.num_classes = int(num_classes)
        self.class_names = (
            list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        )
        self.background_class = background_class
        self.voc_iou = float(voc_iou)
        self.max_detections = int(max_detections)
        self.invalid_gt = invalid_gt
        self.reset()

    def reset(self) -> None:
        """Forgets every accumulated image."""
        self._images: list[dict[str, np.ndarray]] = []
        self.dropped_gt = 0

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
        gt_crowd: Any | None = None,
        gt_area: Any | None = None,
        area_scale: float = 1.0,
    ) -> None:
        """Adds one image: unpadded detections and ground truth.

        Args:
            det_boxes, det_scores, det_classes: [D, 4] xyxy pixels, [D] finite scores, [D] class ids.
            gt_boxes, gt_classes: [G, 4] xyxy pixels (positive area), [G] class ids.
            gt_difficult: [G] bool, VOC "difficult": ignored by every metric.
            gt_crowd: [G] bool, COCO "iscrowd": ignored, matched by intersection / detection area, never
                used up (COCO); ignored like difficult (VOC).
            gt_area: [G] areas in original-image pixels (COCO's annotation area); None: box areas.
            area_scale: original-image pixels per pixel of the boxes, squared (for box areas).

        Raises:
            ValueError: lengths that disagree, NaN/inf, non-integral or out-of-range classes, bad
                ground-truth boxes (with ``invalid_gt="raise"``), each naming the image and index.
        """
        where = f" of image {self.num_images}"
        db = _floats(det_boxes, "det_boxes", where, (4,))
        ds = _floats(det_scores, "det_scores", where)
        dc = _class_ids(det_classes, "det_classes", where, self.num_classes)
        gb = _gt_boxes(gt_boxes, where)
        gc = _class_ids(gt_classes, "gt_classes", where, self.num_classes)
        gd = _flags(gt_difficult, "gt_difficult", where, len(gc))
        gw = _flags(gt_crowd, "gt_crowd", where, len(gc))
        if not (len(db) == len(ds) == len(dc)):
            raise ValueError(
                f"Detections{where} disagree in length: boxes {len(db)}, scores {len(ds)}, classes {len(dc)}"
            )
        if len(gb) != len(gc):
            raise ValueError(f"Ground truth{where} disagrees in length: boxes {len(gb)}, classes {len(gc)}")
        scale = float(area_scale)
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(f"area_scale{where} must be a positive number, got {area_scale}")
        if gt_area is None:
            ga = _area(gb) * scale
        else:
            ga = _floats(gt_area, "gt_area", where)
            if len(ga) != len(gc) or np.any(ga < 0):
                raise ValueError(f"gt_area{where} must be {len(gc)} areas >= 0, got {ga.tolist()}")
        keep = _valid_gt_boxes(gb, where, self.invalid_gt)
        if not keep.all():
            self.dropped_gt += int((~keep).sum())
            _warn_dropped(int((~keep).sum()), where, self.dropped_gt)
            gb, gc, gd, gw, ga = gb[keep], gc[keep], gd[keep], gw[keep], ga[keep]
        self._images.append(
            {
                "db": db,
                "ds": ds,
                "dc": dc,
                "da": _area(db) * scale,
                "gb": gb,
                "gc": gc,
                "gd": gd,
                "gw": gw,
                "ga": ga,
            }
        )

    def update(self, detections: dict[str, Any], ground_truth: dict[str, Any]) -> None:
        """Adds a batch.

        Args:
            detections: dict(boxes [B, K, 4], scores [B, K], classes [B, K], num_detections [B]) as
                returned by ``zoo.ops.nms.batched_nms`` (xyxy pixels of the same images as the ground truth).
                Only the first ``num_detections[b]`` entries are read; without ``num_detections``
                every entry whose class is not -1 (the padding value) is a detection.
            ground_truth: dict(boxes [B, G, 4], classes [B, G], optional valid [B, G] bool (default:
                classes >= 0), optional difficult / crowd [B, G] bool, area [B, G] (original pixels),
                area_scale [B]), e.g. the targets of a zoo loader.

        Raises:
            ValueError: a missing key, a wrong rank, batch sizes or padded lengths that differ (naming
                both arguments), ``num_detections`` outside [0, K], and every check of ``add_image``.
        """
        det, gt, num, valid = _checked_batch(
            detections,
            ground_truth,
            {"boxes": 3, "scores": 2, "classes": 2, "num_detections": 1},
            {"boxes": 3, "classes": 2, "valid": 2, "difficult": 2, "crowd": 2, "area": 2, "area_scale": 1},
        )
        batch, classes_gt = len(num), gt["classes"]
        scale = gt.get("area_scale", np.ones(batch))
        for b in range(batch):
            keep, v = _detections_of(det, num, b), valid[b]
            self.add_image(
                det["boxes"][b][keep],
                det["scores"][b][keep],
                det["classes"][b][keep],
                gt["boxes"][b][v],
                classes_gt[b][v],
                gt["difficult"][b][v] if "difficult" in gt else None,
                gt["crowd"][b][v] if "crowd" in gt else None,
                gt["area"][b][v] if "area" in gt else None,
                float(scale[b]),
            )

    def _eval_classes(self) -> list[int]:
        return [c for c in range(self.num_classes) if c != self.background_class]

    def _voc_class(self, c: int) -> tuple[float, float, int]:
        scores, best_iou, keys, ignored_gt = [], [], [], []
        npos = 0
        for i, im in enumerate(self._images):
            g = im["gc"] == c
            ign = (im["gd"] | im["gw"])[g]
            npos += int(np.sum(~ign))
            d = im["dc"] == c
            if not d.any():
                continue
            ious = pairwise_iou(im["db"][d], im["gb"][g])
            j = np.argmax(ious, axis=1) if g.any() else np.zeros(int(d.sum()), int)  # first of equal IoUs
            scores.append(im["ds"][d])
            best_iou.append(ious.max(axis=1) if g.any() else np.full(int(d.sum()), -1.0))
            keys.append(np.stack([np.full(len(j), i), j], axis=1))
            ignored_gt.append(ign[j] if g.any() else np.zeros(len(j), bool))
        if npos == 0:
            return float("nan"), float("nan"), 0
        if not scores:
            return 0.0, 0.0, npos
        order = np.argsort(-np.concatenate(scores), kind="stable")  # ties keep arrival order
        best_iou = np.concatenate(best_iou)[order]
        keys = np.concatenate(keys)[order]
        ignored_gt = np.concatenate(ignored_gt)[order]
        hit = best_iou >= self.voc_iou
        ignored = hit & ignored_gt
        candidate = np.nonzero(hit & ~ignored_gt)[0]
        tp = np.zeros(len(order), bool)
        if len(candidate):
            _, first = np.unique(keys[candidate], axis=0, return_index=True)
            tp[candidate[first]] = True  # the first detection of a ground truth; later ones are duplicates
        tp, fp = tp[~ignored], ~tp[~ignored]
        tp_c, fp_c = np.cumsum(tp), np.cumsum(fp)
        rec = tp_c / npos
        prec = tp_c / np.maximum(tp_c + fp_c, np.finfo(np.float64).eps)
        return voc_ap(rec, prec, True), voc_ap(rec, prec, False), npos

    def _max_dets(self) -> tuple[int, ...]:
        return (1, 10, self.max_detections)

    @staticmethod
    def _match(ious: np.ndarray, gign: np.ndarray, crowd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """pycocotools' greedy matching of score-sorted detections to ground truth sorted non-ignored
        first: (matched [T, D], matched-to-ignored [T, D])."""
        n_det, n_gt = ious.shape
        dtm = np.zeros((len(COCO_IOUS), n_det), bool)
        dtig = np.zeros((len(COCO_IOUS), n_det), bool)
        if n_gt == 0 or n_det == 0:
            return dtm, dtig
        rowmax = ious.max(axis=1)
        positions = np.arange(n_gt)
        for t_i, t in enumerate(COCO_IOUS):
            thr = min(t, 1 - 1e-10)
            taken = np.zeros(n_gt, bool)
            for di in np.flatnonzero(rowmax >= thr):  # detections by descending score
                ok = ~(taken & ~crowd) & (ious[di] >= thr)
                for group in (ok & ~gign, ok & gign):
                    if group.any():
                        vals = np.where(group, ious[di], -1.0)
                        m = int(positions[vals == vals.max()][-1])  # the last of equal IoUs
                        taken[m] = True
                        dtm[t_i, di] = True
                        dtig[t_i, di] = gign[m]
                        break
        return dtm, dtig

    def _coco_class(self, c: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{area: (precision [T, 101] or NaN, recall [T, len(max_dets)] or NaN)} for class c."""
        per_image = []
        for im in self._images:
            g = np.flatnonzero(im["gc"] == c)
            d = np.flatnonzero(im["dc"] == c)
            if not len(g) and not len(d):
                continue
            d = d[np.argsort(-im["ds"][d], kind="stable")][: self.max_detections]
            crowd = im["gw"][g]
            ious = pairwise_iou(im["db"][d], im["gb"][g], crowd=crowd)
            per_image.append((im["ds"][d], im["da"][d], im["gd"][g] | crowd, crowd, im["ga"][g], ious))
        out = {}
        max_dets = self._max_dets()
        for name, (lo, hi) in AREA_RANGES.items():
            prec = np.full((len(COCO_IOUS), len(COCO_RECALLS)), np.nan)
            rec = np.full((len(COCO_IOUS), len(max_dets)), np.nan)
            evals = []
            for ds, da, ignored, crowd, ga, ious in per_image:
                gign = ignored | (ga < lo) | (ga > hi)
                gorder = np.argsort(gign, kind="stable")
                dtm, dtig = self._match(ious[:, gorder], gign[gorder], crowd[gorder])
                dtig |= ~dtm & ((da < lo) | (da > hi))[None, :]
                evals.append((ds, dtm, dtig, int(np.sum(~gign))))
            npig = sum(e[3] for e in evals)
            if npig:
                for m_i, max_det in enumerate(max_dets):
                    scores = np.concatenate([e[0][:max_det] for e in evals] + [np.zeros(0)])
                    order = np.argsort(-scores, kind="mergesort")
                    dtm = np.concatenate(
                        [e[1][:, :max_det] for e in evals] + [np.zeros((len(COCO_IOUS), 0), bool)], 1
                    )
                    dtig = np.concatenate(
                        [e[2][:, :max_det] for e in evals] + [np.zeros((len(COCO_IOUS), 0), bool)], 1
                    )
                    dtm, dtig = dtm[:, order], dtig[:, order]
                    tp_sum = np.cumsum(dtm & ~dtig, axis=1).astype(np.float64)
                    fp_sum = np.cumsum(~dtm & ~dtig, axis=1).astype(np.float64)
                    for t_i in range(len(COCO_IOUS)):
                        tp, fp = tp_sum[t_i], fp_sum[t_i]
                        rc = tp / npig
                        rec[t_i, m_i] = rc[-1] if len(tp) else 0.0
                        if max_det == self.max_detections:
                            pr = tp / (fp + tp + np.spacing(1))
                            if len(pr):
                                pr = np.maximum.accumulate(pr[::-1])[::-1]
                            idx = np.searchsorted(rc, COCO_RECALLS, side="left")
                            prec[t_i] = np.where(
                                idx < len(pr),
                                pr[np.minimum(idx, max(len(pr) - 1, 0))] if len(pr) else 0.0,
                                0.0,
                            )
            out[name] = (prec, rec)
        return out

    def result(self) -> dict[str, Any]:
        """Computes every metric over the images added so far.

        Returns:
            dict with "voc07_map", "voc_map" (all-point at ``voc_iou``), the COCO numbers "coco_map"
            (mAP@[.5:.95]), "ap50", "ap75", "ap_small", "ap_medium", "ap_large", "ar_1", "ar_10",
            "ar_100" (AR at ``max_detections``, named "ar_<max_detections>"), "ar_small", "ar_medium",
            "ar_large" (pycocotools' ``stats`` in that order), "num_images", "dropped_gt" and
            "per_class" {name: {"voc07_ap", "voc_ap", "coco_ap", "ap50", "ap75", "num_gt"}}. Classes
            without ground truth get NaN and are left out of the means (a mean over no class is NaN).
        """
        per_class = {}
        last = f"ar_{self.max_detections}"
        keys = ["voc07", "voc", "coco", "ap50", "ap75", "ap_small", "ap_medium", "ap_large"]
        keys += ["ar_1", "ar_10", last, "ar_small", "ar_medium", "ar_large"]
        cols: dict[str, list[float]] = {k: [] for k in keys}

        def nanmean(x: np.ndarray) -> float:
            return float(np.mean(x)) if not np.all(np.isnan(x)) else float("nan")

        for c in self._eval_classes():
            ap07, ap, npos = self._voc_class(c)
            coco = self._coco_class(c)
            prec, rec = coco["all"]
            entry = {
                "voc07_ap": ap07,
                "voc_ap": ap,
                "coco_ap": nanmean(prec),
                "ap50": nanmean(prec[0]),
                "ap75": nanmean(prec[5]),
                "num_gt": npos,
            }
            per_class[self.class_names[c]] = entry
            values = {"voc07": ap07, "voc": ap, "coco": entry["coco_ap"], "ap50": entry["ap50"]}
            values["ap75"] = entry["ap75"]
            for i, k in enumerate(("ar_1", "ar_10", last)):
                values[k] = nanmean(rec[:, i])
            for name in ("small", "medium", "large"):
                values[f"ap_{name}"] = nanmean(coco[name][0])
                values[f"ar_{name}"] = nanmean(coco[name][1][:, -1])
            for k in keys:
                cols[k].append(values[k])

        def mean(values: list[float]) -> float:
            v = np.asarray(values, np.float64)
            v = v[~np.isnan(v)]
            return float(np.mean(v)) if len(v) else float("nan")

        out = {"voc07_map": mean(cols["voc07"]), "voc_map": mean(cols["voc"]), "coco_map": mean(cols["coco"])}
        out.update({k: mean(cols[k]) for k in keys[3:]})
        out.update({"num_images": self.num_images, "dropped_gt": self.dropped_gt, "per_class": per_class})
        return out


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
        invalid_gt: "raise" or "drop" (counted in ``result()["dropped_gt"]``, with a warning) for
            ground-truth boxes that are NaN, inf, inverted or of zero area, as ``DetectionEvaluator``.

    Inputs are checked as in ``DetectionEvaluator``: NaN/inf detection boxes or scores in the valid part,
    non-integral or negative (or >= ``num_classes``) class ids, NaN masks, ``num_detections`` outside
    [0, K] and batch sizes that differ are refused with the argument, image and index named.

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
        invalid_gt: str = "raise",
    ) -> None:
        if class_names is not None and num_classes is not None and len(class_names) != num_classes:
            raise ValueError(f"class_names has {len(class_names)} names for num_classes={num_classes}")
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names is not None else None
        self.score_threshold = float(score_threshold)
        self.box_iou = float(box_iou)
        self.mask_threshold = float(mask_threshold)
        if invalid_gt not in ("raise", "drop"):
            raise ValueError(f"invalid_gt must be 'raise' or 'drop', got {invalid_gt!r}")
        self.invalid_gt = invalid_gt
        self.reset()

    def reset(self) -> None:
        """Forgets every accumulated object."""
        self._ious: list[float] = []
        self._classes: list[int] = []
        self._matched: list[bool] = []
        self.num_images = 0
        self.dropped_gt = 0

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
        where = f" of image {self.num_images}"
        db = _floats(det_boxes, "det_boxes", where, (4,))
        ds = _floats(det_scores, "det_scores", where)
        dc = _class_ids(det_classes, "det_classes", where, self.num_classes)
        dm = _np(det_masks)
        gb = _gt_boxes(gt_boxes, where)
        gc = _class_ids(gt_classes, "gt_classes", where, self.num_classes)
        gm = _np(gt_masks)
        for name, m in (("det_masks", dm), ("gt_masks", gm)):
            if m.dtype.kind == "f" and m.size and not np.all(np.isfinite(m)):
                i = _first(~np.isfinite(m).reshape(len(m), -1).all(axis=1))
                raise ValueError(f"{name}{where}: mask {i} has NaN or inf values")
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
        keep = _valid_gt_boxes(gb, where, self.invalid_gt)
        if not keep.all():
            self.dropped_gt += int((~keep).sum())
            _warn_dropped(int((~keep).sum()), where, self.dropped_gt)
            gb, gc, gm = gb[keep], gc[keep], gm[keep]
        keep = ds > self.score_threshold
        db, ds, dc, dm = db[keep], ds[keep], dc[keep], dm[keep]
        overlaps = pairwise_iou(gb, db)  # [G, D]
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
        det, gt, num, valid = _checked_batch(
            detections,
            ground_truth,
            {"boxes": 3, "scores": 2, "classes": 2, "masks": 4, "num_detections": 1},
            {"boxes": 3, "classes": 2, "masks": 4, "valid": 2},
        )
        gc = gt["classes"]
        for b in range(len(num)):
            keep, v = _detections_of(det, num, b), valid[b]
            self.add_image(
                det["boxes"][b][keep],
                det["scores"][b][keep],
                det["classes"][b][keep],
                det["masks"][b][keep],
                gt["boxes"][b][v],
                gc[b][v],
                gt["masks"][b][v],
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
            "dropped_gt": self.dropped_gt,
            "per_class": per_class,
        }


class KeypointPCKEvaluator:
    """Streaming PCK of detected keypoints (Keypoint R-CNN) over ground-truth objects (NumPy).

    Each ground-truth object is matched as in :class:`MaskIoUEvaluator` (the highest-scoring
    detection with score > ``score_threshold``, same class, box IoU >= ``box_iou``); its visible
    keypoints are correct when within ``alpha`` x the diagonal of the object's visible keypoints'
    box of the match's keypoints (``zoo.pose.pck``); without a match, all of them are wrong. So the
    number measures keypoint accuracy and detection recall together (it is not COCO keypoint AP).

    Example:
        >>> ev = KeypointPCKEvaluator()
        >>> ev.add_image(det_boxes, det_scores, det_classes, det_keypoints, gt_boxes, gt_classes, gt_keypoints)
        >>> ev.result()["pck"]
    """

    def __init__(self, alpha: float = 0.2, score_threshold: float = 0.5, box_iou: float = 0.5) -> None:
        self.alpha = float(alpha)
        self.score_threshold = float(score_threshold)
        self.box_iou = float(box_iou)
        self.reset()

    def reset(self) -> None:
        """Forgets every accumulated object."""
        self._pred: list[np.ndarray] = []
        self._true: list[np.ndarray] = []
        self._visible: list[np.ndarray] = []
        self.matched = 0
        self.num_images = 0

    def add_image(
        self,
        det_boxes: Any,
        det_scores: Any,
        det_classes: Any,
        det_keypoints: Any,
        gt_boxes: Any,
        gt_classes: Any,
        gt_keypoints: Any,
    ) -> None:
        """Adds one image: unpadded detections [D, 4], [D], [D], keypoints [D, P, 2+] and ground
        truth [G, 4], [G], keypoints [G, P, 3] = (x, y, visibility) (pixels of the same image)."""
        where = f" of image {self.num_images}"
        db = _floats(det_boxes, "det_boxes", where, (4,))
        ds = _floats(det_scores, "det_scores", where)
        dc = _class_ids(det_classes, "det_classes", where, None)
        dk = _np(det_keypoints).astype(np.float64)
        gb = _gt_boxes(gt_boxes, where)
        gc = _class_ids(gt_classes, "gt_classes", where, None)
        gk = _np(gt_keypoints).astype(np.float64)
        if not (len(db) == len(ds) == len(dc) == len(dk)) or not (len(gb) == len(gc) == len(gk)):
            raise ValueError(
                f"Lengths disagree{where}: detections {len(db)}/{len(ds)}/{len(dc)}/{len(dk)} (boxes, scores, "
                f"classes, keypoints), ground truth {len(gb)}/{len(gc)}/{len(gk)}"
            )
        if gk.ndim != 3 or gk.shape[-1] != 3 or (len(dk) and (dk.ndim != 3 or dk.shape[1] != gk.shape[1])):
            raise ValueError(
                f"Keypoints{where} must be [D, P, 2+] and [G, P, 3] with the same P, got {dk.shape} and {gk.shape}"
            )
        keep = ds > self.score_threshold
        db, ds, dc, dk = db[keep], ds[keep], dc[keep], dk[keep]
        overlaps = pairwise_iou(gb, db)  # [G, D]
        for g in range(len(gb)):
            candidates = np.flatnonzero((dc == gc[g]) & (overlaps[g] >= self.box_iou))
            if len(candidates):
                self._pred.append(dk[candidates[np.argmax(ds[candidates])], :, :2])
                self.matched += 1
            else:
                self._pred.append(np.full((gk.shape[1], 2), np.nan))
            self._true.append(gk[g, :, :2])
            self._visible.append(gk[g, :, 2] > 0)
        self.num_images += 1

    def result(self) -> dict[str, Any]:
        """Returns dict(pck (NaN without visible keypoints), pck_matched (over the matched objects only:
        the keypoints' accuracy without the detection recall), alpha, matched, num_objects, num_images,
        num_keypoints: the visible ground-truth keypoints counted)."""
        from zoo.pose import pck

        n = len(self._true)
        visible = np.asarray(self._visible, bool).reshape(n, -1)
        pred, true = np.asarray(self._pred).reshape(n, -1, 2), np.asarray(self._true).reshape(n, -1, 2)
        value = pck(pred, true, self.alpha, visible) if n and visible.any() else float("nan")
        hit = ~np.isnan(pred).any(axis=(1, 2))
        matched = pck(pred[hit], true[hit], self.alpha, visible[hit]) if visible[hit].any() else float("nan")
        return {
            "pck": value,
            "pck_matched": matched,
            "alpha": self.alpha,
            "matched": self.matched,
            "num_objects": n,
            "num_images": self.num_images,
            "num_keypoints": int(visible.sum()),
        }
