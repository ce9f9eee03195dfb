"""OverFeat's efficient sliding window (Sermanet et al., ICLR 2014): fully connected layers as convolutions.

A classifier trained on W x W windows ends with Flatten + Dense layers over an h x w x c feature map.
``convolutionalize`` rewrites the first Dense as an h x w convolution over that map and every later
Dense as a 1 x 1 convolution (same weights, reshaped), so the network takes images of any size and
returns a grid of class scores in one pass: score-map cell (i, j) is the classifier's answer for the
window whose top-left corner is (j * stride, i * stride), where ``stride`` is the product of the
body's strides (32 for AlexNet and VGG16). The material's example: a 221 px network gives 1 x 1
scores and a 257 px image 2 x 2 (OverFeat's stride 36); for the zoo's AlexNet/VGG16 at 224 px a
256 px image gives 2 x 2.

Exactness: the cell equals the classifier head applied to the window of the shared feature map
(exact); it equals the classifier run on the cropped window exactly when the body does not pad
(zero padding sees different neighbours in the crop than in the full image). The zoo's AlexNet and
VGG16 pad, so their crop scores agree only approximately; ``tests/test_overfeat.py`` checks both.

``sliding_window_detect`` runs a convolutionalized classifier with a box-regression head at several
scales, turns every score-map cell into a scored box, and merges them with the shared per-class NMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.ops.nms import batched_nms

_SKIP_AT_INFERENCE = (keras.layers.Dropout, keras.layers.InputLayer)


def _chain(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers in order, checking that each layer up to the first Flatten feeds only the
    next (a plain chain body); after the Flatten the top may branch (several heads)."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    previous = model.inputs[0]
    for layer in layers:
        if layer.input is not previous and not (
            isinstance(layer.input, list) and len(layer.input) == 1 and layer.input[0] is previous
        ):
            raise ValueError(
                f"convolutionalize needs a plain chain of layers up to the Flatten (AlexNet, VGG, a Sequential "
                f"model); {model.name!r} branches at layer {layer.name!r}. Build the score head on the body's "
                "feature map instead."
            )
        previous = layer.output
        if isinstance(layer, keras.layers.Flatten):
            break
    return layers


def _dense_as_conv(dense: keras.layers.Dense, kernel_hw: tuple[int, int], channels: int, name: str) -> Any:
    kernel, *bias = dense.get_weights()
    conv = keras.layers.Conv2D(
        dense.units,
        kernel_hw,
        activation=dense.activation,
        use_bias=dense.use_bias,
        name=name,
    )
    conv.build((None, None, None, channels))
    conv.set_weights([kernel.reshape(*kernel_hw, channels, dense.units), *bias])
    return conv


def convolutionalize(model: keras.Model, channels: int | None = None) -> keras.Model:
    """A fully convolutional copy of a classifier: Flatten + Dense -> k x k conv, then 1 x 1 convs.

    The body's layers are shared (same weight objects); the new convolutions hold reshaped copies of
    the Dense weights. The top after the Flatten may branch into several heads (the two-output
    ``zoo.localization.build_localizer`` localizer: class scores and box); the result then has the
    same output structure (e.g. ``{"class": [B, H', W', K], "box": [B, H', W', 4]}``). Dropout is dropped (inference). An ``AdaptiveAvgPool2D`` before the flatten
    (torchvision's AlexNet) is kept out only where it is the identity at the model's input size
    (a 224 px AlexNet has a 6 x 6 map already). The result accepts images of any size at least the
    original input and outputs [B, H', W', units] score maps (softmax over the last axis as the
    original).

    Args:
        model: a classifier built with a fixed input size whose layers form a chain up to a
            Flatten followed by Dense layers (a chain or several heads) (``zoo.get("alexnet")``, ``zoo.get("vgg16")``, a Sequential).
        channels: input channels of the new model (default: the classifier's).

    Returns:
        The fully convolutional ``keras.Model``; ``model.overfeat_stride`` and
        ``model.overfeat_window`` (the original input's (height, width)) are set on it.

    Raises:
        ValueError: no Flatten + Dense top, a branching model, a non-identity adaptive pooling.

    Example:
        >>> net = convolutionalize(zoo.get("alexnet", classes=10, input_shape=(224, 224, 3)))
        >>> net(np.zeros((1, 256, 256, 3))).shape
        TensorShape([1, 2, 2, 10])
    """
    from zoo.layers import AdaptiveAvgPool2D

    layers = _chain(model)
    flat = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Flatten)]
    if not flat:
        raise ValueError(
            f"{model.name!r} has no Flatten layer; convolutionalize needs a Flatten + Dense classifier top"
        )
    f = flat[0]
    body, top = layers[:f], layers[f + 1 :]
    if not any(isinstance(layer, keras.layers.Dense) for layer in top):
        raise ValueError(f"{model.name!r} has no Dense layer after its Flatten")
    window = tuple(int(v) for v in model.input_shape[1:3])
    c = int(channels or model.input_shape[-1])
    image = keras.Input((None, None, c), name="image")
    x = image
    stride = 1
    for layer in body:
        if isinstance(layer, AdaptiveAvgPool2D):
            if tuple(layer.input.shape[1:3]) != tuple(layer.output.shape[1:3]):
                raise ValueError(
                    f"{model.name!r}: adaptive pooling {layer.name!r} maps {tuple(layer.input.shape[1:3])} to "
                    f"{tuple(layer.output.shape[1:3])}; it is no sliding window. Build the classifier at an input "
                    "size where it is the identity (AlexNet: 224 px)."
                )
            continue
        if isinstance(layer, _SKIP_AT_INFERENCE):
            continue
        s = getattr(layer, "strides", 1)
        stride *= int(s[0] if isinstance(s, (tuple, list)) else s)
        x = layer(x)
    fh, fw, fc = (int(v) for v in layers[f].input.shape[1:])
    # tensor of the original top (by id) -> (its convolutional counterpart, kernel of the next Dense, channels)
    mapped: dict[int, tuple[Any, tuple[int, int], int]] = {id(layers[f].output): (x, (fh, fw), fc)}
    for layer in top:
        inp = layer.input[0] if isinstance(layer.input, list) and len(layer.input) == 1 else layer.input
        if id(inp) not in mapped:
            raise ValueError(
                f"convolutionalize: top layer {layer.name!r} of {model.name!r} does not read the Flatten's "
                "branch (one input per layer, each from the Flatten or from a converted layer)"
            )
        y, kernel_hw, channels_in = mapped[id(inp)]
        if isinstance(layer, keras.layers.Dense):
            y = _dense_as_conv(layer, kernel_hw, channels_in, f"{layer.name}_conv")(y)
            kernel_hw, channels_in = (1, 1), layer.units
        elif isinstance(layer, keras.layers.Activation):
            y = layer(y)
        elif not isinstance(layer, _SKIP_AT_INFERENCE):
            raise ValueError(
                f"convolutionalize cannot convert layer {layer.name!r} ({type(layer).__name__}) of the top"
            )
        mapped[id(layer.output)] = (y, kernel_hw, channels_in)
    outputs = model.outputs[0] if isinstance(model, keras.Sequential) else model.output
    x = keras.tree.map_structure(lambda t: mapped[id(t)][0], outputs)
    net = keras.Model(image, x, name=f"{model.name}_convolutional")
    net.overfeat_stride = stride
    net.overfeat_window = window
    return net


def window_boxes(map_size: tuple[int, int], stride: int, window: tuple[int, int]) -> np.ndarray:
    """xyxy pixel boxes [H' * W', 4] of the windows behind a score map (row-major cells).

    Example:
        >>> window_boxes((2, 2), 32, (224, 224))[3]
        array([ 32.,  32., 256., 256.], dtype=float32)
    """
    rows, cols = np.meshgrid(np.arange(map_size[0]), np.arange(map_size[1]), indexing="ij")
    x1, y1 = cols.reshape(-1) * stride, rows.reshape(-1) * stride
    return np.stack([x1, y1, x1 + window[1], y1 + window[0]], axis=-1).astype("float32")


def sliding_window_detect(
    net: keras.Model,
    images: np.ndarray,
    scales: Sequence[float] = (1.0,),
    *,
    score_threshold: float = 0.3,
    iou_threshold: float = 0.3,
    max_detections: int = 20,
) -> dict[str, np.ndarray]:
    """OverFeat-style multi-scale detection with a convolutionalized classifier + box regressor.

    ``net`` maps an image to ``{"class": [B, H', W', K] (softmax, class 0 = background),
    "box": [B, H', W', 4]}`` where the boxes are (x1, y1, x2, y2) relative to the cell's window
    (0..1): ``convolutionalize`` applied to a ``zoo.localization.build_localizer`` two-head
    classifier trained on windows (``train_window_localizer``). At each
    scale the image is resized by that factor, every cell gives a box (its window's regressed box)
    scored by the classes, and all scales are merged with the per-class NMS of ``zoo.ops.nms``.

    Args:
        net: the fully convolutional two-output network (``overfeat_stride``, ``overfeat_window``).
        images: [B, H, W, 3] RGB 0..255.
        scales: resize factors (each must leave at least one window).
        score_threshold, iou_threshold, max_detections: merging settings.

    Returns:
        The zoo detections dict (xyxy pixels of ``images``).

    Example:
        >>> dets = sliding_window_detect(net, images, scales=(1.0, 1.5, 2.0))
    """
    images = np.asarray(images, dtype="float32")
    h, w = images.shape[1:3]
    stride, window = net.overfeat_stride, net.overfeat_window
    all_boxes, all_scores = [], []
    for scale in scales:
        sh, sw = int(round(h * scale)), int(round(w * scale))
        if sh < window[0] or sw < window[1]:
            raise ValueError(f"scale {scale} makes the {h}x{w} images smaller than the {window} window")
        scaled = images if (sh, sw) == (h, w) else ops.image.resize(images, (sh, sw))
        out = net(scaled, training=False)
        scores = np.asarray(ops.convert_to_numpy(out["class"]))
        rel = np.asarray(ops.convert_to_numpy(out["box"]))
        mh, mw = scores.shape[1:3]
        win = window_boxes((mh, mw), stride, window)  # scaled pixels
        size = np.concatenate([win[:, 2:] - win[:, :2]] * 2, axis=-1)
        boxes = np.concatenate([win[:, :2]] * 2, axis=-1) + rel.reshape(len(rel), -1, 4) * size
        all_boxes.append(boxes / scale)
        all_scores.append(scores.reshape(len(scores), mh * mw, -1))
    boxes = np.concatenate(all_boxes, axis=1)
    scores = np.concatenate(all_scores, axis=1)
    boxes[..., 0::2] = np.clip(boxes[..., 0::2], 0, w)
    boxes[..., 1::2] = np.clip(boxes[..., 1::2], 0, h)
    dets = batched_nms(
        boxes,
        scores,
        max_detections=max_detections,
        iou_threshold=iou_threshold,
        score_threshold=score_threshold,
        pre_nms_top_k=None,
        background_class=0,
    )
    return {k: np.asarray(ops.convert_to_numpy(v)) for k, v in dets.items()}


def window_examples(
    images: np.ndarray,
    boxes: Sequence[np.ndarray],
    classes: Sequence[np.ndarray],
    window: int,
    stride: int,
    scales: Sequence[float],
    *,
    seed: int = 0,
    center_tolerance: float | None = None,
    size_range: tuple[float, float] = (0.3, 0.8),
    min_visible: float = 0.7,
    background_ratio: float = 1.5,
) -> dict[str, np.ndarray]:
    """Training windows as the detector meets them: every ``stride``-spaced window of each image
    resized by each scale (a random grid origin per image and scale), labelled by the objects.

    A window is an object's (class k, box relative to the window) when the object's centre lies
    within ``center_tolerance`` px (default 0.625 x stride) of the window's centre on both axes, its
    longer side is ``size_range`` x ``window`` in the resized image (the right scale) and at least
    ``min_visible`` of its box lies inside the window. A window that is no positive but has an object
    centre within stride / 2 + tolerance of its centre at a size near the range (0.6 x its lower to
    1.25 x its upper bound) is left out (ambiguous: a little off-centre or off-scale); every other
    window is background (class 0; objects far off-centre or at a clearly wrong scale included), of
    which ``background_ratio`` x the positives are kept at random.

    Args:
        images: [N, H, W, 3] RGB 0..255.
        boxes, classes: per image [n_i, 4] xyxy pixels and [n_i] class ids >= 1.
        window, stride: the classifier's input side and the body's stride (``convolutionalize``).
        scales: image resize factors (those of ``sliding_window_detect``).

    Returns:
        dict(windows uint8 [M, window, window, 3], classes int32 [M] (0 = background), boxes float32
        [M, 4] xyxy relative to the window (0 for background), has_box bool [M]).

    Raises:
        ValueError: a scale that leaves no window, no object window at all, mismatched lengths.
    """
    if not (len(images) == len(boxes) == len(classes)):
        raise ValueError(
            f"images, boxes and classes differ in length: {len(images)}, {len(boxes)}, {len(classes)}"
        )
    tol = 0.625 * stride if center_tolerance is None else float(center_tolerance)
    rng = np.random.default_rng(seed)
    h, w = np.asarray(images).shape[1:3]
    crops, labels, rel, positive = [], [], [], []
    for scale in scales:
        sh, sw = int(round(h * scale)), int(round(w * scale))
        if min(sh, sw) < window:
            raise ValueError(f"scale {scale} makes the {h}x{w} images smaller than the {window} px window")
        for start in range(0, len(images), 64):
            chunk = np.asarray(images[start : start + 64], "float32")
            scaled = (
                chunk
                if (sh, sw) == (h, w)
                else np.asarray(ops.convert_to_numpy(ops.image.resize(chunk, (sh, sw))))
            )
            for k, img in enumerate(scaled):
                b = np.asarray(boxes[start + k], "float32").reshape(-1, 4) * scale
                c = np.asarray(classes[start + k]).reshape(-1)
                centre = (b[:, :2] + b[:, 2:]) / 2
                side = np.max(b[:, 2:] - b[:, :2], axis=1)
                near = (side >= 0.6 * size_range[0] * window) & (side <= 1.25 * size_range[1] * window)
                ox, oy = (int(v) for v in rng.integers(0, stride, 2))
                for y0 in range(min(oy, sh - window), sh - window + 1, stride):
                    for x0 in range(min(ox, sw - window), sw - window + 1, stride):
                        off = np.abs(centre - (np.array([x0, y0]) + window / 2))
                        inner = np.clip(
                            np.minimum(b[:, 2:], [x0 + window, y0 + window]) - np.maximum(b[:, :2], [x0, y0]),
                            0,
                            None,
                        )
                        visible = np.prod(inner, 1) / np.maximum(np.prod(b[:, 2:] - b[:, :2], 1), 1e-6)
                        good = (np.all(off <= tol, 1) & (side >= size_range[0] * window)
                                & (side <= size_range[1] * window) & (visible >= min_visible))  # fmt: skip
                        crop = img[y0 : y0 + window, x0 : x0 + window]
                        if good.any():
                            j = int(np.argmin(np.where(good, off.sum(1), np.inf)))
                            crops.append(crop)
                            labels.append(int(c[j]))
                            rel.append(np.clip((b[j] - [x0, y0, x0, y0]) / window, 0, 1))
                            positive.append(True)
                        elif not np.any(near & np.all(off <= stride / 2 + tol, 1)):
                            crops.append(crop)
                            labels.append(0)
                            rel.append(np.zeros(4, "float32"))
                            positive.append(False)
    if not any(positive):
        raise ValueError(
            f"no window holds an object at these scales {list(scales)}: objects must be {size_range} x the "
            f"{window} px window in the resized images; choose scales that bring the objects to that size"
        )
    positive_arr = np.asarray(positive, bool)
    background = np.flatnonzero(~positive_arr)
    keep_bg = rng.permutation(background)[: int(background_ratio * max(int(positive_arr.sum()), 1))]
    keep = np.sort(np.concatenate([np.flatnonzero(positive_arr), keep_bg]))
    return {
        "windows": np.clip(np.stack([crops[i] for i in keep]), 0, 255).round().astype("uint8"),
        "classes": np.asarray(labels, "int32")[keep],
        "boxes": np.asarray(rel, "float32")[keep],
        "has_box": positive_arr[keep],
    }


def run_overfeat_experiment(
    workdir: Any,
    *,
    window: int = 48,
    body: str = "vgg11_bn",
    width: float = 0.125,
    image_size: int = 112,
    train_images: int = 800,
    val_images: int = 96,
    scales: Sequence[float] = (0.7, 1.0, 1.4),
    attach: str = "fc",
    class_epochs: int = 5,
    box_epochs: int = 10,
    batch_size: int = 32,
    class_lr: float = 1e-3,
    box_lr: float = 0.05,
    fc_units: int = 256,
    score_threshold: float = 0.01,
    iou_threshold: float = 0.3,
    max_detections: int = 50,
    seed: int = 0,
    verbose: int | str = 2,
) -> dict:
    """OverFeat on shapes (``recipes/overfeat.py``): a window localizer, convolutionalized, run at several scales.

    1. ``window_examples`` from ``train_images`` shapes images (``zoo.data.shapes``, seed ``seed``):
       windows of ``window`` px of the images resized by ``scales``, object or background.
    2. ``zoo.localization``: ``classifier_body(body, window, width, last_pool=False)`` (stride 16),
       ``build_localizer`` with background + 3 classes, ``train_two_phase`` (the box phase on the
       object windows only), resumable in ``workdir/windows``.
    3. ``convolutionalize`` + ``sliding_window_detect`` on the held-out images (the detector
       recipe's validation images: seed ``seed`` + 1_000_003), mAP@0.5 with the shared
       ``zoo.metrics.detection.DetectionEvaluator``, seconds per image.

    Writes ``report.json`` and ``detections.png`` (held-out images, dashed ground truth) in ``workdir``.

    Returns:
        The report: config, window counts, held-out window accuracy, mAP (VOC all-point, VOC07, COCO),
        per-class AP, detection seconds per image.
    """
    import time
    from pathlib import Path

    from zoo.data.shapes import CLASS_NAMES, generate_shapes_example, shapes_dataset
    from zoo.detection.visualize import save_detections_png
    from zoo.localization import build_localizer, classifier_body, train_two_phase
    from zoo.metrics.detection import DetectionEvaluator
    from zoo.utils.io import atomic_write_json

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in locals().items() if k in (
        "window", "body", "width", "image_size", "train_images", "val_images", "scales", "attach",
        "class_epochs", "box_epochs", "batch_size", "class_lr", "box_lr", "fc_units", "score_threshold",
        "iou_threshold", "max_detections", "seed")}  # fmt: skip
    keras.utils.set_random_seed(seed)
    net_body = classifier_body(body, window, width, last_pool=False)
    classifier, localizer = build_localizer(net_body, len(CLASS_NAMES), attach=attach, fc_units=fc_units)
    stride = convolutionalize(classifier).overfeat_stride

    def windows_of(first: int, n: int, data_seed: int) -> dict[str, np.ndarray]:
        ex = [
            generate_shapes_example(np.random.default_rng([data_seed, first + i]), image_size)
            for i in range(n)
        ]
        return window_examples(
            np.stack([e["image"] for e in ex]), [e["boxes"] for e in ex], [e["classes"] for e in ex],
            window, stride, scales, seed=data_seed,
        )  # fmt: skip

    start = time.time()
    train = windows_of(0, train_images, seed)
    held = windows_of(0, max(val_images // 2, 1), seed + 3_000_017)
    if verbose:
        print(f"{len(train['classes'])} training windows ({int(train['has_box'].sum())} with an object), "
              f"{time.time() - start:.0f} s", flush=True)  # fmt: skip
    history = train_two_phase(
        classifier, localizer, train["windows"].astype("float32"), train["classes"], train["boxes"],
        class_epochs=class_epochs, box_epochs=box_epochs, batch_size=batch_size, class_lr=class_lr,
        box_lr=box_lr, verbose=verbose, workdir=workdir / "windows", box_mask=train["has_box"],
    )  # fmt: skip
    out = localizer.predict(held["windows"].astype("float32"), verbose=0)
    window_acc = float(np.mean(np.argmax(out["class"], -1) == held["classes"]))
    net = convolutionalize(localizer)
    evaluator = DetectionEvaluator(len(CLASS_NAMES), class_names=list(CLASS_NAMES))
    val = shapes_dataset(num_images=val_images, image_size=image_size, seed=seed + 1_000_003, batch_size=8)
    seconds, first = 0.0, None
    for images, targets in val:
        images = np.asarray(images)
        t0 = time.perf_counter()
        dets = sliding_window_detect(
            net, images, scales, score_threshold=score_threshold, iou_threshold=iou_threshold,
            max_detections=max_detections,
        )  # fmt: skip
        seconds += time.perf_counter() - t0
        targets = {k: np.asarray(v) for k, v in targets.items()}
        evaluator.update(dets, targets)
        if first is None:
            first = (images, dets, targets)
    metrics = evaluator.result()
    images, dets, targets = first
    png = save_detections_png(
        images, dets, workdir / "detections.png", class_names=CLASS_NAMES, ground_truth=targets,
        score_threshold=0.3, title=f"OverFeat sliding windows, scales {list(scales)} (score >= 0.3; dashed: truth)",
    )  # fmt: skip
    report = {
        "config": config,
        "backend": keras.backend.backend(),
        "stride": int(stride),
        "num_params": int(localizer.count_params()),
        "train_windows": int(len(train["classes"])),
        "train_windows_with_object": int(train["has_box"].sum()),
        "heldout_window_accuracy": window_acc,
        "voc_map": float(metrics["voc_map"]),
        "voc07_map": float(metrics["voc07_map"]),
        "coco_map": float(metrics["coco_map"]),
        "per_class_voc_ap": {k: float(v["voc_ap"]) for k, v in metrics["per_class"].items()},
        "detect_seconds_per_image": seconds / max(int(metrics["num_images"]), 1),
        "history": history,
        "png": str(png),
        "seconds_this_run": round(time.time() - start, 1),
    }
    atomic_write_json(workdir / "report.json", report)
    if verbose:
        print(
            {
                k: report[k]
                for k in ("heldout_window_accuracy", "voc_map", "voc07_map", "detect_seconds_per_image")
            }
        )
    return report
