"""Detector post-processing shared by every zoo detector, ``predict`` and LiteRT export.

Raw outputs (class logits and box offsets per default box / anchor / proposal) become THE zoo
detections dict ``{"boxes" [B, K, 4], "scores" [B, K], "classes" [B, K] int32 (-1 pad),
"num_detections" [B] int32}`` with boxes in xyxy pixels:

- ``postprocess_detections``: softmax, ``decode_boxes``, clipping to the image, ``batched_nms``
  (keras.ops, fixed shapes; runs inside graphs and exported models).
- ``DetectionPostprocess``: the same as a Keras layer (the anchors are a non-trainable weight), and
  ``detection_model(model)`` wraps a detector so that ``predict`` and export emit detections.
- ``detect(model, images)``: the user-facing call. Images of any size are resized (stretched,
  bilinear) to the model's input size, detected in one batch, and the boxes are scaled back to
  each ORIGINAL image's pixels. Any zoo detector (``zoo.detection.base.Detector``: SSD, Faster
  R-CNN, Mask R-CNN) works; thresholds default to the model's own ``postprocess`` settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.detection.base import DETECTION_KEYS, Detector
from zoo.ops.boxes import SSD_WEIGHTS, clip_boxes, decode_boxes
from zoo.ops.nms import batched_nms


def postprocess_detections(
    class_logits: Any,
    box_deltas: Any,
    anchors: Any,
    image_size: tuple[int, int],
    *,
    weights: Sequence[float] = SSD_WEIGHTS,
    score_threshold: float = 0.01,
    iou_threshold: float = 0.45,
    max_detections: int = 100,
    pre_nms_top_k: int | None = 400,
    class_agnostic: bool = False,
    background_class: int | None = 0,
) -> dict[str, Any]:
    """Decodes raw detector outputs into the zoo's detections dict (xyxy pixels of ``image_size``).

    Args:
        class_logits: [B, N, C] raw class scores (softmax is applied here); column 0 = background.
        box_deltas: [B, N, 4] offsets, or [B, N, C, 4] per-class offsets (Faster R-CNN's box head).
        anchors: [N, 4] or [B, N, 4] xyxy pixel default boxes / anchors / proposals.
        image_size: (height, width) of the image the boxes refer to; boxes are clipped to it.
        weights: box coding weights (SSD: ``SSD_WEIGHTS`` = variances 0.1/0.2).
        score_threshold: keep class scores above this (SSD: 0.01).
        iou_threshold: per-class NMS IoU threshold (SSD: 0.45).
        max_detections: K, output slots per image (SSD: 200 on COCO, 100 is plenty for VOC).
        pre_nms_top_k: per class, the best boxes that enter NMS (SSD: 400).
        class_agnostic: one NMS over all classes instead of one per class.
        background_class: column never returned (None if there is none).

    Returns:
        dict(boxes [B, K, 4], scores [B, K], classes [B, K] int32, num_detections [B] int32).

    Example:
        >>> out = model(images)
        >>> dets = postprocess_detections(out["class_logits"], out["box_deltas"], model.default_boxes,
        ...                               model.image_size)
    """
    height, width = (int(v) for v in image_size)
    scores = ops.softmax(ops.cast(class_logits, "float32"), axis=-1)
    deltas = ops.cast(box_deltas, "float32")
    anchors = ops.convert_to_tensor(anchors, dtype="float32")
    if len(anchors.shape) == 2:
        anchors = anchors[None]
    if len(deltas.shape) == 4:
        anchors = anchors[:, :, None, :]
    boxes = clip_boxes(decode_boxes(deltas, anchors, weights), height, width)
    return batched_nms(
        boxes,
        scores,
        max_detections=max_detections,
        iou_threshold=iou_threshold,
        score_threshold=score_threshold,
        class_agnostic=class_agnostic,
        pre_nms_top_k=pre_nms_top_k,
        background_class=background_class,
    )


@keras.saving.register_keras_serializable(package="zoo")
class DetectionPostprocess(keras.layers.Layer):
    """``postprocess_detections`` as a layer: raw ``{"class_logits", "box_deltas"}`` -> detections dict.

    The anchors are stored as a non-trainable weight so that a saved inference model carries them.

    Args:
        num_anchors: N.
        image_size: (height, width) of the model input.
        anchors: optional [N, 4] initial anchors (xyxy pixels); else set by loading weights.
        weights, score_threshold, iou_threshold, max_detections, pre_nms_top_k: as in
            ``postprocess_detections``.

    Example:
        >>> dets = DetectionPostprocess(len(boxes), (300, 300), anchors=boxes)(model(image))
    """

    def __init__(
        self,
        num_anchors: int,
        image_size: Sequence[int],
        anchors: Any = None,
        weights: Sequence[float] = SSD_WEIGHTS,
        score_threshold: float = 0.01,
        iou_threshold: float = 0.45,
        max_detections: int = 100,
        pre_nms_top_k: int | None = 400,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.num_anchors = int(num_anchors)
        self.image_size = tuple(int(v) for v in image_size)
        self.box_weights = tuple(float(w) for w in weights)
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_detections = int(max_detections)
        self.pre_nms_top_k = None if pre_nms_top_k is None else int(pre_nms_top_k)
        self._initial_anchors = None
        if anchors is not None:
            anchors = np.asarray(anchors, dtype="float32")
            if anchors.shape != (self.num_anchors, 4):
                raise ValueError(f"anchors must have shape ({self.num_anchors}, 4), got {anchors.shape}")
            self._initial_anchors = anchors
        self.anchors = self.add_weight(
            name="anchors", shape=(self.num_anchors, 4), initializer="zeros", trainable=False
        )
        if self._initial_anchors is not None:
            self.anchors.assign(self._initial_anchors)

    def call(self, inputs):
        return postprocess_detections(
            inputs["class_logits"],
            inputs["box_deltas"],
            self.anchors,
            self.image_size,
            weights=self.box_weights,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            max_detections=self.max_detections,
            pre_nms_top_k=self.pre_nms_top_k,
        )

    def compute_output_spec(self, inputs):
        batch = inputs["class_logits"].shape[0]
        k = self.max_detections
        return {
            "boxes": keras.KerasTensor((batch, k, 4), "float32"),
            "scores": keras.KerasTensor((batch, k), "float32"),
            "classes": keras.KerasTensor((batch, k), "int32"),
            "num_detections": keras.KerasTensor((batch,), "int32"),
        }

    def get_config(self):
        return {
            **super().get_config(),
            "num_anchors": self.num_anchors,
            "image_size": self.image_size,
            "weights": self.box_weights,
            "score_threshold": self.score_threshold,
            "iou_threshold": self.iou_threshold,
            "max_detections": self.max_detections,
            "pre_nms_top_k": self.pre_nms_top_k,
        }


def detection_model(model: keras.Model, **overrides: Any) -> keras.Model:
    """Wraps an anchor-based detector (e.g. SSD) into a functional model that outputs the detections dict.

    The wrapped model shares the detector's weights and post-processes with the detector's
    ``postprocess`` settings (``**overrides``: score_threshold, iou_threshold, max_detections,
    pre_nms_top_k); use it for a saved inference graph (the anchors are stored in it). Boxes are in
    pixels of the model input. ``model.predict`` on the detector itself returns the same.

    Example:
        >>> infer = detection_model(zoo.get("ssd_vgg16", num_classes=21))
        >>> infer.predict(images_300)["boxes"].shape
        (B, 100, 4)
    """
    if not getattr(model, "anchor_based", False):
        raise ValueError(
            f"Model {model.name!r} is not an anchor-based zoo detector (anchor_based, default_boxes [N, 4]); "
            "detection_model needs an SSD-like model. Use model.predict(images) for the others."
        )
    anchors = np.asarray(model.default_boxes, dtype="float32")
    settings = model.postprocess.replace(**overrides)
    image = keras.Input(tuple(model.input_shape[1:]), name="image")
    post = DetectionPostprocess(
        len(anchors),
        model.image_size,
        anchors=anchors,
        weights=model.box_weights,
        name="detections",
        **settings.as_dict(),
    )
    return keras.Model(image, post(model(image)), name=f"{model.name}_detections")


def _as_image_list(images: Any) -> list[np.ndarray]:
    if isinstance(images, (list, tuple)):
        items = [np.asarray(ops.convert_to_numpy(im)) for im in images]
    else:
        arr = np.asarray(ops.convert_to_numpy(images))
        if arr.ndim == 3:
            items = [arr]
        elif arr.ndim == 4:
            items = list(arr)
        else:
            raise ValueError(
                f"images must be one image [H, W, 3], a batch [B, H, W, 3] or a list of images; got shape {arr.shape}"
            )
    if not items:
        raise ValueError("images is empty; pass at least one image [H, W, 3]")
    for i, im in enumerate(items):
        if im.ndim != 3 or im.shape[-1] != 3:
            raise ValueError(f"Image {i} must have shape [H, W, 3] (RGB), got {im.shape}")
        if im.shape[0] < 1 or im.shape[1] < 1:
            raise ValueError(f"Image {i} is empty: shape {im.shape}")
        if not np.issubdtype(im.dtype, np.number) or np.issubdtype(im.dtype, np.complexfloating):
            raise ValueError(f"Image {i} must hold real numbers 0..255, got dtype {im.dtype}")
        if np.issubdtype(im.dtype, np.floating) and not np.all(np.isfinite(im)):
            raise ValueError(f"Image {i} contains NaN or inf pixel values")
    return items


def resize_images(images: Any, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resizes images of any sizes to ``size`` (height, width), bilinear, stretched (no padding).

    Returns:
        (batch float32 [B, h, w, 3] in the input's 0..255 range, original sizes [B, 2] as (height, width)).

    Example:
        >>> batch, sizes = resize_images([np.zeros((480, 640, 3)), np.zeros((300, 300, 3))], (300, 300))
    """
    items = _as_image_list(images)
    h, w = (int(v) for v in size)
    sizes = np.array([im.shape[:2] for im in items], dtype="int64")
    out = np.empty((len(items), h, w, 3), dtype="float32")
    for i, im in enumerate(items):
        im = im.astype("float32")
        if im.shape[:2] == (h, w):
            out[i] = im
        else:
            out[i] = np.asarray(ops.convert_to_numpy(ops.image.resize(im, (h, w), interpolation="bilinear")))
    return out, sizes


def rescale_detections(
    detections: dict[str, Any], from_size: tuple[int, int], to_sizes: np.ndarray
) -> dict[str, np.ndarray]:
    """Scales detection boxes from the model input's pixels to each original image's pixels.

    Args:
        detections: the detections dict (NumPy or tensors), boxes in pixels of ``from_size``.
        from_size: (height, width) the boxes refer to.
        to_sizes: [B, 2] (height, width) of each original image.

    Returns:
        The detections dict as NumPy arrays with rescaled boxes (padding boxes stay 0).
    """
    out = {k: np.asarray(ops.convert_to_numpy(detections[k])) for k in DETECTION_KEYS}
    to_sizes = np.asarray(to_sizes, dtype="float32").reshape(-1, 2)
    sy = to_sizes[:, 0] / float(from_size[0])
    sx = to_sizes[:, 1] / float(from_size[1])
    scale = np.stack([sx, sy, sx, sy], axis=-1)[:, None, :]
    out["boxes"] = (out["boxes"] * scale).astype("float32")
    return out


def detect(
    model: keras.Model,
    images: Any,
    *,
    score_threshold: float | None = None,
    iou_threshold: float | None = None,
    max_detections: int | None = None,
    batch_size: int = 8,
) -> dict[str, np.ndarray]:
    """Detects objects in images of any size; boxes come back in each ORIGINAL image's pixels.

    Every image is resized (stretched, bilinear) to ``model.image_size``, the batch goes through the
    detector and its post-processing (softmax, box decoding, per-class NMS), and the boxes are scaled
    back by (original width / model width, original height / model height).

    Args:
        model: a zoo detector (``zoo.detection.base.Detector``; e.g. ``zoo.get("ssd_vgg16")``).
        images: one image [H, W, 3], a batch [B, H, W, 3], or a list of images of different sizes;
            RGB, 0..255 (uint8 or float).
        score_threshold: keep detections scoring above this (None: the model's ``postprocess``,
            e.g. SSD 0.01, Faster R-CNN 0.05).
        iou_threshold: per-class NMS IoU threshold (None: the model's; SSD 0.45, Faster R-CNN 0.3).
        max_detections: K, output slots per image (None: the model's, 100).
        batch_size: images per forward pass.

    Returns:
        dict of NumPy arrays: boxes [B, K, 4] (xyxy, original pixels), scores [B, K], classes [B, K]
        (1..num_classes-1, -1 pad), num_detections [B].

    Raises:
        ValueError: images that are not [H, W, 3] RGB arrays, empty, or contain NaN/inf.

    Example:
        >>> dets = detect(model, [photo_480x640, photo_300x300], score_threshold=0.5)
        >>> dets["boxes"][0, : dets["num_detections"][0]]
    """
    if not isinstance(model, Detector):
        raise ValueError(
            f"Model {getattr(model, 'name', model)!r} is not a zoo detector (a zoo.detection.base.Detector "
            "with image_size, postprocess and detect_batch)"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch, sizes = resize_images(images, model.image_size)
    parts = []
    for start in range(0, len(batch), batch_size):
        dets = model.detect_batch(
            batch[start : start + batch_size],
            score_threshold=score_threshold,
            iou_threshold=iou_threshold,
            max_detections=max_detections,
        )
        parts.append(rescale_detections(dets, model.image_size, sizes[start : start + batch_size]))
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in DETECTION_KEYS}
