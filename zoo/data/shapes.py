"""Synthetic detection / instance-segmentation data: coloured shapes on textured backgrounds.

Provides:
    CLASS_NAMES: ("background", "circle", "square", "triangle"). Class id 0 is background and is
        never given to an object; objects have ids 1..3 (so ``num_classes=4`` for a detector).
    generate_shapes_example: one image (NumPy, deterministic given the ``rng``) with its xyxy pixel
        boxes, class ids and per-instance binary masks.
    shapes_dataset: a ``tf.data`` pipeline of such images (finite or infinite), padded to the batch
        format shared by every zoo detection loader (see ``zoo.data.detection``), optionally with the
        SSD augmentations.
    KEYPOINT_NAMES: the K = 5 keypoints of every shape (Keypoint R-CNN targets, ``with_keypoints``):
        its vertices clockwise from the top (circle: the top, right, bottom and left extreme points;
        square: the corners from the top-left; triangle: apex, bottom-right, bottom-left, and
        ``vertex_4`` not visible) and its centre (the centroid for the triangle).

Image i of a dataset is generated from ``numpy.random.default_rng([seed, i])``: the same seed always
gives the same images, in any order and with any parallelism. Objects do not overlap (their boxes are
at least one pixel apart), so every mask is the whole shape and every box is the tight box of its mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CLASS_NAMES = ("background", "circle", "square", "triangle")
NUM_CLASSES = len(CLASS_NAMES)
TEXTURES = ("noise", "gradient", "stripes")
KEYPOINT_NAMES = ("vertex_1", "vertex_2", "vertex_3", "vertex_4", "centre")
NUM_KEYPOINTS = len(KEYPOINT_NAMES)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    kind = TEXTURES[int(rng.integers(len(TEXTURES)))]
    base = rng.uniform(0, 255, 3)
    if kind == "noise":
        img = base + 20 * rng.standard_normal((size, size, 3), dtype=np.float32)
    elif kind == "gradient":
        other = rng.uniform(0, 255, 3)
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
        t = np.cos(angle) * xx + np.sin(angle) * yy
        t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
        img = (
            base + (other - base) * t[..., None] + 5 * rng.standard_normal((size, size, 3), dtype=np.float32)
        )
    else:
        other = base + rng.uniform(-60, 60, 3)
        period = rng.uniform(4, 12)
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:size, 0:size]
        band = (np.floor((np.cos(angle) * xx + np.sin(angle) * yy) / period) % 2)[..., None]
        img = base * (1 - band) + other * band + 5 * rng.standard_normal((size, size, 3), dtype=np.float32)
    return np.clip(img, 0, 255)


def _shape_mask(kind: int, size: int, x0: float, y0: float, s: float) -> tuple[np.ndarray, int, int]:
    """Mask of a shape inscribed in the square [x0, x0 + s] x [y0, y0 + s] (pixel centres tested).

    Returns the mask of the square's window and the window's top-left corner (row, column).
    """
    xa, ya = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    xb, yb = min(int(np.ceil(x0 + s)) + 1, size), min(int(np.ceil(y0 + s)) + 1, size)
    yy, xx = np.mgrid[ya:yb, xa:xb] + 0.5  # only the square's window: O(s^2), not O(size^2)
    if kind == 1:  # circle
        r = s / 2
        local = (xx - x0 - r) ** 2 + (yy - y0 - r) ** 2 <= r * r
    elif kind == 2:  # square
        local = (xx >= x0) & (xx <= x0 + s) & (yy >= y0) & (yy <= y0 + s)
    else:  # triangle pointing up: apex (x0 + s/2, y0), base from (x0, y0 + s) to (x0 + s, y0 + s)
        t = (yy - y0) / s
        half = t * s / 2
        cx = x0 + s / 2
        local = (t >= 0) & (t <= 1) & (xx >= cx - half) & (xx <= cx + half)
    return local, ya, xa


def _shape_keypoints(kind: int, x0: float, y0: float, s: float, box: np.ndarray) -> np.ndarray:
    """The :data:`KEYPOINT_NAMES` of a shape inscribed in [x0, x0 + s]^2: [K, 3] = (x, y, visibility),
    visibility 2 (COCO's "labelled and visible") or 0 (the triangle's missing fourth vertex), points
    clipped to the shape's tight box (a keypoint outside its box is no training target)."""
    x1, y1 = x0 + s, y0 + s
    cx, cy = x0 + s / 2, y0 + s / 2
    if kind == 1:  # circle: extreme points top, right, bottom, left
        points = [(cx, y0, 2), (x1, cy, 2), (cx, y1, 2), (x0, cy, 2), (cx, cy, 2)]
    elif kind == 2:  # square: corners clockwise from the top-left
        points = [(x0, y0, 2), (x1, y0, 2), (x1, y1, 2), (x0, y1, 2), (cx, cy, 2)]
    else:  # triangle: apex, bottom-right, bottom-left, (none), centroid
        points = [(cx, y0, 2), (x1, y1, 2), (x0, y1, 2), (0.0, 0.0, 0), (cx, y0 + 2 * s / 3, 2)]
    kp = np.asarray(points, np.float32)
    kp[:, 0] = np.clip(kp[:, 0], box[0], box[2])
    kp[:, 1] = np.clip(kp[:, 1], box[1], box[3])
    kp[kp[:, 2] == 0, :2] = 0.0
    return kp


def _tight_box(local: np.ndarray, ya: int, xa: int) -> np.ndarray | None:
    """xyxy pixel box of a shape window's mask (None below 4 pixels)."""
    ys, xs = np.nonzero(local)
    if len(xs) < 4:
        return None
    return np.array([xs.min() + xa, ys.min() + ya, xs.max() + xa + 1, ys.max() + ya + 1], np.float32)


def _paint(rng: np.random.Generator, img: np.ndarray, local: np.ndarray, ya: int, xa: int) -> np.ndarray:
    """Paints a shape window's mask onto ``img`` in a colour far from the background; returns the full mask."""
    size = img.shape[0]
    mask = np.zeros((size, size), bool)
    mask[ya : ya + local.shape[0], xa : xa + local.shape[1]] = local
    bg_color = img[mask].mean(0)
    color = rng.uniform(0, 255, 3)
    while np.linalg.norm(color - bg_color) < 120:
        color = rng.uniform(0, 255, 3)
    img[mask] = color + rng.normal(0, 4, (int(mask.sum()), 3))
    return mask


def _example(
    img: np.ndarray, boxes: list, classes: list, masks: list, keypoints: list
) -> dict[str, np.ndarray]:
    """The example dict of ``generate_shapes_example`` from the painted image and per-object lists."""
    size = img.shape[0]
    return {
        "image": np.clip(img, 0, 255).astype(np.uint8),
        "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
        "classes": np.asarray(classes, np.int32),
        "masks": np.asarray(masks, np.uint8).reshape(-1, size, size),
        "keypoints": np.asarray(keypoints, np.float32).reshape(-1, NUM_KEYPOINTS, 3),
    }


def generate_shapes_example(
    rng: np.random.Generator,
    image_size: int = 64,
    max_objects: int = 4,
    min_objects: int = 1,
    min_scale: float = 0.15,
    max_scale: float = 0.45,
) -> dict[str, np.ndarray]:
    """One synthetic image with 1..max_objects non-overlapping shapes.

    Args:
        rng: NumPy generator (the only source of randomness).
        image_size: square image side in pixels (>= 16).
        max_objects, min_objects: object count range (fewer if no free place is found).
        min_scale, max_scale: shape side as a fraction of the image side.

    Returns:
        dict(image uint8 [S, S, 3], boxes float32 [n, 4] xyxy pixels (tight around the mask),
        classes int32 [n] in 1..3, masks uint8 [n, S, S] with 1 inside the shape, keypoints float32
        [n, K, 3] = (x, y, visibility) pixels, the :data:`KEYPOINT_NAMES`).

    Example:
        >>> ex = generate_shapes_example(np.random.default_rng(0), image_size=64)
        >>> ex["boxes"], [CLASS_NAMES[c] for c in ex["classes"]]
    """
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16 pixels, got {image_size}")
    if not 1 <= min_objects <= max_objects:
        raise ValueError(f"Need 1 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
    img = _background(rng, image_size)
    n_target = int(rng.integers(min_objects, max_objects + 1))
    boxes, classes, masks, keypoints = [], [], [], []
    for _ in range(n_target * 20):
        if len(boxes) == n_target:
            break
        s = rng.uniform(min_scale, max_scale) * image_size
        x0, y0 = rng.uniform(0, image_size - s, 2)
        kind = int(rng.integers(1, NUM_CLASSES))
        local, ya, xa = _shape_mask(kind, image_size, x0, y0, s)
        box = _tight_box(local, ya, xa)
        if box is None:
            continue
        if any(
            box[0] <= b[2] + 1 and b[0] <= box[2] + 1 and box[1] <= b[3] + 1 and b[1] <= box[3] + 1
            for b in boxes
        ):
            continue
        mask = _paint(rng, img, local, ya, xa)
        boxes.append(box)
        classes.append(kind)
        masks.append(mask)
        keypoints.append(_shape_keypoints(kind, x0, y0, s, box))
    return _example(img, boxes, classes, masks, keypoints)


def generate_shared_cell_example(
    rng: np.random.Generator,
    image_size: int = 112,
    grid_size: int = 7,
    max_groups: int = 2,
    min_scale: float = 0.15,
    max_scale: float = 0.22,
    max_pair_iou: float = 0.25,
) -> dict[str, np.ndarray]:
    """One image whose objects come in pairs that share a grid cell (YOLO v1's stated weakness).

    Each of 1..``max_groups`` groups is two shapes whose box centres fall in the same cell of the
    ``grid_size`` x ``grid_size`` grid over the image (YOLO v1 trains one object per cell, so it can
    recall at most one of the two). Shapes of the usual shapes-data sizes are larger than a cell
    (112 px, S = 7: 16 px cells, 17-25 px shapes), so the two of a pair overlap (box IoU at most
    ``max_pair_iou``; the second is painted over the first); pairs are at least one pixel apart
    from each other. Boxes are the tight boxes of the whole shapes (as in ``generate_shapes_example``).

    Returns:
        dict(image uint8 [S, S, 3], boxes float32 [n, 4] xyxy pixels, classes int32 [n] in 1..3,
        masks uint8 [n, S, S] of the visible pixels, keypoints float32 [n, K, 3] as in
        ``generate_shapes_example``), n even (2 per group placed).

    Raises:
        ValueError: a grid that does not divide the image, or max_groups < 1.

    Example:
        >>> ex = generate_shared_cell_example(np.random.default_rng(0), 112, 7)
        >>> (((ex["boxes"][:, :2] + ex["boxes"][:, 2:]) / 2) // 16).astype(int)  # pairs of equal cells
    """
    if grid_size < 1 or image_size % grid_size:
        raise ValueError(
            f"The {grid_size}x{grid_size} grid does not divide the {image_size} px image; use a multiple of {grid_size}"
        )
    if max_groups < 1:
        raise ValueError(f"max_groups must be >= 1, got {max_groups}")
    from zoo.ops.boxes import pairwise_iou

    cell = image_size // grid_size
    img = _background(rng, image_size)
    target = int(rng.integers(1, max_groups + 1))
    boxes: list[np.ndarray] = []
    classes: list[int] = []
    masks: list[np.ndarray] = []
    keypoints: list[np.ndarray] = []
    for _ in range(target * 50):
        if len(boxes) == 2 * target:
            break
        r, c = rng.integers(0, grid_size, 2)
        pair = []
        for _obj in range(2):
            s = rng.uniform(min_scale, max_scale) * image_size
            cx, cy = (c + rng.uniform(0.05, 0.95)) * cell, (r + rng.uniform(0.05, 0.95)) * cell
            kind = int(rng.integers(1, NUM_CLASSES))
            local, ya, xa = _shape_mask(kind, image_size, cx - s / 2, cy - s / 2, s)
            box = _tight_box(local, ya, xa)
            pair.append((kind, local, ya, xa, box, cx - s / 2, cy - s / 2, s))
        pb = [p[4] for p in pair]
        if any(b is None for b in pb):
            continue
        centres = [((b[0] + b[2]) / 2 // cell, (b[1] + b[3]) / 2 // cell) for b in pb]
        inside = all(b[0] > 0 and b[1] > 0 and b[2] < image_size and b[3] < image_size for b in pb)
        if (
            not inside
            or centres[0] != centres[1]
            or pairwise_iou(pb[0][None], pb[1][None])[0, 0] > max_pair_iou
        ):
            continue
        union = np.concatenate([np.minimum(pb[0][:2], pb[1][:2]), np.maximum(pb[0][2:], pb[1][2:])])
        if any(
            union[0] <= b[2] + 1 and b[0] <= union[2] + 1 and union[1] <= b[3] + 1 and b[1] <= union[3] + 1
            for b in boxes
        ):
            continue
        first = len(masks)
        for kind, local, ya, xa, box, x0, y0, s in pair:
            mask = _paint(rng, img, local, ya, xa)
            for m in masks[first:]:
                m &= ~mask  # the second shape covers part of the first
            boxes.append(box)
            classes.append(kind)
            masks.append(mask)
            keypoints.append(_shape_keypoints(kind, x0, y0, s, box))
    return _example(img, boxes, classes, masks, keypoints)


def _padded_example(
    index: int,
    seed: int,
    image_size: int,
    max_objects: int,
    min_objects: int,
    shared_cell_grid: int | None = None,
) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng([int(seed), int(index)])
    if shared_cell_grid:
        ex = generate_shared_cell_example(rng, image_size, shared_cell_grid, max_groups=max_objects // 2)
    else:
        ex = generate_shapes_example(rng, image_size, max_objects, min_objects)
    n = len(ex["classes"])
    boxes = np.zeros((max_objects, 4), np.float32)
    classes = np.full((max_objects,), -1, np.int32)
    masks = np.zeros((max_objects, image_size, image_size), np.uint8)
    keypoints = np.zeros((max_objects, NUM_KEYPOINTS, 3), np.float32)
    boxes[:n], classes[:n], masks[:n], keypoints[:n] = (
        ex["boxes"],
        ex["classes"],
        ex["masks"],
        ex["keypoints"],
    )
    return ex["image"].astype(np.float32), boxes, classes, masks, keypoints


def shapes_dataset(
    num_images: int | None = None,
    image_size: int = 64,
    max_objects: int = 4,
    seed: int = 0,
    batch_size: int | None = 8,
    with_masks: bool = False,
    augment: bool = False,
    min_objects: int = 1,
    output_size: int | None = None,
    drop_remainder: bool = False,
    with_keypoints: bool = False,
    shared_cell_grid: int | None = None,
) -> Any:
    """A ``tf.data.Dataset`` of synthetic shapes in the zoo's detection batch format.

    Args:
        num_images: images per pass; None = infinite stream (use ``steps_per_epoch``).
        image_size: generated square image side.
        max_objects: objects per image at most; also the padded ground-truth length G.
        seed: dataset seed (image i comes from ``default_rng([seed, i])``); use another seed for
            held-out data.
        batch_size: batch size, or None for unbatched examples.
        with_masks: add ``masks`` [B, G, S, S] uint8 to the targets.
        augment: apply ``zoo.data.detection.ssd_augment`` (photometric, expansion, IoU crop, flip).
        min_objects: objects per image at least.
        output_size: size of the augmented images (default ``image_size``).
        drop_remainder: drop a last partial batch.
        with_keypoints: add ``keypoints`` [B, G, K, 3] float32 = (x, y, visibility) pixels, the
            :data:`KEYPOINT_NAMES` (Keypoint R-CNN); not with ``augment`` (the SSD augmentations
            do not move keypoints).
        shared_cell_grid: S: the images of ``generate_shared_cell_example`` instead (pairs of shapes
            whose centres share a cell of an S x S grid, max_objects // 2 pairs at most).

    Returns:
        Dataset of ``(images float32 [B, S, S, 3] in 0..255, targets)`` with targets =
        dict(boxes [B, G, 4] float32 xyxy pixels, classes [B, G] int32 (1..3; -1 padding),
        valid [B, G] bool, difficult [B, G] bool (all False) [, masks [B, G, S, S] uint8]
        [, keypoints [B, G, K, 3] float32]).

    Example:
        >>> ds = shapes_dataset(num_images=256, image_size=64, batch_size=16, seed=1)
        >>> images, targets = next(iter(ds))
    """
    import tensorflow as tf

    from zoo.data.detection import finalize_batch, ssd_augment

    if num_images is not None and num_images < 1:
        raise ValueError(f"num_images must be >= 1 or None (infinite), got {num_images}")
    for name, value in (
        ("image_size", image_size),
        ("max_objects", max_objects),
        ("min_objects", min_objects),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16 pixels, got {image_size}")
    if not 1 <= min_objects <= max_objects:
        raise ValueError(f"Need 1 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
    if with_keypoints and augment:
        raise ValueError(
            "with_keypoints=True cannot be combined with augment=True: the SSD augmentations move boxes and "
            "masks but not keypoints; pass augment=False (recipes: --no-augment)"
        )
    if shared_cell_grid is not None and max_objects < 2:
        raise ValueError(
            f"shared_cell_grid needs max_objects >= 2 (objects come in pairs), got {max_objects}"
        )
    size, g = int(image_size), int(max_objects)
    index = tf.data.Dataset.range(num_images) if num_images is not None else tf.data.Dataset.range(2**62)

    def make(i):
        image, boxes, classes, masks, keypoints = tf.numpy_function(
            lambda j: _padded_example(int(j), seed, size, g, min_objects, shared_cell_grid),
            [i],
            [tf.float32, tf.float32, tf.int32, tf.uint8, tf.float32],
            stateful=False,
        )
        image.set_shape((size, size, 3))
        boxes.set_shape((g, 4))
        classes.set_shape((g,))
        masks.set_shape((g, size, size))
        keypoints.set_shape((g, NUM_KEYPOINTS, 3))
        targets = {
            "boxes": boxes,
            "classes": classes,
            "valid": classes > 0,
            "difficult": tf.zeros((g,), tf.bool),
        }
        if with_masks:
            targets["masks"] = masks
        if with_keypoints:
            targets["keypoints"] = keypoints
        if augment:
            aug_seed = tf.stack([tf.cast(seed, tf.int64), i])
            image, targets = ssd_augment(image, targets, output_size or size, seed=aug_seed)
        return image, targets

    ds = index.map(make, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return finalize_batch(ds, batch_size, drop_remainder=drop_remainder)
