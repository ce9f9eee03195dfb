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
    >>> report = verify_export(model, spec, "m.tflite", quantize="int8")
    >>> print(report.table())
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.export.representative import load_images


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


def _describe(d: dict[str, Any]) -> str:
    q = d.get("quantization", (0.0, 0))
    qs = f" q(scale={q[0]:.4g}, zp={q[1]})" if q and q[0] else ""
    return f"{d['name']} {list(int(v) for v in d['shape'])} {np.dtype(d['dtype']).name}{qs}"


def canonical_output_order(interpreter: Any) -> list[int]:
    """Positions in ``get_output_details()`` of the serving function's outputs 0, 1, 2, ...

    Files converted from a SavedModel signature list their outputs in an arbitrary order; the
    signature names them ``output_0`` ... in the order the function returned them. Files from a
    concrete function have no signature and keep the order.
    """
    details = interpreter.get_output_details()
    sigs = interpreter._get_full_signature_list()
    if not sigs:
        return list(range(len(details)))
    outs = next(iter(sigs.values()))["outputs"]
    names = sorted(outs, key=lambda n: (len(n), n))
    position = {d["index"]: i for i, d in enumerate(details)}
    return [position[outs[n]] for n in names]


class TFLiteRunner:
    """Runs a .tflite file with the ai-edge-litert interpreter (XNNPACK), one image at a time.

    Example:
        >>> outs = TFLiteRunner("m.tflite").run(x)   # list of float arrays, batch axis kept
    """

    def __init__(self, model: str | os.PathLike | bytes, num_threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        kw = {"model_content": model} if isinstance(model, (bytes, bytearray)) else {"model_path": str(model)}
        self.interpreter = Interpreter(num_threads=num_threads, **kw)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        details = self.interpreter.get_output_details()
        self.outputs = [details[i] for i in canonical_output_order(self.interpreter)]

    def _quantize_input(self, x: np.ndarray) -> np.ndarray:
        dtype = np.dtype(self.input["dtype"])
        scale, zp = self.input.get("quantization", (0.0, 0))
        if dtype in (np.uint8, np.int8) and x.dtype != dtype:
            if scale:
                x = np.round(x / scale + zp)
            info = np.iinfo(dtype)
            return np.clip(x, info.min, info.max).astype(dtype)
        return x.astype(dtype)

    def invoke(self, x: np.ndarray) -> list[np.ndarray]:
        """Runs one input ``[1, H, W, C]``; returns dequantized float outputs."""
        self.interpreter.set_tensor(self.input["index"], self._quantize_input(x))
        self.interpreter.invoke()
        outs = []
        for d in self.outputs:
            y = self.interpreter.get_tensor(d["index"])
            scale, zp = d.get("quantization", (0.0, 0))
            if np.dtype(d["dtype"]) in (np.uint8, np.int8) and scale:
                y = (y.astype(np.float32) - zp) * scale
            outs.append(np.asarray(y, np.float32))
        return outs

    def run(self, xs: np.ndarray) -> list[np.ndarray]:
        """Runs each of ``xs`` ``[N, H, W, C]``; outputs concatenated over N."""
        per = [self.invoke(x[None]) for x in xs]
        return [np.concatenate([p[i] for p in per]) for i in range(len(per[0]))]

    def latency(self, x: np.ndarray, runs: int = 10, warmup: int = 2) -> dict[str, float]:
        """Median and p90 (ms) of ``runs`` invocations after ``warmup`` untimed ones."""
        q = self._quantize_input(x)
        for _ in range(warmup):
            self.interpreter.set_tensor(self.input["index"], q)
            self.interpreter.invoke()
        times = []
        for _ in range(max(1, runs)):
            self.interpreter.set_tensor(self.input["index"], q)
            t0 = time.perf_counter()
            self.interpreter.invoke()
            times.append((time.perf_counter() - t0) * 1000.0)
        return {"median": float(np.median(times)), "p90": float(np.percentile(times, 90)), "runs": len(times)}


def latency(
    model: str | os.PathLike | bytes, x: np.ndarray, threads: int, runs: int = 10
) -> dict[str, float]:
    """LiteRT latency of one input ``x`` ``[1, H, W, C]`` with ``threads`` threads (ms)."""
    return TFLiteRunner(model, num_threads=threads).latency(x, runs=runs)


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
    xyxy = [1, 0, 3, 2]
    for i, (nr, nt) in enumerate(zip(counts_r, counts_t)):
        ev.add_image(
            det_boxes=boxes_t[i, :nt][:, xyxy],
            det_scores=sc_t[i, :nt],
            det_classes=cls_t[i, :nt].astype(np.int64),
            gt_boxes=boxes_r[i, :nr][:, xyxy],
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


def verify_export(
    model: Any,
    spec: Any,
    tflite: str | os.PathLike,
    *,
    quantize: str,
    fold_preprocessing: bool = False,
    source_size: tuple[int, int] | None = None,
    images: Any = "photos",
    num_images: int = 20,
    latency_runs: int = 10,
    threads: tuple[int, ...] = (1, 2),
    data_dir: str | None = None,
) -> VerifyReport:
    """Compares ``tflite`` with ``model`` on ``num_images`` images and times it.

    Args:
        model: the Keras model that was exported; spec: its ``ExportSpec``.
        tflite: the exported file.
        quantize, fold_preprocessing, source_size: as given to the export.
        images: image source (see :func:`zoo.export.representative.load_images`).
        num_images: N images compared.
        latency_runs: timed runs per thread count (0 skips timing).
        threads: thread counts to time.

    Example:
        >>> print(verify_export(model, spec, "m.tflite", quantize="none").table())
    """
    import tensorflow as tf

    from zoo.export.litert import model_input, serving_function

    tflite = Path(tflite)
    runner = TFLiteRunner(tflite)
    shape = [int(v) for v in runner.input["shape"]]
    imgs = load_images(images, num_images, (shape[1], shape[2]), seed=1234, data_dir=data_dir)
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
    metrics = compare_outputs(spec.task, ref, test, quantize)
    lat = {}
    if latency_runs > 0:
        for t in threads:
            lat[f"{t} thread{'s' if t > 1 else ''}"] = latency(tflite, xs[:1], t, runs=latency_runs)
    return VerifyReport(
        path=str(tflite),
        size_bytes=tflite.stat().st_size,
        quantize=quantize,
        task=spec.task,
        inputs=[_describe(runner.input)],
        outputs=[_describe(d) for d in runner.outputs],
        num_images=len(imgs),
        image_source=str(images) if not isinstance(images, np.ndarray) else "array",
        metrics=metrics,
        latency_ms=lat,
    )
