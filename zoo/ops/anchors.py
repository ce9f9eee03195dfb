"""Anchors and default boxes (constants, computed once in NumPy; float32 xyxy pixel boxes).

Provides:
    ssd_default_boxes: SSD default boxes, either from the paper's scale formula (s_min, s_max) or from
        explicit per-layer pixel sizes (the original Caffe SSD), for any number of feature maps.
    SSD300, SSD512: the two published configurations as data (feature maps, boxes per location, steps,
        Caffe sizes).
    grid_anchors: Faster R-CNN RPN anchors (sizes x ratios at every cell of a stride-s grid).

Order of the boxes: feature map, then row-major cell (row y, then column x), then box in the cell.

Paper formula (SSD, Liu et al. 2016, eq. 4): with m feature maps,
s_k = s_min + (s_max - s_min) (k - 1) / (m - 1), k = 1..m; a box of aspect ratio a (= w / h) has
w = s_k sqrt(a) W, h = s_k / sqrt(a) H; ratio 1 gets an extra box of scale s'_k = sqrt(s_k s_{k+1}),
where s_{m+1} continues the same linear formula (k = m + 1). Box centres are ((j + 0.5) / |f_k|) W.
The original Caffe SSD instead lists pixel sizes per layer (conv4_3 at scale 0.1: 30 px for SSD300,
then 60, 111, 162, 213, 264, 315), and steps 8, 16, 32, 64, 100, 300. Both give 8732 boxes for SSD300
(and 24564 for SSD512): the count depends only on the feature-map sizes and boxes per location
(38^2*4 + 19^2*6 + 10^2*6 + 5^2*6 + 3^2*4 + 1^2*4 = 8732).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SSD300 = {
    "image_size": 300,
    "feature_sizes": (38, 19, 10, 5, 3, 1),
    "boxes_per_location": (4, 6, 6, 6, 4, 4),
    "steps": (8, 16, 32, 64, 100, 300),
    "caffe_sizes": ((30, 60), (60, 111), (111, 162), (162, 213), (213, 264), (264, 315)),
    "num_boxes": 8732,
}
SSD512 = {
    "image_size": 512,
    "feature_sizes": (64, 32, 16, 8, 4, 2, 1),
    "boxes_per_location": (4, 6, 6, 6, 6, 4, 4),
    "steps": (8, 16, 32, 64, 128, 256, 512),
    "caffe_sizes": (
        (35.84, 76.8),
        (76.8, 153.6),
        (153.6, 230.4),
        (230.4, 307.2),
        (307.2, 384.0),
        (384.0, 460.8),
        (460.8, 537.6),
    ),
    "num_boxes": 24564,
}
_RATIOS_FOR_COUNT = {4: (1.0, 2.0, 0.5), 6: (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)}


def _pair(value: int | float | Sequence, name: str) -> tuple[float, float]:
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value), float(value)
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"{name} must be a number or a (height, width) pair, got {value}")
    return float(value[0]), float(value[1])


def ssd_scales(num_maps: int, s_min: float = 0.2, s_max: float = 0.9) -> list[float]:
    """The paper's scales s_1..s_{m+1} (the last one only feeds the extra box of the last map).

    Example:
        >>> ssd_scales(6)  # -> [0.2, 0.34, 0.48, 0.62, 0.76, 0.9, 1.04]
    """
    if num_maps < 2:
        return [s_min, s_max]
    step = (s_max - s_min) / (num_maps - 1)
    return [s_min + step * k for k in range(num_maps + 1)]


def _ratios_per_map(
    num_maps: int, aspect_ratios: Sequence | None, boxes_per_location: Sequence[int] | None
) -> list[tuple[float, ...]]:
    if aspect_ratios is not None:
        if len(aspect_ratios) != num_maps:
            raise ValueError(f"aspect_ratios has {len(aspect_ratios)} entries for {num_maps} feature maps")
        return [tuple(float(r) for r in rs) for rs in aspect_ratios]
    if boxes_per_location is None:
        raise ValueError("Pass aspect_ratios (per map) or boxes_per_location (4 or 6 per map)")
    if len(boxes_per_location) != num_maps:
        raise ValueError(
            f"boxes_per_location has {len(boxes_per_location)} entries for {num_maps} feature maps"
        )
    out = []
    for n in boxes_per_location:
        if int(n) not in _RATIOS_FOR_COUNT:
            raise ValueError(
                f"boxes_per_location must be 4 (ratios 1, 2, 1/2) or 6 (1, 2, 1/2, 3, 1/3), got {n}"
            )
        out.append(_RATIOS_FOR_COUNT[int(n)])
    return out


def ssd_default_boxes(
    image_size: int | Sequence[int],
    feature_sizes: Sequence[int | Sequence[int]],
    aspect_ratios: Sequence[Sequence[float]] | None = None,
    boxes_per_location: Sequence[int] | None = None,
    s_min: float = 0.2,
    s_max: float = 0.9,
    sizes: Sequence[tuple[float, float]] | None = None,
    steps: Sequence[float | Sequence[float]] | None = None,
    offset: float = 0.5,
    clip: bool = False,
) -> np.ndarray:
    """SSD default boxes for all feature maps, xyxy pixels, float32 [num_boxes, 4].

    Args:
        image_size: input size (int for square, or (height, width)).
        feature_sizes: size of each source feature map (int or (h, w)), e.g. (38, 19, 10, 5, 3, 1).
        aspect_ratios: per map, the aspect ratios w / h, e.g. ((1, 2, 0.5), (1, 2, 0.5, 3, 1/3), ...).
            A ratio of 1 adds the extra box of scale sqrt(s_k s_{k+1}).
        boxes_per_location: alternative to ``aspect_ratios``: 4 -> (1, 2, 1/2), 6 -> (1, 2, 1/2, 3, 1/3).
        s_min, s_max: the paper's smallest and largest scale (fractions of the image size).
        sizes: explicit per-map (min_size, max_size) in pixels (Caffe SSD); overrides s_min / s_max.
        steps: per-map distance between cell centres in pixels (Caffe: 8, 16, 32, 64, 100, 300).
            Default: image size / feature size (the paper's (j + 0.5) / |f_k|).
        offset: cell centre offset in cells (0.5 = centre).
        clip: clip boxes to the image.

    Returns:
        [num_boxes, 4] float32; order: map, row-major cell, box (1, extra, then the other ratios in order).

    Example:
        >>> boxes = ssd_default_boxes(300, SSD300["feature_sizes"],
        ...                           boxes_per_location=SSD300["boxes_per_location"])
        >>> boxes.shape  # -> (8732, 4)
    """
    img_h, img_w = _pair(image_size, "image_size")
    m = len(feature_sizes)
    if m == 0:
        raise ValueError("feature_sizes is empty")
    ratios = _ratios_per_map(m, aspect_ratios, boxes_per_location)
    if sizes is not None:
        if len(sizes) != m:
            raise ValueError(f"sizes has {len(sizes)} entries for {m} feature maps")
        per_map = [(float(lo), math.sqrt(float(lo) * float(hi))) for lo, hi in sizes]
        pixel_sizes = True
    else:
        scales = ssd_scales(m, s_min, s_max)
        per_map = [(scales[k], math.sqrt(scales[k] * scales[k + 1])) for k in range(m)]
        pixel_sizes = False
    if steps is not None and len(steps) != m:
        raise ValueError(f"steps has {len(steps)} entries for {m} feature maps")
    out = []
    for k, fsize in enumerate(feature_sizes):
        fh, fw = (int(v) for v in _pair(fsize, "feature size"))
        if steps is None:
            step_y, step_x = img_h / fh, img_w / fw
        else:
            step_y, step_x = _pair(steps[k], "step")
        size, extra = per_map[k]
        wh = []
        for r in sorted(ratios[k], key=lambda r: r != 1.0):  # ratio 1 first, others keep their order
            if r <= 0:
                raise ValueError(f"aspect ratios must be positive, got {r}")
            wh.append((size * math.sqrt(r), size / math.sqrt(r)))
            if r == 1.0:
                wh.append((extra, extra))
        wh = np.asarray(wh, np.float64)
        if not pixel_sizes:
            wh = wh * np.array([img_w, img_h])
        cy, cx = np.meshgrid(
            (np.arange(fh) + offset) * step_y, (np.arange(fw) + offset) * step_x, indexing="ij"
        )
        centers = np.stack([cx.ravel(), cy.ravel()], -1)[:, None, :]  # [cells, 1, 2]
        half = wh[None, :, :] / 2.0
        out.append(np.concatenate([centers - half, centers + half], -1).reshape(-1, 4))
    boxes = np.concatenate(out, 0)
    if clip:
        boxes = np.clip(boxes, 0.0, [img_w, img_h, img_w, img_h])
    return boxes.astype(np.float32)


def grid_anchors(
    feature_size: int | Sequence[int],
    stride: int | Sequence[int],
    sizes: Sequence[float] = (128.0, 256.0, 512.0),
    ratios: Sequence[float] = (0.5, 1.0, 2.0),
    offset: float = 0.5,
) -> np.ndarray:
    """Faster R-CNN RPN anchors: every (ratio, size) pair at every cell, xyxy pixels, float32.

    An anchor of size s and ratio r (= h / w) keeps the area s^2: w = s / sqrt(r), h = s sqrt(r).
    The paper's defaults (3 areas 128^2, 256^2, 512^2 x 3 ratios 1:2, 1:1, 2:1 = 9 per cell, stride 16).

    Args:
        feature_size: feature map size (int or (h, w)).
        stride: pixels per cell (int or (sy, sx)).
        sizes: square roots of the anchor areas in pixels.
        ratios: h / w ratios.
        offset: cell centre offset in cells (0.5: centre of the cell).

    Returns:
        [h * w * len(ratios) * len(sizes), 4] float32; order: row-major cell, ratio, size.

    Example:
        >>> grid_anchors(38, 16).shape  # -> (12996, 4)  (38 * 38 * 9)
    """
    fh, fw = (int(v) for v in _pair(feature_size, "feature_size"))
    sy, sx = _pair(stride, "stride")
    wh = []
    for r in ratios:
        if r <= 0:
            raise ValueError(f"ratios must be positive, got {r}")
        for s in sizes:
            wh.append((s / math.sqrt(r), s * math.sqrt(r)))
    wh = np.asarray(wh, np.float64)
    cy, cx = np.meshgrid((np.arange(fh) + offset) * sy, (np.arange(fw) + offset) * sx, indexing="ij")
    centers = np.stack([cx.ravel(), cy.ravel()], -1)[:, None, :]
    half = wh[None] / 2.0
    return np.concatenate([centers - half, centers + half], -1).reshape(-1, 4).astype(np.float32)
