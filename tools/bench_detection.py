"""Benchmark SSD300 on CPU in one run: forward + post-processing per image, NMS alone, and VGG16 for scale.

Prints one table: SSD300-VGG16 forward (batch 1), SSD300 post-processing (softmax, decoding,
per-class NMS of 8732 boxes x 21 classes, keep 200), SSD300 forward + post-processing per image,
NMS alone on random 8732 x 21 scores, and the VGG16 classifier's forward pass (224x224) with the
ratio of each figure to it. Median of ``--repeats`` timed calls after ``--warmup`` calls, compiled
(``predict_on_batch``) like ``zoo.detection.detect``. Optionally writes the table as JSON.

Example:
    python tools/bench_detection.py --repeats 10 --json runs/bench_detection.json
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.utils.timing import time_call


def _median_seconds(fn: Callable[[], Any], warmup: int, repeats: int) -> float:
    return time_call(fn, repeats=repeats, warmup=warmup)["median_ms"] / 1000.0


def run(repeats: int = 10, warmup: int = 2, num_classes: int = 21) -> list[dict[str, Any]]:
    """Times the four figures; returns the table rows (name, ms, ratio to VGG16)."""
    import zoo
    from zoo.detection.postprocess import DetectionPostprocess, detection_model
    from zoo.ops.nms import batched_nms

    rng = np.random.default_rng(0)
    ssd = zoo.get("ssd_vgg16", num_classes=num_classes, input_shape=(300, 300, 3))
    image = rng.uniform(0, 255, (1, 300, 300, 3)).astype("float32")
    n = ssd.default_boxes.shape[0]
    post_kw = dict(score_threshold=0.01, iou_threshold=0.45, max_detections=200, pre_nms_top_k=400)
    infer = detection_model(ssd, **post_kw)

    raw = ssd.predict_on_batch(image)
    logits_in = keras.Input((n, num_classes), name="class_logits")
    deltas_in = keras.Input((n, 4), name="box_deltas")
    post = DetectionPostprocess(n, (300, 300), anchors=ssd.default_boxes, **post_kw)
    post_model = keras.Model(
        [logits_in, deltas_in], post({"class_logits": logits_in, "box_deltas": deltas_in})
    )
    raw_inputs = [raw["class_logits"], raw["box_deltas"]]

    boxes_in = keras.Input((n, 4), name="boxes")
    scores_in = keras.Input((n, num_classes), name="scores")
    nms_out = keras.layers.Lambda(
        lambda t: batched_nms(
            t[0], t[1], max_detections=200, iou_threshold=0.45, score_threshold=0.01, pre_nms_top_k=None
        )  # fmt: skip
    )([boxes_in, scores_in])
    nms_model = keras.Model([boxes_in, scores_in], nms_out)
    xy = rng.uniform(0, 280, (1, n, 2))
    wh = rng.uniform(5, 120, (1, n, 2))
    boxes = np.concatenate([xy, xy + wh], -1).astype("float32")
    scores = rng.dirichlet(np.ones(num_classes), size=(1, n)).astype("float32")

    vgg = zoo.get("vgg16", weights=None, input_shape=(224, 224, 3))
    vgg_image = rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32")

    vgg_s = _median_seconds(lambda: vgg.predict_on_batch(vgg_image), warmup, repeats)
    rows = [
        ("VGG16 classifier forward (224x224, batch 1)", vgg_s),
        ("SSD300-VGG16 forward only (300x300, batch 1)", _median_seconds(lambda: ssd.predict_on_batch(image), warmup, repeats)),
        ("SSD300 post-processing (decode + NMS, 8732 boxes x 21 cls)", _median_seconds(lambda: post_model.predict_on_batch(raw_inputs), warmup, repeats)),
        ("SSD300 forward + post-processing per image", _median_seconds(lambda: infer.predict_on_batch(image), warmup, repeats)),
        ("NMS alone: 8732 boxes x 21 classes (all boxes, no top-k)", _median_seconds(lambda: nms_model.predict_on_batch([boxes, scores]), warmup, repeats)),
    ]  # fmt: skip
    return [{"name": name, "ms": round(s * 1000.0, 2), "x_vgg16": round(s / vgg_s, 2)} for name, s in rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--json", default=None, help="also write the table to this JSON file")
    args = p.parse_args(argv)
    rows = run(args.repeats, args.warmup)
    header = (
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
        f"backend {keras.backend.backend()}, median of {args.repeats} after {args.warmup} warm-up calls"
    )
    print(header)
    width = max(len(r["name"]) for r in rows)
    print(f"{'measure':<{width}}  {'ms':>10}  {'x VGG16':>8}")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['ms']:>10.2f}  {r['x_vgg16']:>8.2f}")
    if args.json:
        from zoo.utils.io import atomic_write_json

        atomic_write_json(Path(args.json), {"header": header, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
