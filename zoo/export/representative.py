"""Images for int8 calibration and for checking an export against its Keras model.

Sources (``--representative``): a folder of images, a TFDS split (``tfds:NAME[:SPLIT]``,
read offline from ``data_dir``), ``synthetic`` (the zoo's synthetic shapes scenes,
``zoo.data.shapes``) or ``photos`` (random crops, flips and rescales of
the three photographs bundled with scikit-learn and matplotlib: a building, a flower and a
portrait; real images, available offline). Every source yields uint8 RGB arrays of shape
``[H, W, 3]`` at the requested size.

Example:
    >>> images = load_images("photos", 32, (224, 224))
    >>> images.shape, images.dtype
    ((32, 224, 224, 3), dtype('uint8'))
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from zoo.utils.images import RESIZES, resize_images  # noqa: F401  (the verification's resize)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


class RepresentativeDataError(ValueError):
    """Raised when a representative / verification image source is empty or unreadable."""


def _resize(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    return np.asarray(img.convert("RGB").resize((w, h), Image.BILINEAR), dtype=np.uint8)


def bundled_photo_paths() -> list[Path]:
    """The photographs shipped with scikit-learn and matplotlib (offline 'real' images)."""
    paths = []
    try:
        import sklearn.datasets

        root = Path(sklearn.datasets.__file__).parent / "images"
        paths += sorted(root.glob("*.jpg"))
    except ImportError:
        pass
    try:
        import matplotlib

        paths += [Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"]
    except ImportError:
        pass
    return [p for p in paths if p.exists()]


def photo_crops(n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """``n`` random crops (25-100% of the side, random aspect, flips) of the bundled photos.

    Example:
        >>> photo_crops(4, (64, 64)).shape
        (4, 64, 64, 3)
    """
    paths = bundled_photo_paths()
    if not paths:
        raise RepresentativeDataError(
            "No bundled photographs found (scikit-learn / matplotlib sample images)"
        )
    photos = [Image.open(p).convert("RGB") for p in paths]
    rng = np.random.default_rng(seed)
    out = np.empty((n, *size, 3), np.uint8)
    for i in range(n):
        img = photos[i % len(photos)]
        w, h = img.size
        scale = rng.uniform(0.25, 1.0)
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw = int(min(w, max(8, w * scale * np.sqrt(aspect))))
        ch = int(min(h, max(8, h * scale / np.sqrt(aspect))))
        x0, y0 = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
        crop = img.crop((x0, y0, x0 + cw, y0 + ch))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        out[i] = _resize(crop, size)
    return out


def synthetic_images(n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """``n`` scenes of the zoo's synthetic shapes (:func:`zoo.data.shapes.generate_shapes_example`).

    Scenes are drawn square at the larger side and stretched to ``size`` when it is not square.

    Example:
        >>> synthetic_images(2, (64, 64)).shape
        (2, 64, 64, 3)
    """
    from zoo.data.shapes import generate_shapes_example

    h, w = int(size[0]), int(size[1])
    side = max(16, h, w)
    rng = np.random.default_rng(seed)
    images = np.stack([generate_shapes_example(rng, image_size=side)["image"] for _ in range(n)])
    return resize_images(images, (h, w), "pil")


def folder_images(folder: str | os.PathLike, n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Up to ``n`` images found (recursively) under ``folder``, resized to ``size``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RepresentativeDataError(f"Representative folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise RepresentativeDataError(
            f"Representative folder {folder} has no images ({', '.join(IMAGE_EXTENSIONS)}); "
            "give a folder with images, 'tfds:NAME', 'photos' or 'synthetic'"
        )
    rng = np.random.default_rng(seed)
    if len(files) > n:
        files = [files[i] for i in sorted(rng.choice(len(files), n, replace=False))]
    images = []
    for f in files:
        try:
            with Image.open(f) as img:
                images.append(_resize(img, size))
        except OSError as e:
            raise RepresentativeDataError(f"Cannot read image {f}: {e}") from e
    return np.stack(images)


def tfds_images(spec: str, n: int, size: tuple[int, int], data_dir: str | None = None) -> np.ndarray:
    """Up to ``n`` images of a TFDS split, ``spec`` = ``NAME`` or ``NAME:SPLIT`` (default train)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    name, _, split = spec.partition(":")
    try:
        ds = tfds.load(name, split=split or "train", data_dir=data_dir, download=False, shuffle_files=False)
    except Exception as e:  # noqa: BLE001  (tfds raises many types; say which dataset failed)
        raise RepresentativeDataError(f"Cannot load TFDS dataset {spec!r} offline: {e}") from e
    images = []
    for ex in ds.take(n):
        img = ex["image"] if isinstance(ex, dict) else ex[0]
        if img.shape[-1] == 1:
            img = tf.image.grayscale_to_rgb(img)
        img = tf.image.resize(img, size, antialias=True)
        images.append(np.clip(np.round(img.numpy()), 0, 255).astype(np.uint8))
    if not images:
        raise RepresentativeDataError(f"TFDS dataset {spec!r} is empty")
    return np.stack(images)


def load_images(
    source: str | os.PathLike | np.ndarray,
    n: int,
    size: tuple[int, int],
    *,
    seed: int = 0,
    data_dir: str | None = None,
) -> np.ndarray:
    """Up to ``n`` uint8 RGB images ``[n, H, W, 3]`` from ``source``.

    Args:
        source: a folder, ``"tfds:NAME[:SPLIT]"``, ``"synthetic"``, ``"photos"`` or an array of
            images ``[N, H, W, 3]`` (resized if needed).
        n: how many images.
        size: (height, width).
        seed: for random crops / sampling.
        data_dir: TFDS data directory.

    Raises:
        RepresentativeDataError: the source is empty or cannot be read.

    Example:
        >>> load_images("synthetic", 8, (32, 32)).shape
        (8, 32, 32, 3)
    """
    if n < 1:
        raise RepresentativeDataError(f"Need at least one image, asked for {n}")
    size = (int(size[0]), int(size[1]))
    if isinstance(source, np.ndarray) or (isinstance(source, (list, tuple)) and not isinstance(source, str)):
        arr = np.asarray(source)
        if arr.ndim != 4 or arr.shape[0] == 0 or arr.shape[-1] not in (1, 3):
            raise RepresentativeDataError(
                f"Representative images must be a non-empty [N, H, W, 3] array, got {arr.shape}"
            )
        if arr.dtype != np.uint8:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        if arr.shape[-1] == 1:
            arr = np.repeat(arr, 3, axis=-1)
        if arr.shape[1:3] != size:
            arr = np.stack([_resize(Image.fromarray(a), size) for a in arr])
        return arr[:n]
    source = str(source)
    if source == "synthetic":
        return synthetic_images(n, size, seed)
    if source == "photos":
        return photo_crops(n, size, seed)
    if source.startswith("tfds:"):
        return tfds_images(source[5:], n, size, data_dir)
    return folder_images(source, n, size, seed)
