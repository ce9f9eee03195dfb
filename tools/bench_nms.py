"""Times ``zoo.ops.nms.batched_nms`` on SSD300's output size (8732 boxes x 21 classes) on this machine.

Usage: python tools/bench_nms.py [--repeats 10] [--json out.json]
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

from zoo.ops.nms import batched_nms
from zoo.utils.io import atomic_write_json
from zoo.utils.timing import time_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", default=None, help="also write the table as JSON")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 300, (8732, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(4, 150, (8732, 2))], -1).astype(np.float32)[None]
    # "uniform": softmax of N(0, 3^2) logits, so most class scores pass the 0.01 threshold (worst case);
    # "trained-like": background dominates except on 200 boxes (a trained detector's typical output).
    logits = rng.normal(size=(1, 8732, 21)).astype(np.float32) * 3
    peaked = logits.copy()
    peaked[..., 0] += 12.0
    peaked[0, rng.choice(8732, 200, replace=False), 0] -= 14.0
    cases = {
        "uniform": np.exp(logits) / np.exp(logits).sum(-1, keepdims=True),
        "trained-like": np.exp(peaked) / np.exp(peaked).sum(-1, keepdims=True),
    }
    if keras.backend.backend() == "jax":
        import jax

        compile_fn = jax.jit
    else:
        import tensorflow as tf

        compile_fn = tf.function
    rows = []
    for case, scores in cases.items():
        for top_k in (400, 200):
            fn = compile_fn(
                lambda b, s, k=top_k: batched_nms(
                    b, s, max_detections=200, iou_threshold=0.45, score_threshold=0.01, pre_nms_top_k=k
                )
            )
            n = int(keras.ops.convert_to_numpy(fn(boxes, scores)["num_detections"])[0])  # trace / compile
            timed = time_call(
                lambda fn=fn, s=scores: keras.ops.convert_to_numpy(fn(boxes, s)["num_detections"]),
                repeats=args.repeats,
                warmup=0,
            )
            rows.append({"scores": case, "pre_nms_top_k": top_k, "detections": n, **timed})
    print(
        f"batched_nms, 1 image, 8732 boxes x 21 classes (20 + background), backend {keras.backend.backend()}"
    )
    print(f"{'scores':>13} {'pre_nms_top_k':>14} {'detections':>10} {'median ms':>10} {'min ms':>8}")
    for r in rows:
        print(
            f"{r['scores']:>13} {r['pre_nms_top_k']:>14} {r['detections']:>10} "
            f"{r['median_ms']:>10.1f} {r['min_ms']:>8.1f}"
        )
    if args.json:
        atomic_write_json(args.json, {"backend": keras.backend.backend(), "rows": rows})


if __name__ == "__main__":
    main()
