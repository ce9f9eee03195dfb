"""Checks a .tflite export against its Keras model and times it with the LiteRT interpreter.

The Keras side runs the same serving function that was converted (same preprocessing and
output format), eagerly, on the same images. Agreement:

* float exports (``none``, ``float16``, ``dynamic``): max abs error over all outputs (for
  detectors: over the boxes of the detections both sides keep, in normalised coordinates);
* classifiers: top-1 agreement (share of images whose arg-max class is the same);
* detectors: mAP@0.5 of the LiteRT detections scored against the Keras detections as
  ground truth (1.0 = same boxes and classes; ``zoo.metrics.detection`` when present);
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
from zoo.export.representative import load_images
from zoo.export.runtime import TFLiteRunner, describe, latency
from zoo.export.spec import ExportSpec, model_input
from zoo.ops.boxes import convert_format


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


def detection_map(ref: list[np.ndarray], test: list[np.ndarray], iou_threshold: float = 0.5) -> float:
    """mAP@``iou_threshold`` of ``test`` detections against ``ref`` detections taken as ground truth.

    Both are the four export outputs (boxes [N, K, 4] normalised yxyx, classes [N, K],
    scores [N, K], num [N]). VOC all-point AP (the zoo's :class:`DetectionEvaluator`) per class
    present in ``ref``, averaged; NaN when ``ref`` has no detection at all.
    """
    from zoo.metrics.detection import DetectionEvaluator

    boxes_r, cls_r, _, num_r = ref
    boxes_t, cls_t, sc_t, num_t = test
    counts_r, counts_t = [int(n) for n in num_r], [int(n) for n in num_t]
    ids = [cls_r[i, :n] for i, n in enumerate(counts_r)] + [cls_t[i, :n] for i, n in enumerate(counts_t)]
    num_classes = int(max((int(np.max(c)) for c in ids if len(c)), default=0)) + 1
    ev = DetectionEvaluator(num_classes, background_class=None, voc_iou=iou_threshold)
    for i, (nr, nt) in enumerate(zip(counts_r, counts_t)):
        ev.add_image(
            det_boxes=_xyxy(boxes_t[i, :nt]),
            det_scores=sc_t[i, :nt],
            det_classes=cls_t[i, :nt].astype(np.int64),
            gt_boxes=_xyxy(boxes_r[i, :nr]),
            gt_classes=cls_r[i, :nr].astype(np.int64),
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
    """Agreement metrics of ``test`` (LiteRT) against ``ref`` (Keras) outputs for ``task``."""
    m: dict[str, float] = {}
    if task == "detection":
        n = np.minimum(ref[3], test[3]).astype(int)
        errs = [np.abs(ref[0][i, : n[i]] - test[0][i, : n[i]]).max() for i in range(len(n)) if n[i]]
        errs += [np.abs(ref[2][i, : n[i]] - test[2][i, : n[i]]).max() for i in range(len(n)) if n[i]]
        m["max abs error (boxes, scores)"] = float(max(errs)) if errs else 0.0
        m["num detections equal"] = float(np.mean(ref[3] == test[3]))
        m["mAP@0.5 agreement"] = detection_map(ref, test)
        return m
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

    Example:
        >>> VerifyOptions(images="synthetic", num_images=8, latency_runs=0)
    """

    images: Any = "photos"
    num_images: int = 20
    latency_runs: int = 10
    threads: tuple[int, ...] = (1, 2)


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
    fold_preprocessing, source_size = options.fold, options.source_size
    tflite = Path(tflite)
    runner = TFLiteRunner(tflite)
    shape = [int(v) for v in runner.input["shape"]]
    imgs = load_images(
        check.images, check.num_images, (shape[1], shape[2]), seed=1234, data_dir=options.data_dir
    )
    if fold_preprocessing:
        xs = imgs
    else:
        xs = model_input(imgs, spec)
    # The reference is the Keras model with the zoo's own post-processing (keras.ops NMS), also
    # when the file uses TFLite_Detection_PostProcess: the comparison checks the op against it.
    fn, _ = serving_function(
        model,
        spec,
        fold_preprocessing=fold_preprocessing,
        source_size=source_size,
        detection_postprocess="graph",
    )
    ref_per = []
    for x in xs:
        y = fn(tf.convert_to_tensor(x[None]))
        ref_per.append([np.asarray(t, np.float32) for t in (y if isinstance(y, tuple) else (y,))])
    ref = [np.concatenate([p[i] for p in ref_per]) for i in range(len(ref_per[0]))]
    test = runner.run(xs)
    metrics = compare_outputs(spec.task, ref, test, options.quantize)
    lat = {}
    if check.latency_runs > 0:
        for t in check.threads:
            lat[f"{t} thread{'s' if t > 1 else ''}"] = latency(tflite, xs[:1], t, runs=check.latency_runs)
    return VerifyReport(
        path=str(tflite),
        size_bytes=tflite.stat().st_size,
        quantize=options.quantize,
        task=spec.task,
        inputs=[describe(runner.input)],
        outputs=[describe(d) for d in runner.outputs],
        num_images=len(imgs),
        image_source=str(check.images) if not isinstance(check.images, np.ndarray) else "array",
        metrics=metrics,
        latency_ms=lat,
    )
