"""Region proposals by selective search (Uijlings et al., IJCV 2013), for R-CNN / SPP-net / Fast R-CNN.

The segmentation and hierarchical grouping are OpenCV's maintained implementation
(``cv2.ximgproc.segmentation.createSelectiveSearchSegmentation``, opencv-contrib-python): it is
the reference algorithm (Felzenszwalb graph segmentation, then greedy grouping by colour, texture,
size and fill similarity over several colour spaces), fast C++ and already a dependency of the
zoo's environment, where a scikit-image re-implementation of the grouping would be new code to
maintain. ``mode="fast"`` is the paper's "Selective Search Fast" (2 colour spaces, 2 segmentation
scales); ``"quality"`` its "Quality" setting (more colour spaces, k and strategies: more
proposals, higher recall, slower). Proposals are returned in OpenCV's order (the grouping
hierarchy, largest regions last within a strategy: OpenCV ranks them as the paper's
pseudo-random ranking), **xyxy in pixels** of the given image.

``ProposalCache`` stores each image's proposals once (``.npy`` keyed by a hash of the pixels and
the mode, written atomically), so a training run or an evaluation computes them only once.

Example:
    >>> boxes = selective_search(image, mode="fast")       # [N, 4] float32 xyxy
    >>> recall = proposal_recall([boxes], [gt_boxes], counts=(100, 1000))
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoo.ops.boxes import box_iou, to_numpy
from zoo.utils.io import atomic_write_bytes

MODES = ("fast", "quality")


def selective_search(image: np.ndarray, mode: str = "fast", max_proposals: int | None = 2000) -> np.ndarray:
    """Selective-search proposals of one RGB image.

    Args:
        image: [H, W, 3] RGB uint8 (floats 0..255 are rounded).
        mode: "fast" or "quality" (OpenCV's switchToSelectiveSearchFast / Quality).
        max_proposals: keep the first this many (None: all).

    Returns:
        [N, 4] float32 boxes, xyxy pixels (x2 = x + w, exclusive end), in OpenCV's ranking order.

    Example:
        >>> selective_search(np.zeros((64, 64, 3), np.uint8), "fast").shape[1]
        4
    """
    import cv2

    if mode not in MODES:
        raise ValueError(f"Unknown selective search mode {mode!r}; choose 'fast' or 'quality'")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"selective_search expects an [H, W, 3] RGB image, got shape {image.shape}")
    bgr = np.ascontiguousarray(np.clip(np.rint(image), 0, 255).astype(np.uint8)[..., ::-1])
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(bgr)
    if mode == "fast":
        ss.switchToSelectiveSearchFast()
    else:
        ss.switchToSelectiveSearchQuality()
    rects = np.asarray(ss.process(), np.float32).reshape(-1, 4)
    if max_proposals is not None:
        rects = rects[: int(max_proposals)]
    return np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)


class ProposalCache:
    """Selective-search proposals computed once per image and mode, cached as ``.npy`` files.

    Args:
        folder: cache folder (created on first write).
        mode: "fast" or "quality".

    Example:
        >>> cache = ProposalCache("work/proposals", mode="fast")
        >>> boxes = cache(image)   # computed the first time, read afterwards
    """

    def __init__(self, folder: str | os.PathLike, mode: str = "fast"):
        if mode not in MODES:
            raise ValueError(f"Unknown selective search mode {mode!r}; choose 'fast' or 'quality'")
        self.folder = Path(folder)
        self.mode = mode

    def path(self, image: np.ndarray) -> Path:
        image = np.ascontiguousarray(image)
        digest = hashlib.sha1(image.tobytes() + str(image.shape).encode()).hexdigest()[:20]
        return self.folder / f"{self.mode}_{digest}.npy"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        path = self.path(image)
        if path.exists():
            return np.load(path)
        boxes = selective_search(image, self.mode, max_proposals=None)
        buf = io.BytesIO()
        np.save(buf, boxes)
        atomic_write_bytes(path, buf.getvalue())
        return boxes


def proposal_recall(
    proposals: Sequence[np.ndarray],
    gt_boxes: Sequence[np.ndarray],
    counts: Sequence[int] = (100, 300, 1000, 2000),
    iou_thresholds: Sequence[float] = (0.5, 0.7),
) -> dict[float, dict[int, float]]:
    """Recall of the ground truth by the first ``n`` proposals of each image, at each IoU threshold.

    A ground-truth box is recalled when some proposal among the first ``n`` overlaps it with IoU >=
    the threshold (``zoo.ops.boxes.box_iou``; all boxes xyxy pixels).

    Args:
        proposals: per image, [N_i, 4] proposals in ranking order.
        gt_boxes: per image, [G_i, 4] ground-truth boxes.
        counts: proposal budgets ``n``.
        iou_thresholds: IoU thresholds.

    Returns:
        ``{iou: {n: recall}}`` over all ground-truth boxes.

    Example:
        >>> proposal_recall([np.array([[0, 0, 10, 10.]])], [np.array([[0, 0, 10, 9.]])], (1,), (0.5,))
        {0.5: {1: 1.0}}
    """
    if len(proposals) != len(gt_boxes):
        raise ValueError(f"{len(proposals)} proposal sets for {len(gt_boxes)} ground-truth sets")
    best = {int(n): [] for n in counts}
    for props, gts in zip(proposals, gt_boxes):
        gts = np.asarray(gts, np.float32).reshape(-1, 4)
        props = np.asarray(props, np.float32).reshape(-1, 4)
        if not len(gts):
            continue
        iou = to_numpy(box_iou(gts, props)) if len(props) else np.zeros((len(gts), 0), np.float32)
        for n in best:
            best[n].append(iou[:, :n].max(axis=1) if iou.shape[1] and n > 0 else np.zeros(len(gts)))
    total = sum(len(np.asarray(g).reshape(-1, 4)) for g in gt_boxes)
    if total == 0:
        raise ValueError("no ground-truth boxes: recall is undefined")
    out: dict[float, dict[int, float]] = {}
    for t in iou_thresholds:
        out[float(t)] = {n: float(np.sum(np.concatenate(v) >= t)) / total for n, v in best.items()}
    return out
