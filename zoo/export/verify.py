"""Checks a .tflite export against its Keras model and times it with the LiteRT interpreter.

The Keras side runs the same serving function that was converted (same preprocessing and
output format), eagerly, on the same images. Agreement:

* float exports (``none``, ``float16``, ``dynamic``): max abs error over all outputs (for
  detectors: over the matched detections' boxes and scores, normalised coordinates);
* classifiers: top-1 agreement (share of images whose arg-max class is the same);
* detectors (the interpreter at ONE thread, see docs/litert_postprocess_threads.md): detections
  matched by class and IoU, the share of exact integer class ids, and mAP@0.5 of the LiteRT
  detections scored against the Keras detections as ground truth (with a ``mask_probs`` output:
  the matched detections' mask differences and mask IoU); then whether 2 threads give the same
  outputs;
* segmenters: mIoU of the LiteRT per-pixel class map against the Keras one
  (``zoo.metrics.segmentation``) and pixel agreement.

Latency: ``ai_edge_litert.interpreter.Interpreter`` (XNNPACK, the default delegate) with 1 and 2
threads, 2 warm-up runs excluded, median and p90 of ``runs`` timed runs.

Example:
    >>> report = verify_export(model, spec, "m.tflite", ConvertOptions(quantize="int8"))
    >>> print(report.table())
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.export.conversion import ConvertOptions
from zoo.export.graph import serving_function
from zoo.export.representative import load_images, resize_images
from zoo.export.runtime import TFLiteRunner, describe, latency
from zoo.export.spec import ExportSpec, model_input
from zoo.ops.boxes import box_iou, convert_format


@dataclass
class VerifyReport:
    """Result of :func:`verify_export`; ``table()`` renders it, ``to_dict()`` for JSON."""

    path: str
    size_bytes: int
    quantize: str
    task: str
    inputs: list[str]
    outputs: list[str]
    num_images: int
    image_source: str
    metrics: dict[str, float] = field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def table(self) -> str:
        rows = [
            ("file", self.path),
            ("size", f"{self.size_bytes / 2**20:.2f} MiB ({self.size_bytes} bytes)"),
            ("quantize", self.quantize),
            ("task", self.task),
        ]
        rows += [("input", s) for s in self.inputs]
        rows += [(f"output {i}", s) for i, s in enumerate(self.outputs)]
        rows.append(("compared on", f"{self.num_images} images ({self.image_source})"))
        for k, v in self.metrics.items():
            rows.append((k, f"{v:.6g}" if isinstance(v, float) else str(v)))
        for threads, lat in self.latency_ms.items():
            rows.append((f"latency {threads}", f"median {lat['median']:.2f} ms, p90 {lat['p90']:.2f} ms"))
        width = max(len(k) for k, _ in rows)
        line = "-" * (width + 3 + max(len(v) for _, v in rows))
        return "\n".join([line] + [f"{k:<{width}} | {v}" for k, v in rows] + [line])


def _xyxy(yxyx: np.ndarray) -> np.ndarray:
    return np.asarray(convert_format(yxyx, "yxyx", "xyxy"), np.float32)


def integer_ids(classes: np.ndarray) -> np.ndarray:
    """Class ids as int64; a value that is not an integer (2.98 from a quantized id) becomes -1.

    Never truncated: MediaPipe truncates 2.98 to class 2, a wrong label, so it counts as wrong.

    Example:
        >>> integer_ids(np.array([1.0, 2.98, 3.0]))
        array([ 1, -1,  3])
    """
    c = np.asarray(classes, np.float64)
    return np.where(np.abs(c - np.rint(c)) < 1e-6, np.rint(c), -1).astype(np.int64)


def match_detections(
    ref_boxes: np.ndarray,
    ref_classes: np.ndarray,
    test_boxes: np.ndarray,
    test_classes: np.ndarray,
    iou_threshold: float = 0.5,
) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of reference and test detections of the same class with IoU >= threshold.

    Greedy by IoU (highest first), each detection in at most one pair; boxes in any one corner
    format (both the same), classes compared with :func:`integer_ids`.

    Example:
        >>> match_detections(np.array([[0, 0, 1, 1.]]), np.array([2]), np.array([[0, 0, 1, .9]]), np.array([2]))
        [(0, 0)]
    """
    if len(ref_boxes) == 0 or len(test_boxes) == 0:
        return []
    iou = np.asarray(box_iou(np.asarray(ref_boxes, np.float32), np.asarray(test_boxes, np.float32)))
    same = integer_ids(ref_classes)[:, None] == integer_ids(test_classes)[None, :]
    iou = np.where(same & (integer_ids(ref_classes)[:, None] >= 0), iou, -1.0)
    pairs = []
    for flat in np.argsort(-iou, axis=None):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < iou_threshold:
            break
        if all(i != a and j != b for a, b in pairs):
            pairs.append((int(i), int(j)))
    return pairs


def _detection_metrics(ref: list[np.ndarray], test: list[np.ndarray]) -> dict[str, float]:
    """Matched-detection agreement of the four export outputs (see :func:`compare_outputs`), and of
    the fifth, ``mask_probs`` [N, K, M, M], where both have it: the largest difference of the matched
    detections' mask probabilities and the mean IoU of their masks binarised at 0.5."""
    matched = total = 0
    errs = [0.0]
    mask_errs, mask_ious = [0.0], []
    masks = len(ref) > 4 and len(test) > 4
    used = []
    for i in range(len(ref[3])):
        nr, nt = int(ref[3][i]), int(test[3][i])
        used.append(test[1][i, :nt])
        pairs = match_detections(ref[0][i, :nr], ref[1][i, :nr], test[0][i, :nt], test[1][i, :nt])
        matched += 2 * len(pairs)
        total += nr + nt
        for a, b in pairs:
            errs.append(float(np.abs(ref[0][i, a] - test[0][i, b]).max()))
            errs.append(float(abs(ref[2][i, a] - test[2][i, b])))
            if masks:
                mask_errs.append(float(np.abs(ref[4][i, a] - test[4][i, b]).max()))
                r, t = ref[4][i, a] >= 0.5, test[4][i, b] >= 0.5
                union = np.logical_or(r, t).sum()
                mask_ious.append(float(np.logical_and(r, t).sum() / union) if union else 1.0)
    ids = np.concatenate(used) if used else np.zeros(0)
    out = {
        "max abs error (boxes, scores)": max(errs),
        "detections matched (class, IoU>=0.5)": float(matched / total) if total else 1.0,
        "class ids exact": float(np.mean(integer_ids(ids) >= 0)) if len(ids) else 1.0,
        "num detections equal": float(np.mean(ref[3] == test[3])),
        "mAP@0.5 agreement": detection_map(ref, test),
    }
    if masks:
        out["max abs error (mask_probs, matched)"] = max(mask_errs)
        out["mask IoU at 0.5 (matched)"] = float(np.mean(mask_ious)) if mask_ious else 1.0
    return out


def detection_map(ref: list[np.ndarray], test: list[np.ndarray], iou_threshold: float = 0.5) -> float:
    """mAP@``iou_threshold`` of ``test`` detections against ``ref`` detections taken as ground truth.

    Both are the four export outputs (boxes [N, K, 4] normalised yxyx, classes [N, K],
    scores [N, K], num [N]). VOC all-point AP (the zoo's :class:`DetectionEvaluator`) per class
    present in ``ref``, averaged; NaN when ``ref`` has no detection at all.
    """
    from zoo.metrics.detection import DetectionEvaluator

    boxes_r, cls_r, _, num_r = ref[:4]
    boxes_t, cls_t, sc_t, num_t = test[:4]
    counts_r, counts_t = [int(n) for n in num_r], [int(n) for n in num_t]
    ids = [cls_r[i, :n] for i, n in enumerate(counts_r)] + [cls_t[i, :n] for i, n in enumerate(counts_t)]
    num_classes = int(max((int(np.max(integer_ids(c))) for c in ids if len(c)), default=0)) + 1
    ev = DetectionEvaluator(num_classes, background_class=None, voc_iou=iou_threshold)
    for i, (nr, nt) in enumerate(zip(counts_r, counts_t)):
        ev.add_image(
            det_boxes=_xyxy(boxes_t[i, :nt]),
            det_scores=sc_t[i, :nt],
            det_classes=integer_ids(cls_t[i, :nt]),
            gt_boxes=_xyxy(boxes_r[i, :nr]),
            gt_classes=integer_ids(cls_r[i, :nr]),
        )
    return float(ev.result()["voc_map"])


def _segmentation_metrics(ref: np.ndarray, test: np.ndarray) -> dict[str, float]:
    from zoo.metrics.segmentation import confusion_matrix, mean_iou

    c = ref.shape[-1]
    cm = confusion_matrix(np.argmax(ref, -1), np.argmax(test, -1), num_classes=c)
    return {
        "mIoU agreement": float(mean_iou(cm)),
        "pixel agreement": float(np.trace(cm) / max(cm.sum(), 1)),
    }


def compare_outputs(
    task: str, ref: list[np.ndarray], test: list[np.ndarray], quantize: str
) -> dict[str, float]:
    """Agreement metrics of ``test`` (LiteRT) against ``ref`` (Keras) outputs for ``task``.

    Detectors are compared detection by detection, not slot by slot: a LiteRT detection agrees
    with a Keras one of the same (exactly integer) class whose box overlaps it with IoU >= 0.5;
    "detections matched" is 2 * pairs / (Keras + LiteRT detections), the errors are over pairs.
    """
    m: dict[str, float] = {}
    if task == "detection":
        return _detection_metrics(ref, test)
    m["max abs error"] = float(max(np.abs(r - t).max() for r, t in zip(ref, test)))
    if task == "classification":
        m["top-1 agreement"] = float(np.mean(np.argmax(ref[0], -1) == np.argmax(test[0], -1)))
    else:
        m.update(_segmentation_metrics(ref[0], test[0]))
    return m


@dataclass
class VerifyOptions:
    """How an export is checked against its Keras model.

    Attributes:
        images: image source (see :func:`zoo.export.representative.load_images`).
        num_images: N images compared.
        latency_runs: timed interpreter runs per thread count (0 skips timing).
        threads: thread counts to time.
        resize: how the photos are stretched to the model size for Keras and LiteRT:
            ``"mediapipe"`` (non-antialiased bilinear, what MediaPipe Tasks does; the default for
            files with metadata) or ``"pil"`` (antialiased); None picks by metadata.
        mediapipe: also run the file with MediaPipe Tasks (ImageClassifier / ObjectDetector /
            ImageSegmenter) on the photos at twice the model size, letting MediaPipe resize them,
            and compare with Keras; None: when the file has metadata and mediapipe imports.

    Example:
        >>> VerifyOptions(images="synthetic", num_images=8, latency_runs=0)
    """

    images: Any = "photos"
    num_images: int = 20
    latency_runs: int = 10
    threads: tuple[int, ...] = (1, 2)
    resize: str | None = None
    mediapipe: bool | None = None


def verify_export(
    model: Any,
    spec: ExportSpec,
    tflite: str | os.PathLike,
    options: ConvertOptions,
    check: VerifyOptions | None = None,
) -> VerifyReport:
    """Compares ``tflite`` with ``model`` on ``check.num_images`` images and times it.

    Args:
        model: the Keras model that was exported; spec: its ``ExportSpec``.
        tflite: the exported file.
        options: the conversion settings it was exported with.
        check: images and timing (defaults of :class:`VerifyOptions`).

    Example:
        >>> print(verify_export(model, spec, "m.tflite", ConvertOptions(quantize="none")).table())
    """
    import tensorflow as tf

    check = check or VerifyOptions()
    tflite = Path(tflite)
    resize = check.resize or ("mediapipe" if options.with_metadata else "pil")
    use_mp = check.mediapipe
    if use_mp is None:
        use_mp = options.with_metadata and _mediapipe_available()
    # Detectors at one thread: LiteRT's detection post-process loses classes with more.
    runner = TFLiteRunner(tflite, num_threads=1 if spec.task == "detection" else 2)
    shape = [int(v) for v in runner.input["shape"]]
    size = (shape[1], shape[2])
    source = (2 * size[0], 2 * size[1]) if resize == "mediapipe" else size
    if isinstance(check.images, np.ndarray) and check.images.ndim == 4:
        source = tuple(check.images.shape[1:3])  # the caller's images as they are
    photos = load_images(check.images, check.num_images, source, seed=1234, data_dir=options.data_dir)
    imgs = resize_images(photos, size, resize)
    xs = imgs if options.fold else model_input(imgs, spec)
    # The reference is the Keras model with the zoo's own post-processing (keras.ops NMS), also
    # when the file uses TFLite_Detection_PostProcess: the comparison checks the op against it.
    fn, _ = serving_function(
        model,
        spec,
        fold_preprocessing=options.fold,
        source_size=options.source_size,
        detection_postprocess="graph",
    )
    ref_per = []
    for x in xs:
        y = fn(tf.convert_to_tensor(x[None]))
        ref_per.append([np.asarray(t, np.float32) for t in (y if isinstance(y, tuple) else (y,))])
    ref = [np.concatenate([p[i] for p in ref_per]) for i in range(len(ref_per[0]))]
    test = runner.run(xs)
    metrics = compare_outputs(spec.task, ref, test, options.quantize)
    if spec.task == "detection":
        two = TFLiteRunner(tflite, num_threads=2).run(xs[:4])
        same = all(np.array_equal(a[:4], b) for a, b in zip(test, two))
        metrics["2 threads give the same outputs"] = float(same)
    if use_mp:
        metrics.update(_mediapipe_metrics(tflite, spec, photos, ref))
    lat = {}
    if check.latency_runs > 0:
        for t in check.threads:
            lat[f"{t} thread{'s' if t > 1 else ''}"] = latency(tflite, xs[:1], t, runs=check.latency_runs)
    src = str(check.images) if not isinstance(check.images, np.ndarray) else "array"
    return VerifyReport(
        path=str(tflite),
        size_bytes=tflite.stat().st_size,
        quantize=options.quantize,
        task=spec.task,
        inputs=[describe(runner.input)],
        outputs=[describe(d) for d in runner.outputs],
        num_images=len(imgs),
        image_source=f"{src}, {resize} resize" + (f" from {source[0]}x{source[1]}" if source != size else ""),
        metrics=metrics,
        latency_ms=lat,
    )


def _mediapipe_available() -> bool:
    try:
        from mediapipe.tasks.python import vision  # noqa: F401
    except ImportError:
        return False
    return True


def _mediapipe_metrics(
    tflite: Path, spec: ExportSpec, photos: np.ndarray, ref: list[np.ndarray]
) -> dict[str, float | str]:
    """MediaPipe Tasks on ``photos`` (it resizes them) against the Keras reference outputs."""
    try:
        outs = mediapipe_outputs(tflite, spec.task, photos, num_slots=ref[0].shape[1])
    except Exception as e:  # noqa: BLE001  (MediaPipe raises RuntimeError / ValueError with its reason)
        return {"MediaPipe": f"does not load the file: {str(e).splitlines()[0][:160]}"}
    if spec.task == "classification":
        return {"MediaPipe top-1 agreement": float(np.mean(np.argmax(ref[0], -1) == np.argmax(outs[0], -1)))}
    if spec.task == "detection":
        m = _detection_metrics(ref, outs)
        return {
            "MediaPipe detections matched": m["detections matched (class, IoU>=0.5)"],
            "MediaPipe mAP@0.5 agreement": m["mAP@0.5 agreement"],
        }
    # MediaPipe's mask has the photo's size: the Keras mask brought there as MediaPipe does it
    keras_mask = mediapipe_category_mask(ref[0], outs[0].shape[1:3])
    return {"MediaPipe pixel agreement": float(np.mean(outs[0] == keras_mask))}


def mediapipe_category_mask(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The category mask MediaPipe's ImageSegmenter (CPU) makes of a segmenter's raw output.

    MediaPipe's ``TensorsToSegmentationCalculator`` interpolates the raw output tensor (before any
    activation) bilinearly to the image size with corners aligned (scale ``(in - 1) / (out - 1)``),
    then takes the argmax per pixel (a one-channel output: 0 where the value is above 0.5, else
    255). Its confidence masks are made differently (softmax first, then ``cv2.resize``, half-pixel
    centres), so the argmax of the confidence masks is not its category mask.

    Args:
        raw: ``[N, h, w, C]`` output of the model (logits or probabilities).
        size: the image's ``(H, W)``.

    Returns:
        ``[N, H, W]`` uint8 class ids.

    Example:
        >>> mediapipe_category_mask(np.random.rand(1, 32, 32, 3), (64, 64)).shape
        (1, 64, 64)
    """
    raw = np.asarray(raw, np.float32)

    def axis(out: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.arange(out) * ((n - 1) / (out - 1) if out > 1 else 0.0)
        lo = np.maximum(np.floor(pos), 0).astype(int)
        hi = np.minimum(np.ceil(pos), n - 1).astype(int)
        return lo, hi, np.clip(pos - lo, 0.0, 1.0).astype(np.float32)

    y0, y1, ty = axis(int(size[0]), raw.shape[1])
    x0, x1, tx = axis(int(size[1]), raw.shape[2])
    rows = raw[:, y0] + (raw[:, y1] - raw[:, y0]) * ty[None, :, None, None]
    full = rows[:, :, x0] + (rows[:, :, x1] - rows[:, :, x0]) * tx[None, None, :, None]
    if full.shape[-1] == 1:
        return np.where(full[..., 0] > 0.5, 0, 255).astype(np.uint8)
    return np.argmax(full, -1).astype(np.uint8)


def mediapipe_outputs(tflite: str | os.PathLike, task: str, photos: np.ndarray, num_slots: int = 100) -> list:
    """Runs ``tflite`` with MediaPipe Tasks on uint8 RGB ``photos``; outputs shaped like the file's.

    Classifier: ``[scores [N, C]]``; detector: the four detection outputs (boxes normalised
    yxyx by the photo size, class ids from the category index, scores, count; a MediaPipe
    detection with several categories, which is how it returns detections of one box, gives one
    detection per category); segmenter:
    ``[category mask [N, H, W]]`` at the photos' size (MediaPipe resizes it).

    Example:
        >>> scores, = mediapipe_outputs("cls.tflite", "classification", photos)
    """
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    base = BaseOptions(model_asset_path=str(tflite))
    images = [mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(p)) for p in photos]
    if task == "classification":
        opts = vision.ImageClassifierOptions(base_options=base, max_results=-1)
        with vision.ImageClassifier.create_from_options(opts) as c:
            results = [c.classify(im).classifications[0].categories for im in images]
        n = max(cat.index for cats in results for cat in cats) + 1
        scores = np.zeros((len(images), n), np.float32)
        for i, cats in enumerate(results):
            for cat in cats:
                scores[i, cat.index] = cat.score
        return [scores]
    if task == "detection":
        opts = vision.ObjectDetectorOptions(base_options=base, score_threshold=0.0, max_results=-1)
        with vision.ObjectDetector.create_from_options(opts) as d:
            labels = _labels(tflite)
            results = [d.detect(im).detections for im in images]
        h, w = photos.shape[1:3]
        boxes = np.zeros((len(images), num_slots, 4), np.float32)
        classes = np.full((len(images), num_slots), -1.0, np.float32)
        scores = np.zeros((len(images), num_slots), np.float32)
        num = np.zeros((len(images),), np.float32)
        for i, dets in enumerate(results):
            # MediaPipe merges detections with identical boxes into one with several categories
            # (two classes found on one anchor): each category is one of the file's detections.
            flat = sorted(
                ((cat, det.bounding_box) for det in dets for cat in det.categories),
                key=lambda cb: -cb[0].score,
            )[:num_slots]
            num[i] = len(flat)
            for k, (cat, b) in enumerate(flat):
                idx = cat.index if cat.index is not None else labels.index(cat.category_name)
                boxes[i, k] = [
                    b.origin_y / h,
                    b.origin_x / w,
                    (b.origin_y + b.height) / h,
                    (b.origin_x + b.width) / w,
                ]
                classes[i, k], scores[i, k] = idx, cat.score
        return [boxes, classes, scores, num]
    opts = vision.ImageSegmenterOptions(base_options=base, output_category_mask=True)
    with vision.ImageSegmenter.create_from_options(opts) as s:
        masks = [
            np.array(s.segment(im).category_mask.numpy_view()).reshape(photos.shape[1:3]) for im in images
        ]
    return [np.stack(masks)]


def _labels(tflite: Path) -> list[str]:
    from zoo.export.metadata import LABEL_FILE, read_associated_files

    text = read_associated_files(Path(tflite).read_bytes()).get(LABEL_FILE, b"").decode("utf-8")
    return [line for line in text.splitlines() if line]
