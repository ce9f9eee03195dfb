"""Semantic segmentation data: synthetic shapes, TFDS Oxford-IIIT Pet, image/mask folders.

Every loader gives a ``tf.data.Dataset`` of ``(image, mask)``: ``image`` float32 ``[H, W, 3]``
with RGB values in [0, 255] (apply the model's preprocessing afterwards), ``mask`` int32
``[H, W]`` of class ids, with :data:`IGNORE_LABEL` (255) for pixels that count for nothing.
Images are resized bilinearly, masks with nearest neighbour (class ids are never blended).

* :func:`shapes_dataset`: the synthetic shapes of :mod:`zoo.data.shapes` (coloured circles,
  squares, triangles on textured backgrounds), generated on the fly; the semantic mask is the
  class of the instance mask at each pixel (1 circle, 2 square, 3 triangle; 0 background).
* :func:`pets_dataset`: TFDS ``oxford_iiit_pet`` from a local ``data_dir`` (never downloads);
  trimap 1 (pet) -> 1, 2 (background) -> 0, 3 (border) -> 2 or the ignore label.
* :func:`folder_dataset`: ``root/images/<name>.{png,jpg,jpeg}`` with ``root/masks/<name>.png``
  (one class id per pixel: grayscale or palette PNG).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

IGNORE_LABEL = 255
PET_CLASSES = ("background", "pet", "border")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def semantic_from_instances(masks: np.ndarray, class_ids: Sequence[int], offset: int = 0) -> np.ndarray:
    """Turns per-instance masks into one class map (later instances are drawn over earlier ones).

    Args:
        masks: ``[N, H, W]`` boolean (or 0/1) instance masks, in drawing order.
        class_ids: ``N`` class ids of the instances (``zoo.data.shapes`` gives 1..3; 0 is the background).
        offset: added to each class id (1 for datasets whose object ids start at 0).

    Returns:
        int32 ``[H, W]``: 0 for the background, ``class_id + offset`` where an instance is.

    Example:
        >>> semantic_from_instances(np.ones((1, 2, 2), bool), [2])  # [[2, 2], [2, 2]]
    """
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"instance masks must be [N, H, W], got shape {masks.shape}")
    if len(class_ids) != masks.shape[0]:
        raise ValueError(f"{masks.shape[0]} instance masks but {len(class_ids)} class ids")
    out = np.zeros(masks.shape[1:], np.int32)
    for mask, cls in zip(masks, class_ids):
        out[np.asarray(mask) > 0] = int(cls) + offset
    return out


def _resize_pair(image: Any, mask: Any, image_size: tuple[int, int] | None):
    import tensorflow as tf

    image = tf.cast(image, tf.float32)
    mask = tf.cast(mask, tf.int32)
    if mask.shape.rank == 2:
        mask = mask[..., None]
    if image_size is not None:
        image = tf.image.resize(image, image_size, method="bilinear")
        mask = tf.image.resize(mask, image_size, method="nearest")
    image.set_shape([*(image_size or (None, None)), 3])
    return image, tf.cast(mask[..., 0], tf.int32)


def _size(image_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    image_size = tuple(int(s) for s in image_size)
    if len(image_size) != 2 or min(image_size) < 1:
        raise ValueError(f"image_size must be a positive int or (height, width), got {image_size!r}")
    return image_size  # type: ignore[return-value]


def shapes_num_classes() -> int:
    """Classes of the shapes segmentation data: the background plus one per shape kind (4)."""
    from zoo.data import shapes

    return shapes.NUM_CLASSES


def shapes_class_names() -> list[str]:
    """``["background", "circle", "square", "triangle"]`` (from :mod:`zoo.data.shapes`)."""
    from zoo.data import shapes

    return list(shapes.CLASS_NAMES)


def shapes_example(
    index: int, seed: int = 0, image_size: int = 64, max_objects: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Image ``index`` of the shapes set ``seed`` and its semantic mask.

    The image is the one :func:`zoo.data.shapes.shapes_dataset` gives for the same seed and
    index (``default_rng([seed, index])``); the mask holds each pixel's shape class (1..3, the
    instance masks' classes; shapes never overlap) and 0 for the background.

    Returns:
        ``image`` float32 ``[S, S, 3]`` in [0, 255], ``mask`` int32 ``[S, S]``.

    Example:
        >>> image, mask = shapes_example(0, seed=1, image_size=64)
    """
    from zoo.data import shapes

    ex = shapes.generate_shapes_example(
        np.random.default_rng([int(seed), int(index)]), image_size, max_objects
    )
    return ex["image"].astype(np.float32), semantic_from_instances(ex["masks"], ex["classes"])


def shapes_arrays(
    num_images: int, image_size: int = 64, seed: int = 0, max_objects: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """``num_images`` shapes images and semantic masks as NumPy arrays (see :func:`shapes_example`).

    Example:
        >>> images, masks = shapes_arrays(8, image_size=64, seed=1)
    """
    pairs = [shapes_example(i, seed, image_size, max_objects) for i in range(num_images)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def shapes_dataset(
    num_images: int | None,
    image_size: int = 64,
    batch_size: int | None = None,
    seed: int = 0,
    shuffle: bool = False,
    repeat: bool = False,
    max_objects: int = 4,
):
    """Synthetic shapes segmentation as a ``tf.data.Dataset`` of ``(image, mask)``, generated on the fly.

    Args:
        num_images: images per pass (generated during the first pass, then cached in memory),
            or None for an endless stream of new images (use ``steps_per_epoch``).
        image_size: square side in pixels.
        batch_size: batch if given.
        seed: dataset seed; use another seed for held-out data.
        shuffle, repeat: as in ``tf.data``.
        max_objects: shapes per image at most.

    Example:
        >>> train = shapes_dataset(512, image_size=64, batch_size=16, seed=0, shuffle=True)
    """
    import tensorflow as tf

    if num_images is not None and num_images < 1:
        raise ValueError(f"num_images must be >= 1 or None (endless), got {num_images}")
    size = int(image_size)

    def make(i):
        image, mask = tf.numpy_function(
            lambda j: shapes_example(int(j), seed, size, max_objects),
            [i],
            [tf.float32, tf.int32],
            stateful=False,
        )
        image.set_shape((size, size, 3))
        mask.set_shape((size, size))
        return image, mask

    index = tf.data.Dataset.range(num_images if num_images is not None else 2**62)
    ds = index.map(make, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if num_images is not None:
        ds = ds.cache()
    return _finish(ds, batch_size, shuffle, repeat, seed, buffer=min(num_images or 1024, 4096))


def _finish(ds: Any, batch_size: int | None, shuffle: bool, repeat: bool, seed: int, buffer: int = 256):
    import tensorflow as tf

    if shuffle:
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if batch_size:
        ds = ds.batch(batch_size, drop_remainder=repeat)
    return ds.prefetch(tf.data.AUTOTUNE)


def pets_dataset(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    image_size: int | tuple[int, int] = 128,
    batch_size: int | None = None,
    border: str = "ignore",
    shuffle: bool = False,
    repeat: bool = False,
    seed: int = 0,
):
    """TFDS ``oxford_iiit_pet`` (images + trimaps) from a local ``data_dir``; never downloads.

    Args:
        split: TFDS split (``"train"``, ``"test"``, ``"train[:90%]"``...).
        data_dir: folder holding the prepared TFDS data (``tfds build oxford_iiit_pet`` or
            ``tfds.load(..., download=True)`` on a machine with network writes it).
        image_size: output side or (height, width).
        batch_size: batch the dataset if given.
        border: ``"ignore"`` (trimap border pixels get :data:`IGNORE_LABEL`) or ``"class"``
            (they are class 2).
        shuffle, repeat, seed: as in ``tf.data``.

    Returns:
        ``(image, mask)`` pairs; mask 0 background, 1 pet, (2 border), 255 ignore.

    Raises:
        FileNotFoundError: the dataset is not in ``data_dir``, with what to do.

    Example:
        >>> ds = pets_dataset("train", data_dir="~/tensorflow_datasets", image_size=128, batch_size=16)
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if border not in ("ignore", "class"):
        raise ValueError(f"border must be 'ignore' or 'class', got {border!r}")
    size = _size(image_size)
    data_dir = None if data_dir is None else os.path.expanduser(str(data_dir))
    try:
        ds = tfds.load("oxford_iiit_pet", split=split, data_dir=data_dir, download=False)
    except Exception as exc:  # tfds raises AssertionError / DatasetNotFoundError when absent
        where = data_dir or "the default TFDS folder (~/tensorflow_datasets)"
        raise FileNotFoundError(
            f"TFDS dataset 'oxford_iiit_pet' (split {split!r}) is not prepared in {where}: {exc}. "
            "On a machine with network run `tfds build oxford_iiit_pet --data_dir DIR` (or "
            "tfds.load('oxford_iiit_pet', data_dir=DIR)) and pass --data-dir DIR."
        ) from exc
    # trimap value -> class: 1 pet, 2 background, 3 border; anything else is ignored.
    table = np.full(256, IGNORE_LABEL, np.int32)
    table[1], table[2], table[3] = 1, 0, (IGNORE_LABEL if border == "ignore" else 2)
    lookup = tf.constant(table)

    def convert(example):
        image, mask = _resize_pair(example["image"], example["segmentation_mask"], size)
        return image, tf.gather(lookup, mask)

    ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(ds, batch_size, shuffle, repeat, seed)


def find_image_mask_pairs(root: str | os.PathLike) -> list[tuple[Path, Path]]:
    """Pairs ``root/images/<name>.<ext>`` with ``root/masks/<name>.png`` by file stem.

    Raises:
        FileNotFoundError: ``root``, ``images/`` or ``masks/`` is missing, or no image is found.
        ValueError: an image has no mask or a mask has no image (the first few are named).

    Example:
        >>> pairs = find_image_mask_pairs("data/my_set")
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Segmentation folder {root} does not exist")
    folders = {}
    for sub in ("images", "masks"):
        folder = root / sub
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{root} has no {sub}/ folder; expected {root}/images/<name>.png|jpg and {root}/masks/<name>.png"
            )
        folders[sub] = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    images, masks = folders["images"], folders["masks"]
    if not images:
        raise FileNotFoundError(f"{root}/images holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    no_mask = sorted(set(images) - set(masks))
    no_image = sorted(set(masks) - set(images))
    if no_mask or no_image:
        parts = []
        if no_mask:
            parts.append(f"{len(no_mask)} image(s) without a mask (e.g. {', '.join(no_mask[:3])})")
        if no_image:
            parts.append(f"{len(no_image)} mask(s) without an image (e.g. {', '.join(no_image[:3])})")
        raise ValueError(
            f"Unmatched file names in {root}: {'; '.join(parts)}. Masks are matched by file stem."
        )
    return [(images[k], masks[k]) for k in sorted(images)]


def _read_mask(path: Path) -> np.ndarray:
    from PIL import Image

    from zoo.utils.images import ImageReadError

    try:
        im = Image.open(path)
        im.load()
    except (OSError, SyntaxError) as e:
        raise ImageReadError(f"Cannot read mask {path}: {e}") from e
    with im:
        if im.mode not in ("L", "P", "I", "I;16"):
            raise ValueError(
                f"Mask {path} is a {im.mode} image; masks must hold one class id per pixel "
                "(grayscale 'L' or palette 'P' PNG)"
            )
        return np.asarray(im, dtype=np.int32)


def _read_image(path: Path) -> np.ndarray:
    """RGB float32 through ``zoo.utils.images.read_image``: grey, 16-bit, palette, CMYK and RGBA
    (composited on white) read alike; corrupt, truncated or huge files raise naming the file."""
    from zoo.utils.images import read_image

    return read_image(path).astype(np.float32)


def folder_dataset(
    root: str | os.PathLike,
    image_size: int | tuple[int, int] = 128,
    batch_size: int | None = None,
    num_classes: int | None = None,
    shuffle: bool = False,
    repeat: bool = False,
    seed: int = 0,
    subset: tuple[int, int | None] | None = None,
):
    """Image/mask folders as a dataset (see :func:`find_image_mask_pairs` for the layout).

    Args:
        root: folder with ``images/`` and ``masks/``.
        image_size: output side or (height, width).
        batch_size: batch if given.
        num_classes: if given, every mask value must be below it or equal :data:`IGNORE_LABEL`
            (checked while reading, naming the file).
        shuffle, repeat, seed: as in ``tf.data``.
        subset: ``(start, stop)`` slice of the sorted pairs (a deterministic train/val split).

    Example:
        >>> ds = folder_dataset("data/my_set", image_size=96, batch_size=8, num_classes=3)
    """
    import tensorflow as tf

    pairs = find_image_mask_pairs(root)
    if subset is not None:
        pairs = pairs[subset[0] : subset[1]]
        if not pairs:
            raise ValueError(f"The subset {subset} of {root} is empty")
    size = _size(image_size)

    def load(index):
        image_path, mask_path = pairs[int(index)]
        image, mask = _read_image(image_path), _read_mask(mask_path)
        if image.shape[:2] != mask.shape[:2]:
            raise ValueError(
                f"Image {image_path} is {image.shape[:2]} but its mask {mask_path} is {mask.shape[:2]}"
            )
        if num_classes is not None:
            bad = (mask >= num_classes) & (mask != IGNORE_LABEL)
            if bad.any():
                raise ValueError(
                    f"Mask {mask_path} has class id {int(mask[bad][0])} but num_classes={num_classes} "
                    f"(use {IGNORE_LABEL} for pixels to ignore)"
                )
        return image, mask

    def py_load(index):
        image, mask = tf.numpy_function(load, [index], [tf.float32, tf.int32])
        image.set_shape([None, None, 3])
        mask.set_shape([None, None])
        return _resize_pair(image, mask, size)

    ds = tf.data.Dataset.range(len(pairs))
    if shuffle:
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(py_load, num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(ds, batch_size, False, repeat, seed)


def count_folder(root: str | os.PathLike) -> int:
    """Number of image/mask pairs in ``root`` (raises as :func:`find_image_mask_pairs`)."""
    return len(find_image_mask_pairs(root))
