"""Single-object images for classification + localization (one shape per image, offline, NumPy).

Image i comes from ``numpy.random.default_rng([seed, i])`` (zoo.data.shapes' generator with one
object), so a seed always gives the same arrays. Boxes are xyxy relative to the image (0..1), the
target of a 4-number L2 regression head; classes are 0..2 (circle, square, triangle).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.data.shapes import CLASS_NAMES, generate_shapes_example

OBJECT_NAMES = CLASS_NAMES[1:]


def check_relative_boxes(boxes: Any) -> np.ndarray:
    """Checks [N, 4] xyxy boxes relative to the image: finite, inside [0, 1], x1 < x2, y1 < y2.

    Raises:
        ValueError: naming the first bad box (e.g. one outside the image) and what to do.

    Example:
        >>> check_relative_boxes([[0.1, 0.2, 0.5, 0.6]]).shape
        (1, 4)
    """
    b = np.asarray(boxes, dtype="float32").reshape(-1, 4)
    bad = (
        ~np.isfinite(b).all(-1)
        | (b < 0).any(-1)
        | (b > 1).any(-1)
        | (b[:, 2] <= b[:, 0])
        | (b[:, 3] <= b[:, 1])
    )
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"Box {i} {b[i].tolist()} is not a box inside the image (xyxy relative, 0 <= x1 < x2 <= 1); "
            "clip it to the image (zoo.ops.boxes.validate_boxes(..., mode='clip')) or drop the image."
        )
    return b


def single_object_arrays(n: int, image_size: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` images with exactly one shape each.

    Returns:
        dict(images uint8 [n, S, S, 3], classes int32 [n] in 0..2, boxes float32 [n, 4] xyxy relative).

    Example:
        >>> data = single_object_arrays(8, image_size=64)
        >>> data["images"].shape, data["boxes"].shape
        ((8, 64, 64, 3), (8, 4))
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    images, classes, boxes = [], [], []
    for i in range(n):
        ex = generate_shapes_example(
            np.random.default_rng([seed, i]), image_size, max_objects=1, min_scale=0.25, max_scale=0.6
        )
        images.append(ex["image"])
        classes.append(int(ex["classes"][0]) - 1)
        boxes.append(ex["boxes"][0] / image_size)
    return {
        "images": np.stack(images),
        "classes": np.asarray(classes, "int32"),
        "boxes": check_relative_boxes(np.stack(boxes)),
    }
