"""The serving graph that is converted: (folded preprocessing ->) model -> task outputs.

Detectors end in the four tensors of TFLite's detection post-process (see :func:`serving_function`),
either by the built-in ``TFLite_Detection_PostProcess`` op (anchor-based heads) or by the model's own
keras.ops decoding and NMS.

Example:
    >>> fn, signature = serving_function(model, spec, fold_preprocessing=True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from zoo.export.spec import DETECTION_KEYS, ExportError, ExportSpec, detection_settings, is_zoo_detector
from zoo.ops.boxes import convert_format
from zoo.preprocessing import preprocess_input


def _detections(model: keras.Model, x: Any, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Detections dict of ``model`` on preprocessed ``x`` (the zoo's detection format).

    A model whose call returns the dict is used as is; a zoo detector with raw outputs (SSD,
    Faster R-CNN) goes through its ``detect_batch`` (decoding + fixed-size NMS in keras.ops),
    with ``options`` (score_threshold, iou_threshold, max_detections, ...).
    """
    if is_zoo_detector(model):
        return model.detections(x, model.postprocess.replace(**(options or {})))
    if hasattr(model, "detect_batch"):
        return model.detect_batch(x, **(options or {}))
    if options:
        raise ExportError(f"detection options {sorted(options)} need a model with a detect_batch method")
    out = model(x, training=False)
    if not (isinstance(out, dict) and set(DETECTION_KEYS) <= set(out)):
        raise ExportError(
            f"Detector {model.name} must return dict({', '.join(DETECTION_KEYS)}) or have a "
            f"detect_batch(images, ...) method (zoo.detection)"
        )
    return out


def _implements(name: str, attrs: dict[str, Any]) -> str:
    """The ``experimental_implements`` NodeDef text that makes the converter emit custom op ``name``."""
    parts = [f'name: "{name}"']
    for key, value in attrs.items():
        if isinstance(value, bool):
            v = f"b: {str(value).lower()}"
        elif isinstance(value, int):
            v = f"i: {value}"
        else:
            v = f"f: {float(value)}"
        parts.append(f'attr {{ key: "{key}" value {{ {v} }} }}')
    return " ".join(parts)


def _tflite_detection_postprocess(model: keras.Model, raw: dict[str, Any], spec: ExportSpec) -> tuple:
    """Decoding + per-class NMS as TFLite's ``TFLite_Detection_PostProcess`` op (TF OD API style).

    The op decodes SSD box encodings ``(ty, tx, th, tw)`` against anchors ``(yc, xc, h, w)``
    with scales ``(y, x, h, w)``; the zoo's deltas are ``(dx, dy, dw, dh)`` with weights
    ``(wx, wy, ww, wh)`` (SSD: variances 0.1/0.2 = weights 10, 10, 5, 5), so the deltas are
    reordered and the anchors normalised by the input size (boxes come out normalised). The
    op numbers classes without the background column; +1 restores the zoo's class ids.
    """
    import tensorflow as tf

    h, w = spec.input_size
    opts = detection_settings(model, spec.detection_options)
    k = int(opts.get("max_detections", 100))
    anchors = np.asarray(model.default_boxes, np.float32)
    cxcywh = convert_format(anchors, "xyxy", "rel_center_xywh", height=h, width=w)
    anchors_yxhw = tf.gather(cxcywh, [1, 0, 3, 2], axis=-1)
    wx, wy, ww, wh = (float(v) for v in getattr(model, "box_weights", (10.0, 10.0, 5.0, 5.0)))
    num_classes = int(raw["class_logits"].shape[-1]) - 1
    per_class = num_classes > 1 and spec.split_classes
    attrs = {
        "max_detections": k,
        "max_classes_per_detection": 1,
        "detections_per_class": int(opts.get("max_detections_per_class") or k),
        "use_regular_nms": True,
        "nms_score_threshold": float(opts.get("score_threshold", 0.01)),
        "nms_iou_threshold": float(opts.get("iou_threshold", 0.45)),
        "num_classes": 1 if per_class else num_classes,
        "y_scale": wy,
        "x_scale": wx,
        "h_scale": wh,
        "w_scale": ww,
    }

    @tf.function(experimental_implements=_implements("TFLite_Detection_PostProcess", attrs))
    def postprocess(box_encodings, class_predictions, anchors):
        # Placeholder body: the converter replaces the whole function with the op.
        del box_encodings, class_predictions, anchors
        return tf.zeros([1, k, 4]), tf.zeros([1, k]), tf.zeros([1, k]), tf.zeros([1])

    scores = tf.nn.softmax(tf.cast(raw["class_logits"], tf.float32), axis=-1)
    deltas = tf.gather(tf.cast(raw["box_deltas"], tf.float32), [1, 0, 3, 2], axis=-1)
    if not per_class:
        boxes, classes, det_scores, num = postprocess(deltas, scores, anchors_yxhw)
        return tf.clip_by_value(boxes, 0.0, 1.0), exact_class_ids(classes, num, offset=1), det_scores, num
    # One single-class op per class (no background column: the op's label offset is then 0),
    # merged by score. Same result as one regular-NMS op over all classes, without the
    # multi-threaded class loop that drops a class (see the README's LiteRT notes).
    parts = [postprocess(deltas, scores[..., c : c + 1], anchors_yxhw) for c in range(1, num_classes + 1)]
    slots = tf.range(k, dtype=tf.int32)[None, :]
    boxes = tf.concat([p[0] for p in parts], axis=1)
    used = tf.concat([slots < tf.cast(tf.reshape(p[3], [-1, 1]), tf.int32) for p in parts], axis=1)
    cand = tf.where(used, tf.concat([p[2] for p in parts], axis=1), -1.0)
    ids = tf.concat([tf.fill([1, k], c) for c in range(1, num_classes + 1)], axis=1)
    top, index = tf.math.top_k(cand, k)
    boxes = tf.gather(boxes, index, batch_dims=1)
    counts = [tf.cast(p[3], tf.int32) for p in parts]  # int32: the int8 converter leaves it exact
    count = tf.minimum(tf.add_n(counts), k)
    classes = tf.gather(ids, index, batch_dims=1)
    num = tf.cast(count, tf.float32)
    return tf.clip_by_value(boxes, 0.0, 1.0), exact_class_ids(classes, count), tf.maximum(top, 0.0), num


def exact_class_ids(classes: Any, num: Any, offset: int = 0) -> Any:
    """Class ids as exact float32 integers, ``offset`` added, ``-1`` in the unused slots (as Keras).

    The arithmetic runs on int32 tensors: an int8 converter quantizes every float op it can
    (a ``classes + 1.0`` became 2.98 for class 3 after its QUANTIZE / DEQUANTIZE pair), but it
    leaves integer tensors alone, so the ids leave the file exact.

    Example:
        >>> exact_class_ids(tf.constant([[0.0, 2.0, 0.0]]), tf.constant([2.0]), offset=1)
        # -> [[1., 3., -1.]]
    """
    import tensorflow as tf

    # Cast first: float ops (round, reshape) on the way would be quantized too.
    ids = tf.cast(classes, tf.int32) + offset
    count = num if num.dtype == tf.int32 else tf.cast(num, tf.int32)
    slots = tf.range(tf.shape(ids)[-1], dtype=tf.int32)[None, :]
    used = slots < tf.reshape(count, [-1, 1])
    return tf.cast(tf.where(used, ids, -tf.ones_like(ids)), tf.float32)


def serving_function(
    model: keras.Model,
    spec: ExportSpec,
    *,
    fold_preprocessing: bool = False,
    source_size: tuple[int, int] | None = None,
    detection_postprocess: str | None = None,
) -> tuple[Callable[[Any], Any], Any]:
    """The ``tf.function`` body that is converted, and its input ``tf.TensorSpec``.

    Args:
        fold_preprocessing: feed uint8 RGB; cast, (resize) and preprocess inside the graph.
        source_size: with folding, the (H, W) of the uint8 input if it differs from the
            model's; the graph resizes bilinearly.
        detection_postprocess: ``"graph"`` or ``"tflite_op"`` (default: ``spec``'s).

    Example:
        >>> fn, sig = serving_function(model, spec, fold_preprocessing=True)
    """
    import tensorflow as tf

    h, w = spec.input_size
    in_h, in_w = source_size if (fold_preprocessing and source_size) else (h, w)
    dtype = tf.uint8 if fold_preprocessing else tf.float32
    # Folded: the app always feeds RGB; a 1-channel model gets the grey image made in the graph.
    channels = 3 if fold_preprocessing else spec.channels
    signature = tf.TensorSpec([1, in_h, in_w, channels], dtype, name="image")
    post = detection_postprocess or spec.detection_postprocess

    def fn(image):
        x = image
        if fold_preprocessing:
            x = tf.cast(x, tf.float32)
            if (in_h, in_w) != (h, w):
                x = tf.image.resize(x, (h, w), method="bilinear")
            if spec.channels == 1:
                x = tf.image.rgb_to_grayscale(x)
            x = preprocess_input(x, spec.preprocess)
        if spec.task == "detection":
            if post == "tflite_op":
                return _tflite_detection_postprocess(model, model(x, training=False), spec)
            d = _detections(model, x, spec.detection_options)
            yxyx = convert_format(d["boxes"], "xyxy", "rel_yxyx", height=h, width=w)
            yxyx = tf.clip_by_value(yxyx, 0.0, 1.0)
            num = tf.cast(tf.reshape(d["num_detections"], [-1]), tf.float32)
            classes = exact_class_ids(tf.cast(d["classes"], tf.float32), num)
            scores = tf.cast(d["scores"], tf.float32)
            if "mask_probs" in d:  # the FPN Mask R-CNN: [1, K, M, M] masks in each box's frame, 0 past num
                return yxyx, classes, scores, num, tf.cast(d["mask_probs"], tf.float32)
            return yxyx, classes, scores, num
        out = model(x, training=False)
        if isinstance(out, (list, tuple, dict)):
            raise ExportError(
                f"{spec.task} model {model.name} must have a single output, got {type(out).__name__}"
            )
        return tf.cast(out, tf.float32)

    return fn, signature
