"""Detection data in tf.data: the shared batch format, SSD augmentations, VOC folder and TFDS loaders.

Every zoo detection loader yields ``(images, targets)``:
    images: float32 [B, H, W, 3], RGB, 0..255 (models apply their own preprocessing);
    targets: dict(boxes [B, G, 4] float32 xyxy pixels of the (resized) image, classes [B, G] int32
        (1..K objects, 0 background never used, -1 padding), valid [B, G] bool, difficult [B, G] bool
        (VOC "difficult": ignored by the evaluator) [, masks [B, G, H, W] uint8]); the TFDS and VOC
        folder loaders add area_scale [B] float32 (original-image pixels per resized pixel, squared:
        (H0 * W0) / (H * W)), and TFDS COCO adds crowd [B, G] bool (COCO "iscrowd": a region, scored as
        pycocotools does) and area [B, G] float32 (COCO's annotation (mask) area in original-image
        pixels). ``DetectionEvaluator.update`` reads them, so its small / medium / large split is in
        original-image pixels, as in pycocotools.

Provides:
    VOC_CLASSES: the 20 Pascal VOC classes with "background" at id 0.
    pad_targets, resize_example, finalize_batch: building blocks of the format.
    ssd_augment: SSD's augmentations (photometric distortion, expansion / zoom-out, random crop with
        IoU constraints, horizontal flip), applied consistently to image, boxes and masks; stateless
        and deterministic given a seed.
    voc_folder_dataset: a folder of images with Pascal VOC XML annotations (VOCdevkit layout or flat).
    tfds_targets: one TFDS example's objects (VOC difficult, COCO crowd and area) in that format.
    tfds_detection_dataset, tfds_class_names: TFDS ``voc/2007``, ``voc/2012``, ``coco/2017`` from a
        user's ``data_dir`` (never downloads).
"""

from __future__ import annotations

import os
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from zoo.ops.boxes import pairwise_iou, validate_boxes
from zoo.utils.images import read_image

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
MEAN_PIXEL = (123.0, 117.0, 104.0)
TFDS_DETECTION = {"voc/2007": "is_difficult", "voc/2012": "is_difficult", "coco/2017": "is_crowd"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _size_pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


def pad_targets(
    boxes: Any, classes: Any, difficult: Any | None = None, max_boxes: int = 100
) -> dict[str, tf.Tensor]:
    """Pads (or truncates to the first ``max_boxes``) one image's ground truth to fixed length.

    Args:
        boxes: [n, 4] xyxy pixels; classes: [n] ids (>= 1); difficult: [n] bool or None.
        max_boxes: padded length G.

    Returns:
        dict(boxes [G, 4] float32, classes [G] int32 (-1 pad), valid [G] bool, difficult [G] bool).

    Example:
        >>> t = pad_targets([[0, 0, 5, 5]], [2], max_boxes=4)  # t["valid"] -> [True, False, False, False]
    """
    boxes = tf.reshape(tf.cast(boxes, tf.float32), (-1, 4))[:max_boxes]
    classes = tf.reshape(tf.cast(classes, tf.int32), (-1,))[:max_boxes]
    n = tf.shape(classes)[0]
    difficult = (
        tf.zeros((n,), tf.bool)
        if difficult is None
        else tf.reshape(tf.cast(difficult, tf.bool), (-1,))[:max_boxes]
    )
    pad = max_boxes - n
    out = {
        "boxes": tf.pad(boxes, [[0, pad], [0, 0]]),
        "classes": tf.pad(classes, [[0, pad]], constant_values=-1),
        "valid": tf.pad(tf.ones((n,), tf.bool), [[0, pad]], constant_values=False),
        "difficult": tf.pad(difficult, [[0, pad]], constant_values=False),
    }
    out["boxes"].set_shape((max_boxes, 4))
    for k in ("classes", "valid", "difficult"):
        out[k].set_shape((max_boxes,))
    return out


def _mask_invalid(targets: dict[str, tf.Tensor], keep: tf.Tensor) -> dict[str, tf.Tensor]:
    keep = keep & targets["valid"]
    out = dict(targets)
    out["valid"] = keep
    out["boxes"] = tf.where(keep[:, None], targets["boxes"], 0.0)
    out["classes"] = tf.where(keep, targets["classes"], -1)
    out["difficult"] = targets["difficult"] & keep
    if "masks" in targets:
        out["masks"] = tf.where(keep[:, None, None], targets["masks"], tf.zeros_like(targets["masks"]))
    if "crowd" in targets:
        out["crowd"] = targets["crowd"] & keep
    if "area" in targets:
        out["area"] = tf.where(keep, targets["area"], 0.0)
    return out


def _resize_masks(masks: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    m = tf.transpose(tf.cast(masks, tf.float32), (1, 2, 0))
    m = tf.image.resize(m, size, method="nearest")
    return tf.cast(tf.transpose(m, (2, 0, 1)), tf.uint8)


def resize_example(
    image: tf.Tensor, targets: dict[str, tf.Tensor], size: int | Sequence[int]
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Resizes an image (bilinear) to ``size`` and scales its xyxy pixel boxes (and masks) with it.

    Boxes smaller than one pixel after resizing are dropped (valid False).
    """
    out_h, out_w = _size_pair(size)
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    image = tf.image.resize(tf.cast(image, tf.float32), (out_h, out_w))
    scale = tf.stack([out_w / w, out_h / h, out_w / w, out_h / h])
    targets = dict(targets)
    targets["boxes"] = targets["boxes"] * scale
    if "masks" in targets:
        targets["masks"] = _resize_masks(targets["masks"], (out_h, out_w))
    b = targets["boxes"]
    keep = (b[:, 2] - b[:, 0] >= 1.0) & (b[:, 3] - b[:, 1] >= 1.0)
    return image, _mask_invalid(targets, keep)


def _photometric(image: tf.Tensor, seeds: tf.Tensor) -> tf.Tensor:
    """SSD's photometric distortions on a 0..255 image, each applied with probability 1/2."""
    x = image / 255.0
    coin = tf.random.stateless_uniform((6,), seeds[0]) < 0.5
    x = tf.where(coin[0], x + tf.random.stateless_uniform((), seeds[1], -32 / 255, 32 / 255), x)
    x = tf.clip_by_value(x, 0.0, 1.0)

    def contrast(v, s):
        return tf.clip_by_value(
            tf.image.adjust_contrast(v, tf.random.stateless_uniform((), s, 0.5, 1.5)), 0.0, 1.0
        )

    x = tf.where(coin[1] & coin[2], contrast(x, seeds[2]), x)  # contrast first (1/4 of the time)
    x = tf.where(
        coin[3], tf.image.adjust_saturation(x, tf.random.stateless_uniform((), seeds[3], 0.5, 1.5)), x
    )
    x = tf.where(
        coin[4], tf.image.adjust_hue(x, tf.random.stateless_uniform((), seeds[4], -18 / 360, 18 / 360)), x
    )
    x = tf.clip_by_value(x, 0.0, 1.0)
    x = tf.where(coin[1] & ~coin[2], contrast(x, seeds[5]), x)  # or last (1/4 of the time)
    return x * 255.0


def ssd_augment(
    image: tf.Tensor,
    targets: dict[str, tf.Tensor],
    output_size: int | Sequence[int],
    seed: Any = None,
    photometric: bool = True,
    expand: bool = True,
    crop: bool = True,
    flip: bool = True,
    max_expand_ratio: float = 4.0,
    min_ious: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9),
    crop_trials: int = 50,
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """SSD's data augmentation on one example, then a resize to ``output_size``.

    Steps (as in the SSD paper, section 2.2 / 3.6): photometric distortion (brightness, contrast,
    saturation, hue); with probability 1/2 expansion ("zoom out") onto a canvas up to
    ``max_expand_ratio`` times larger filled with the mean pixel; a random crop chosen among "whole
    image", "any patch" and "a patch with IoU >= m with at least one object" for m in ``min_ious``
    (patch side 0.3..1 of the image, aspect ratio 1/2..2; an object is kept if its centre is in the
    patch, then clipped); horizontal flip with probability 1/2. Boxes, masks and the valid mask follow.

    Args:
        image: float32 [H, W, 3] in 0..255 (H, W may be dynamic).
        targets: padded targets (``pad_targets`` format, optionally with masks [G, H, W]).
        output_size: final (height, width) or int.
        seed: int64 [2] stateless seed (e.g. (dataset_seed, index)); None draws one at random.
        photometric, expand, crop, flip: switch single steps off.
        max_expand_ratio: largest zoom-out factor.
        min_ious: IoU constraints of the crop sampler.
        crop_trials: candidate patches tried per example (vectorised; fall back to the whole image).

    Returns:
        (image float32 [out_h, out_w, 3], targets) in the same format.

    Example:
        >>> ds = ds.map(lambda img, t: ssd_augment(img, t, 300, seed=...))
    """
    if seed is None:
        seed = tf.random.uniform((2,), 0, 2**31 - 1, dtype=tf.int64)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=16)
    image = tf.cast(image, tf.float32)
    targets = dict(targets)
    if photometric:
        image = _photometric(image, seeds[:6])
    if expand:
        shape = tf.shape(image)
        h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
        apply = tf.random.stateless_uniform((), seeds[6]) < 0.5
        ratio = tf.where(apply, tf.random.stateless_uniform((), seeds[7], 1.0, max_expand_ratio), 1.0)
        new_h, new_w = tf.cast(h * ratio, tf.int32), tf.cast(w * ratio, tf.int32)
        offs = tf.random.stateless_uniform((2,), seeds[8])
        top = tf.cast(offs[0] * tf.cast(new_h - shape[0], tf.float32), tf.int32)
        left = tf.cast(offs[1] * tf.cast(new_w - shape[1], tf.float32), tf.int32)
        pads = [[top, new_h - shape[0] - top], [left, new_w - shape[1] - left]]
        fill = tf.constant(MEAN_PIXEL, tf.float32)
        image = tf.pad(image - fill, pads + [[0, 0]]) + fill
        shift = tf.cast(tf.stack([left, top, left, top]), tf.float32)
        targets["boxes"] = tf.where(targets["valid"][:, None], targets["boxes"] + shift, 0.0)
        if "masks" in targets:
            targets["masks"] = tf.pad(targets["masks"], [[0, 0]] + pads)
    if crop:
        image, targets = _random_crop(image, targets, seeds[9:12], min_ious, crop_trials)
    if flip:
        apply = tf.random.stateless_uniform((), seeds[12]) < 0.5
        w = tf.cast(tf.shape(image)[1], tf.float32)
        image = tf.where(apply, tf.reverse(image, [1]), image)
        b = targets["boxes"]
        flipped = tf.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], axis=-1)
        targets["boxes"] = tf.where(apply & targets["valid"][:, None], flipped, b)
        if "masks" in targets:
            targets["masks"] = tf.where(apply, tf.reverse(targets["masks"], [2]), targets["masks"])
    image, targets = resize_example(image, targets, output_size)
    out_h, out_w = _size_pair(output_size)
    image.set_shape((out_h, out_w, 3))
    if "masks" in targets:
        targets["masks"].set_shape((None, out_h, out_w))
    return image, targets


def _random_crop(
    image: tf.Tensor, targets: dict[str, tf.Tensor], seeds: tf.Tensor, min_ious: Sequence[float], trials: int
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    modes = tf.constant([2.0, -1.0] + [float(m) for m in min_ious])  # 2: whole image; -1: any patch
    mode = modes[tf.random.stateless_uniform((), seeds[0], 0, len(min_ious) + 2, dtype=tf.int32)]
    u = tf.random.stateless_uniform((trials, 4), seeds[1])
    cw = tf.floor((0.3 + 0.7 * u[:, 0]) * w)
    ch = tf.floor((0.3 + 0.7 * u[:, 1]) * h)
    cx = tf.floor(u[:, 2] * (w - cw + 1.0))
    cy = tf.floor(u[:, 3] * (h - ch + 1.0))
    patches = tf.stack([cx, cy, cx + cw, cy + ch], axis=-1)  # [T, 4]
    boxes, valid = targets["boxes"], targets["valid"]
    centers = tf.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], -1)  # [G, 2]
    inside = (
        (centers[None, :, 0] > patches[:, None, 0])
        & (centers[None, :, 0] < patches[:, None, 2])
        & (centers[None, :, 1] > patches[:, None, 1])
        & (centers[None, :, 1] < patches[:, None, 3])
        & valid[None, :]
    )  # [T, G]
    iou = tf.where(valid[None, :], pairwise_iou(patches, boxes, xp=tf), -1.0)
    aspect = cw / tf.maximum(ch, 1.0)
    ok = (
        (aspect >= 0.5)
        & (aspect <= 2.0)
        & (tf.reduce_max(iou, axis=1) >= mode)
        & tf.reduce_any(inside, axis=1)
        & (cw >= 1.0)
        & (ch >= 1.0)
    )
    use = (mode < 1.5) & tf.reduce_any(ok)
    first = tf.argmax(tf.cast(ok, tf.int32), output_type=tf.int32)
    patch = tf.where(use, patches[first], tf.stack([0.0, 0.0, w, h]))
    keep = tf.where(use, inside[first], valid)
    x0, y0 = tf.cast(patch[0], tf.int32), tf.cast(patch[1], tf.int32)
    pw, ph = tf.cast(patch[2] - patch[0], tf.int32), tf.cast(patch[3] - patch[1], tf.int32)
    image = image[y0 : y0 + ph, x0 : x0 + pw]
    targets = dict(targets)
    size = tf.cast(tf.stack([pw, ph, pw, ph]), tf.float32)
    shifted = boxes - tf.stack([patch[0], patch[1], patch[0], patch[1]])
    targets["boxes"] = tf.clip_by_value(shifted, 0.0, size)
    if "masks" in targets:
        targets["masks"] = targets["masks"][:, y0 : y0 + ph, x0 : x0 + pw]
    b = targets["boxes"]
    keep = keep & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    return image, _mask_invalid(targets, keep)


def finalize_batch(
    ds: tf.data.Dataset, batch_size: int | None, drop_remainder: bool = False
) -> tf.data.Dataset:
    """Batches (when ``batch_size`` is set) and prefetches a dataset of fixed-shape examples."""
    if batch_size is not None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None, got {batch_size}")
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def _text(node: ET.Element | None, tag: str) -> str | None:
    child = node.find(tag) if node is not None else None
    return child.text.strip() if child is not None and child.text is not None else None


def parse_voc_xml(path: str | os.PathLike, class_names: Sequence[str] = VOC_CLASSES) -> dict[str, Any]:
    """Reads one Pascal VOC XML annotation.

    VOC boxes are 1-based inclusive pixel indices; they become continuous xyxy pixels
    (xmin - 1, ymin - 1, xmax, ymax). Boxes are checked with ``zoo.ops.boxes.validate_boxes``
    (``box_mode`` "raise" or "clip").

    Returns:
        dict(filename, height, width, boxes float32 [n, 4], classes int32 [n], difficult bool [n]).
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValueError(f"{path}: not a valid XML annotation ({e})") from e
    size = root.find("size")
    height, width = _text(size, "height"), _text(size, "width")
    boxes, classes, difficult = [], [], []
    index = {n: i for i, n in enumerate(class_names)}
    for obj in root.findall("object"):
        name = _text(obj, "name")
        if name not in index or index[name] == 0:
            raise ValueError(f"{path}: unknown class {name!r}; known classes: {', '.join(class_names[1:])}")
        bb = obj.find("bndbox")
        try:
            coords = [float(_text(bb, k)) for k in ("xmin", "ymin", "xmax", "ymax")]
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: object {name!r} has a missing or non-numeric bndbox") from e
        boxes.append([coords[0] - 1, coords[1] - 1, coords[2], coords[3]])
        classes.append(index[name])
        difficult.append(_text(obj, "difficult") == "1")
    return {
        "filename": _text(root, "filename"),
        "height": int(float(height)) if height else None,
        "width": int(float(width)) if width else None,
        "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
        "classes": np.asarray(classes, np.int32),
        "difficult": np.asarray(difficult, bool),
    }


def _find_image(folder: Path, stem: str, filename: str | None) -> Path | None:
    if filename and (folder / filename).is_file():
        return folder / filename
    for suffix in IMAGE_SUFFIXES:
        for cand in (folder / (stem + suffix), folder / (stem + suffix.upper())):
            if cand.is_file():
                return cand
    return None


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header, with the shared reader's errors and size limit."""
    from PIL import Image, UnidentifiedImageError

    from zoo.utils.images import DEFAULT_MAX_PIXELS, ImageReadError, ImageTooLargeError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ImageReadError(f"Cannot read image {path}: {e}") from e
    if width * height > DEFAULT_MAX_PIXELS:
        raise ImageTooLargeError(
            f"Image {path} is {width} x {height} = {width * height:,} pixels, over the limit of "
            f"{DEFAULT_MAX_PIXELS:,}; downscale it (and its boxes) first"
        )
    return width, height


def voc_folder_dataset(
    path: str | os.PathLike,
    split: str | None = None,
    class_names: Sequence[str] = VOC_CLASSES,
    image_size: int | Sequence[int] = 300,
    max_boxes: int = 100,
    batch_size: int | None = 8,
    augment: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    box_mode: str = "raise",
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """A folder of images with Pascal VOC XML annotations as a tf.data pipeline in the zoo's format.

    Layouts: VOCdevkit (``Annotations/*.xml``, ``JPEGImages/``, and with ``split`` the ids of
    ``ImageSets/Main/<split>.txt``) or a flat folder where each image has an XML of the same stem.
    Images are resized to ``image_size`` and boxes scaled with them. Pictures are read with
    ``zoo.utils.images.read_image``: grey, 16-bit, palette, CMYK and RGBA (on white) all become 8-bit
    RGB; a file whose header cannot be read, a picture over the pixel limit, or an XML ``<size>``
    that differs from the picture raise here, naming the file; a file truncated after its header
    raises while iterating (``tf.errors.InvalidArgumentError`` carrying the ``ImageReadError``
    message with the path).

    Args:
        path: the folder (e.g. ``VOCdevkit/VOC2007``).
        split: image set name ("train", "val", "trainval", "test") for the VOCdevkit layout.
        class_names: names by class id, background first.
        image_size: output image size (int or (height, width)).
        max_boxes: padded ground-truth length G (more boxes are truncated).
        batch_size: batch size or None.
        augment: apply ``ssd_augment`` (training).
        shuffle: shuffle the file order each epoch (seeded).
        seed: shuffle / augmentation seed.
        box_mode: "raise" (bad box -> ValueError naming the file and box) or "clip" (clip / drop).
        drop_remainder: drop a last partial batch.

    Raises:
        FileNotFoundError: missing folder, split file or image. ValueError: no annotation, bad XML,
        unknown class, a bad box with ``box_mode="raise"``, an unreadable or too large image, or a
        ``<size>`` that is not the image's.

    Example:
        >>> ds = voc_folder_dataset("~/data/VOCdevkit/VOC2007", split="test", image_size=300)
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Annotation folder {root} does not exist")
    if (root / "Annotations").is_dir():
        ann_dir, img_dir = root / "Annotations", root / "JPEGImages"
    else:
        ann_dir = img_dir = root
    if split is not None:
        split_file = root / "ImageSets" / "Main" / f"{split}.txt"
        if not split_file.is_file():
            raise FileNotFoundError(
                f"Split file {split_file} not found (VOCdevkit layout expected for split={split!r})"
            )
        ids = [line.split()[0] for line in split_file.read_text().splitlines() if line.strip()]
        xmls = [ann_dir / f"{i}.xml" for i in ids]
    else:
        xmls = sorted(ann_dir.glob("*.xml"))
    if not xmls:
        raise ValueError(
            f"No VOC XML annotations found in {ann_dir}" + (f" for split {split!r}" if split else "")
        )
    paths, all_boxes, all_classes, all_diff = [], [], [], []
    for xml in xmls:
        if not xml.is_file():
            raise FileNotFoundError(f"Annotation {xml} listed in split {split!r} does not exist")
        ann = parse_voc_xml(xml, class_names)
        image_path = _find_image(img_dir, xml.stem, ann["filename"])
        if image_path is None:
            raise FileNotFoundError(f"No image for annotation {xml} in {img_dir}")
        width, height = _image_size(image_path)
        if ann["height"] and ann["width"] and (ann["height"], ann["width"]) != (height, width):
            raise ValueError(
                f"{xml}: <size> says {ann['width']}x{ann['height']} (w x h) but {image_path} is "
                f"{width}x{height}; the boxes would be scaled wrongly, fix the annotation"
            )
        try:
            boxes, keep = validate_boxes(ann["boxes"], height, width, mode=box_mode)
        except ValueError as e:
            raise ValueError(f"{xml}: {e}") from e
        padded = np.zeros((max_boxes, 4), np.float32)
        cls = np.full((max_boxes,), -1, np.int32)
        diff = np.zeros((max_boxes,), bool)
        boxes, classes, difficult = (
            boxes[keep][:max_boxes],
            ann["classes"][keep][:max_boxes],
            ann["difficult"][keep][:max_boxes],
        )
        n = len(classes)
        padded[:n], cls[:n], diff[:n] = boxes, classes, difficult
        paths.append(str(image_path))
        all_boxes.append(padded)
        all_classes.append(cls)
        all_diff.append(diff)
    ds = tf.data.Dataset.from_tensor_slices(
        (np.asarray(paths), np.stack(all_boxes), np.stack(all_classes), np.stack(all_diff))
    )
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def read(p):
        return read_image(p.decode()).astype(np.float32)

    def load(i, p, boxes, classes, diff):
        image = tf.numpy_function(read, [p], tf.float32)
        image.set_shape([None, None, 3])
        targets = {"boxes": boxes, "classes": classes, "valid": classes > 0, "difficult": diff}
        targets["area_scale"] = _area_scale(image, image_size)
        if augment:
            return ssd_augment(image, targets, image_size, seed=tf.stack([tf.cast(seed, tf.int64), i]))
        image, targets = resize_example(image, targets, image_size)
        image.set_shape(_size_pair(image_size) + (3,))
        return image, targets

    ds = ds.enumerate().map(lambda i, x: load(i, *x), num_parallel_calls=tf.data.AUTOTUNE)
    return finalize_batch(ds, batch_size, drop_remainder)


def _area_scale(image: tf.Tensor, size: int | Sequence[int]) -> tf.Tensor:
    """(H0 * W0) / (H * W): original-image pixels per pixel of the ``size`` the boxes are resized to."""
    out_h, out_w = _size_pair(size)
    shape = tf.cast(tf.shape(image), tf.float32)
    return shape[0] * shape[1] / float(out_h * out_w)


def tfds_targets(image: tf.Tensor, objects: dict[str, tf.Tensor], name: str, max_boxes: int = 100) -> dict:
    """One TFDS example's objects in the zoo's padded format, in pixels of ``image`` (not yet resized).

    TFDS labels 0..K-1 become zoo ids 1..K. VOC's ``is_difficult`` becomes ``difficult``; COCO's
    ``is_crowd`` becomes ``crowd`` (its own flag: pycocotools scores crowd regions differently from
    ignored boxes) and COCO's ``area`` (the annotation's mask area, original pixels) ``area``. Boxes
    are clipped to the image; boxes without area are dropped (valid False).

    Example:
        >>> t = tfds_targets(ex["image"], ex["objects"], "coco/2017")  # t["crowd"], t["area"]
    """
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    coco = name.startswith("coco/")
    flag_key = "is_crowd" if coco else TFDS_DETECTION[name]
    n = tf.minimum(tf.shape(objects["bbox"])[0], tf.shape(objects["label"])[0])
    n = tf.minimum(n, tf.shape(objects[flag_key])[0])
    rel = objects["bbox"][:n]
    boxes = tf.stack([rel[:, 1] * w, rel[:, 0] * h, rel[:, 3] * w, rel[:, 2] * h], axis=-1)
    boxes = tf.clip_by_value(boxes, 0.0, tf.stack([w, h, w, h]))
    classes = tf.cast(objects["label"][:n], tf.int32) + 1
    flags = tf.cast(objects[flag_key][:n], tf.bool)
    targets = pad_targets(boxes, classes, None if coco else flags, max_boxes)
    if coco:
        padded = max_boxes - tf.minimum(n, max_boxes)
        targets["crowd"] = tf.ensure_shape(tf.pad(flags[:max_boxes], [[0, padded]]), (max_boxes,))
        if "area" in objects:
            area = tf.cast(objects["area"][:n][:max_boxes], tf.float32)
        else:
            area = (boxes[:, 2] - boxes[:, 0])[:max_boxes] * (boxes[:, 3] - boxes[:, 1])[:max_boxes]
        targets["area"] = tf.ensure_shape(tf.pad(area, [[0, padded]]), (max_boxes,))
    b = targets["boxes"]
    return _mask_invalid(targets, (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1]))


def _tfds_load(name: str, split: str, data_dir: str | os.PathLike | None, with_info: bool = False) -> Any:
    import tensorflow_datasets as tfds

    if name not in TFDS_DETECTION:
        raise ValueError(
            f"Unsupported TFDS detection dataset {name!r}; choose from {', '.join(TFDS_DETECTION)}"
        )
    try:
        return tfds.load(name, split=split, data_dir=data_dir, download=False, with_info=with_info)
    except (AssertionError, FileNotFoundError, tfds.core.DatasetNotFoundError) as e:
        raise FileNotFoundError(
            f"TFDS dataset {name!r} (split {split!r}) not found in data_dir={data_dir!r}. The zoo never downloads "
            f"at run time: prepare it once with `tfds build {name} --data_dir <dir>` (VOC/COCO need their "
            f"archives) and pass that data_dir. ({e})"
        ) from e


def tfds_class_names(name: str, data_dir: str | os.PathLike | None = None) -> tuple[str, ...]:
    """Class names by zoo class id ("background" first) of a TFDS detection dataset.

    Example:
        >>> tfds_class_names("voc/2007", data_dir)[:3]  # -> ("background", "aeroplane", "bicycle")
    """
    if name.startswith("voc/"):
        return VOC_CLASSES
    _, info = _tfds_load(name, "train", data_dir, with_info=True)
    return ("background",) + tuple(info.features["objects"]["label"].names)


def tfds_detection_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    image_size: int | Sequence[int] = 300,
    max_boxes: int = 100,
    batch_size: int | None = 8,
    augment: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """TFDS ``voc/2007``, ``voc/2012`` or ``coco/2017`` in the zoo's detection batch format.

    TFDS labels 0..K-1 become zoo ids 1..K (0 = background). VOC ``is_difficult`` becomes
    ``difficult``; COCO ``is_crowd`` becomes ``crowd`` and COCO's annotation ``area`` ``area``
    (see ``tfds_targets``); ``area_scale`` relates the resized boxes to original-image pixels, so
    ``DetectionEvaluator`` splits small / medium / large as pycocotools does on the original images.
    TFDS boxes (relative ymin, xmin, ymax, xmax) become xyxy pixels of the resized image; boxes
    without area are dropped.

    Args:
        name: "voc/2007", "voc/2012" or "coco/2017".
        split: TFDS split ("train", "validation", "test").
        data_dir: where the prepared dataset lives (never downloaded).
        image_size, max_boxes, batch_size, augment, shuffle, seed, drop_remainder: as in
            ``voc_folder_dataset``.

    Raises:
        FileNotFoundError: the dataset is not prepared in ``data_dir``.

    Example:
        >>> ds = tfds_detection_dataset("voc/2007", "test", data_dir="~/tensorflow_datasets")
    """
    ds = _tfds_load(name, split, data_dir)
    out_h, out_w = _size_pair(image_size)
    if shuffle:
        ds = ds.shuffle(1024, seed=seed, reshuffle_each_iteration=True)

    def convert(i, ex):
        image = tf.cast(ex["image"], tf.float32)
        targets = tfds_targets(image, ex["objects"], name, max_boxes)
        targets["area_scale"] = _area_scale(image, (out_h, out_w))
        if augment:
            return ssd_augment(image, targets, (out_h, out_w), seed=tf.stack([tf.cast(seed, tf.int64), i]))
        image, targets = resize_example(image, targets, (out_h, out_w))
        image.set_shape((out_h, out_w, 3))
        return image, targets

    ds = ds.enumerate().map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    return finalize_batch(ds, batch_size, drop_remainder)
