"""Synthetic digit images from scikit-learn's handwritten digits (offline, seeded).

scikit-learn's ``load_digits`` (1,797 8x8 glyphs, grey levels 0-16) made into task data:

- :func:`load_digits_split`: the transfer split, digits 0-4 (source) and 5-9 (target pool and
  held-out test, labels 0-4), ``"clean"`` (upscaled) or ``"jittered"`` (drawn into cluttered
  scenes), as float32 ``[N, size, size, 1]`` in [0, 1].
- :func:`jitter_digits`: the renderer behind ``"jittered"``: any ``[N, h, h]`` glyphs in [0, 1]
  into ``size`` x ``size`` scenes (random affine pose, gradient background, clutter strokes,
  contrast jitter, pixel noise), fixed by a ``numpy.random.Generator``. Two generators with
  different settings of the same glyphs give two domains (e.g. for domain adaptation).
- :func:`sample_per_class`: ``k`` labelled examples per class (few-shot subsets).

Example:
    >>> from zoo.data.digits import load_digits_split, sample_per_class
    >>> data = load_digits_split(variant="jittered")
    >>> idx = sample_per_class(data["target_y"], k=10, seed=0)
    >>> x, y = data["target_x"][idx], data["target_y"][idx]
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["DIGIT_VARIANTS", "jitter_digits", "load_digits_split", "pose_digits", "sample_per_class"]

#: The renderings :func:`load_digits_split` offers.
DIGIT_VARIANTS = ("clean", "jittered")


def _col(a: np.ndarray) -> np.ndarray:
    """Per-image values broadcast over the canvas."""
    return np.asarray(a, np.float32)[:, None, None]


def _warp_glyphs(
    glyphs: np.ndarray,
    size: int,
    scale: np.ndarray,
    aspect: np.ndarray,
    theta: np.ndarray,
    shear: np.ndarray,
    cy: np.ndarray,
    cx: np.ndarray,
) -> np.ndarray:
    """Bilinearly resamples ``[N, h, h]`` glyphs through per-image affine maps into ``[N, size, size]``.

    The glyph's box spans ``scale`` of the canvas (``scale = 1``: the whole canvas, as an
    upscaling does), stretched by ``aspect`` (height / width ** 0.5 each way), sheared by
    ``shear``, rotated by ``theta`` (radians) and centred at ``(cy, cx)`` in [-1, 1] canvas units.
    """
    n, h = len(glyphs), glyphs.shape[1]
    padded = np.pad(np.asarray(glyphs, np.float32), ((0, 0), (1, 2), (1, 2)))  # zeros outside the glyph
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0  # pixel centres in [-1, 1]
    vy, vx = (a[None] for a in np.meshgrid(grid, grid, indexing="ij"))
    col = _col
    # inverse map, canvas -> glyph: undo the offset, the rotation, the shear, then the scale
    dy, dx = vy - col(cy), vx - col(cx)
    cos, sin = col(np.cos(theta)), col(np.sin(theta))
    ry, rx = cos * dy + sin * dx, cos * dx - sin * dy
    rx = rx - col(shear) * ry
    py = np.clip(ry / col(scale * aspect) * h / 2 + (h - 1) / 2, -1.0, float(h))
    px = np.clip(rx / col(scale / aspect) * h / 2 + (h - 1) / 2, -1.0, float(h))
    y0, x0 = np.floor(py), np.floor(px)
    wy, wx = py - y0, px - x0
    iy, ix = y0.astype(np.int64) + 1, x0.astype(np.int64) + 1
    b = np.arange(n)[:, None, None]
    return (
        (1 - wy) * (1 - wx) * padded[b, iy, ix] + (1 - wy) * wx * padded[b, iy, ix + 1]
        + wy * (1 - wx) * padded[b, iy + 1, ix] + wy * wx * padded[b, iy + 1, ix + 1]
    )  # fmt: skip


def pose_digits(glyphs: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Varied clean renderings of small glyphs (``[N, h, h]`` in [0, 1]): pose, size and stroke.

    A source-side augmentation (MNIST's strokes vary; 8x8 glyphs upscaled do not): each glyph
    is resampled through a random affine map (box 80-105 % of the canvas, aspect +-10 %,
    rotation +-15 degrees, shear +-0.25, offset up to +-8 % of the canvas), its stroke made
    thicker or thinner (a blend towards a 3x3 max or min filter, weight -0.6..0.8) and its ink
    scaled to 0.7-1.0. The background stays black: the images remain clean digits on black,
    like the unaugmented source. Everything is drawn from ``rng``, so a seed fixes the images.

    Returns:
        float32 ``[N, size, size, 1]`` in [0, 1].

    Example:
        >>> from sklearn.datasets import load_digits
        >>> pose_digits(load_digits().images[:4] / 16.0, 28, np.random.default_rng(0)).shape
        (4, 28, 28, 1)
    """
    n = len(glyphs)
    scale = rng.uniform(0.8, 1.05, n)
    aspect = np.sqrt(np.exp(rng.normal(0.0, 0.1, n)))
    theta = np.deg2rad(rng.uniform(-15.0, 15.0, n))
    shear = rng.uniform(-0.25, 0.25, n)
    cy, cx = rng.uniform(-0.08, 0.08, (2, n))
    digit = np.clip(_warp_glyphs(glyphs, size, scale, aspect, theta, shear, cy, cx), 0.0, 1.0)
    padded = np.pad(digit, ((0, 0), (1, 1), (1, 1)))
    shifts = [padded[:, dy : dy + size, dx : dx + size] for dy in range(3) for dx in range(3)]
    thick = _col(rng.uniform(-0.6, 0.8, n))
    grown = np.where(thick > 0, np.max(shifts, axis=0), np.min(shifts, axis=0))
    digit = digit + np.abs(thick) * (grown - digit)
    digit = digit * _col(rng.uniform(0.7, 1.0, n))
    return np.clip(digit, 0.0, 1.0).astype(np.float32)[..., None]


def jitter_digits(glyphs: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Renders small glyphs (``[N, h, h]`` in [0, 1]) into cluttered ``size`` x ``size`` scenes.

    Each glyph is drawn once, bilinearly resampled through a random affine map: its box spans
    50-80% of the canvas, aspect ratio +-10%, rotation +-20 degrees, shear +-0.2, placed at a
    random offset that keeps most of it inside. Under it: a random linear-gradient background
    (level 0-0.3) and 0-3 clutter strokes (line segments and circular arcs, width 0.03-0.07 of
    the half-canvas, brightness 0.2-0.7). The digit's ink is 0.45-0.8 brighter than the
    background level, and Gaussian pixel noise (sigma 0.02-0.06) is added on top. Everything is
    drawn from ``rng``, so a seed fixes the images.

    Args:
        glyphs: ``[N, h, h]`` glyph images in [0, 1] (e.g. ``load_digits().images / 16``).
        size: output canvas side in pixels.
        rng: the random stream; a seeded ``np.random.default_rng(seed)`` fixes the images.

    Returns:
        float32 ``[N, size, size, 1]`` in [0, 1].

    Example:
        >>> from sklearn.datasets import load_digits
        >>> glyphs = load_digits().images[:8] / 16.0
        >>> jitter_digits(glyphs, 32, np.random.default_rng(0)).shape
        (8, 32, 32, 1)
    """
    n = len(glyphs)
    scale = rng.uniform(0.5, 0.8, n)
    aspect = np.sqrt(np.exp(rng.normal(0.0, 0.1, n)))
    theta = np.deg2rad(rng.uniform(-20.0, 20.0, n))
    shear = rng.uniform(-0.2, 0.2, n)
    room = np.clip(1.0 - 0.8 * scale, 0.0, None)
    cy, cx = rng.uniform(-1.0, 1.0, n) * room, rng.uniform(-1.0, 1.0, n) * room
    digit = _warp_glyphs(glyphs, size, scale, aspect, theta, shear, cy, cx)
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0  # pixel centres in [-1, 1]
    vy, vx = (a[None] for a in np.meshgrid(grid, grid, indexing="ij"))

    def col(a: np.ndarray) -> np.ndarray:  # per-image values broadcast over the canvas
        return np.asarray(a, np.float32)[:, None, None]

    level = rng.uniform(0.0, 0.3, n)
    slope_y, slope_x = rng.uniform(-0.15, 0.15, (2, n))
    img = np.clip(col(level) + col(slope_y) * vy + col(slope_x) * vx, 0.0, 1.0)
    counts = rng.integers(0, 4, n)
    for k in range(3):
        width, bright = col(rng.uniform(0.03, 0.07, n)), col(rng.uniform(0.2, 0.7, n))
        if k % 2 == 0:  # a line segment from a to e
            ay, ax, ey, ex = rng.uniform(-1.1, 1.1, (4, n))
            d2 = col((ey - ay) ** 2 + (ex - ax) ** 2 + 1e-6)
            t = np.clip(((vy - col(ay)) * col(ey - ay) + (vx - col(ax)) * col(ex - ax)) / d2, 0.0, 1.0)
            dist = np.hypot(vy - col(ay) - t * col(ey - ay), vx - col(ax) - t * col(ex - ax))
        else:  # an arc of a circle
            oy, ox = rng.uniform(-1.0, 1.0, (2, n))
            radius, start = rng.uniform(0.15, 0.6, n), rng.uniform(-np.pi, np.pi, n)
            span = rng.uniform(0.5, 1.5, n) * np.pi
            angle = np.mod(np.arctan2(vy - col(oy), vx - col(ox)) - col(start), 2 * np.pi)
            ring = np.abs(np.hypot(vy - col(oy), vx - col(ox)) - col(radius))
            dist = np.where(angle < col(span), ring, 9.0)
        alpha = np.clip(1.0 - dist / width, 0.0, 1.0) * col(counts > k)
        img = img * (1 - alpha) + bright * alpha
    ink = np.clip(level + rng.uniform(0.45, 0.8, n), 0.0, 1.0)
    digit = np.clip(digit, 0.0, 1.0)
    img = img * (1 - digit) + col(ink) * digit
    img = img + col(rng.uniform(0.02, 0.06, n)) * rng.standard_normal(img.shape).astype(np.float32)
    return np.clip(img, 0.0, 1.0).astype(np.float32)[..., None]


def load_digits_split(
    size: int = 32,
    seed: int = 0,
    test_fraction: float = 0.4,
    variant: str = "clean",
    source_copies: int = 8,
) -> dict[str, np.ndarray]:
    """scikit-learn's handwritten digits (8x8, 0-16) as ``size`` x ``size`` images in [0, 1].

    Args:
        variant: ``"clean"``: each digit upscaled to fill the canvas (easy: a CNN trained from
            scratch on 5 images per class already reaches ~92%). ``"jittered"``: each digit drawn
            by :func:`jitter_digits` at a random size, angle and offset on a cluttered, noisy
            background, a harder analogue of natural images (CIFAR). The source set holds
            ``source_copies`` renderings of every source digit (the source task has plenty of
            varied data); target-pool and test digits are rendered once each.
        seed: fixes the target/test split and the jittered renderings.

    Returns:
        ``source_x/source_y`` (digits 0-4, labels 0-4), ``target_x/target_y`` (digits 5-9,
        labels 0-4: the target pool to draw labelled examples from) and ``test_x/test_y``
        (held-out digits 5-9, ``test_fraction`` of them, stratified). The split of the
        original digits is the same for both variants.

    Example:
        >>> data = load_digits_split(variant="clean")
        >>> data["source_x"].shape
        (901, 32, 32, 1)
    """
    from sklearn.datasets import load_digits

    if variant not in DIGIT_VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(DIGIT_VARIANTS)}, got {variant!r}")
    digits = load_digits()
    glyphs = digits.images.astype(np.float32) / 16.0
    labels = digits.target.astype(np.int32)
    rng = np.random.default_rng(seed)
    src = np.flatnonzero(labels < 5)
    tgt_idx, test_idx = [], []
    for c in range(5, 10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_fraction))
        test_idx.extend(idx[:n_test])
        tgt_idx.extend(idx[n_test:])
    tgt_idx, test_idx = np.array(tgt_idx), np.array(test_idx)
    if variant == "clean":
        images = keras.ops.convert_to_numpy(keras.ops.image.resize(glyphs[..., None], (size, size)))
        images = np.clip(images, 0.0, 1.0).astype(np.float32)
        source_x, target_x, test_x = images[src], images[tgt_idx], images[test_idx]
    else:
        src = np.tile(src, max(1, int(source_copies)))
        # one independent stream per part, so changing source_copies leaves target and test alone
        source_x, target_x, test_x = (
            jitter_digits(glyphs[idx], size, np.random.default_rng([seed, part]))
            for part, idx in enumerate((src, tgt_idx, test_idx), start=1)
        )
    return {
        "source_x": source_x, "source_y": labels[src],
        "target_x": target_x, "target_y": labels[tgt_idx] - 5,
        "test_x": test_x, "test_y": labels[test_idx] - 5,
    }  # fmt: skip


def sample_per_class(y: np.ndarray, k: int | None, seed: int) -> np.ndarray:
    """Indices of ``k`` examples of every class (all of them for ``k=None``), in random order.

    Raises:
        ValueError: a class has fewer than ``k`` examples.

    Example:
        >>> sample_per_class(np.array([0, 0, 1, 1, 1]), k=1, seed=0).shape
        (2,)
    """
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if k is not None and k > len(idx):
            raise ValueError(f"class {c} has {len(idx)} examples, fewer than the {k} asked for")
        picks.append(idx if k is None else idx[:k])
    return rng.permutation(np.concatenate(picks))
